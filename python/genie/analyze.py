"""``genie.analyze(model, *args, **kwargs)``: what a model is, without running it.

The model is traced by TorchDynamo + aot_autograd exactly as
``torch.compile(backend="genie")`` would, but on the ``meta`` device: a model
already on ``meta`` is used as is; any other model is shallow-copied with its
parameters and buffers replaced by ``meta`` tensors of the same shapes (no
weight is copied, nothing is computed). Each captured graph is imported into
``sem`` and analysed by the pattern engine (crate ``genie-patterns``)::

    report = genie.analyze(model, input_ids)
    report.workload, report.confidence     # "llm", 0.97
    report.phase                           # {"inference": "prefill"}
    report.patterns                        # {"attention": 12, "mlp": 12, ...}
    report.modules["transformer.h.0.attn"] # {"roles": [...], "modality": [...], ...}
    print(report)                          # a table
    report.to_json()

Extra rule directories (``rules_dirs=[...]``, or ``GENIE_RULES_DIR``) add or
replace patterns without rebuilding. The analysis only reads graphs: it never
changes what a model computes.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import torch

log = logging.getLogger("genie")


@dataclass
class Report:
    workload: str
    confidence: float
    phase: Dict[str, str]
    patterns: Dict[str, int]
    modules: Dict[str, Dict[str, List[str]]]
    why: List[str]
    graphs: List[Dict[str, Any]] = field(default_factory=list)
    rules_version: str = ""
    errors: List[tuple] = field(default_factory=list)

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(
            {
                "workload": self.workload,
                "confidence": self.confidence,
                "phase": self.phase,
                "patterns": self.patterns,
                "modules": self.modules,
                "why": self.why,
                "rules_version": self.rules_version,
                "graphs": self.graphs,
                "errors": [list(e) for e in self.errors],
            },
            indent=indent,
        )

    def __str__(self) -> str:
        lines = [f"workload   {self.workload}  (confidence {self.confidence:.2f}, rules {self.rules_version})"]
        for name, phase in self.phase.items():
            lines.append(f"phase      {name}: {phase}")
        lines.append("patterns   " + (", ".join(f"{k} x{v}" for k, v in sorted(self.patterns.items())) or "none"))
        for reason in self.why:
            lines.append(f"why        {reason}")
        if self.modules:
            width = max(len(k) for k in self.modules)
            lines.append(f"{'module':<{width}}  {'roles':<28} {'modality':<16} patterns")
            for path, info in sorted(self.modules.items()):
                lines.append(
                    f"{path:<{width}}  {','.join(info['roles']):<28} {','.join(info['modality']):<16} {','.join(info['patterns'])}"
                )
        return "\n".join(lines)


def _to_meta(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return torch.empty_like(x, device="meta").requires_grad_(x.requires_grad)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_meta(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_meta(v) for k, v in x.items()}
    return x


_fake_mode_init = None


def _allow_meta_constants(on: bool) -> None:
    """Tensors a model creates while it is traced (Hugging Face caches start
    as ``torch.tensor([])`` on the model's device) are real ``meta`` tensors,
    which Dynamo's fake mode refuses by default; they hold no data, so while
    analysing, the fake modes Dynamo creates accept them."""
    global _fake_mode_init
    from torch._subclasses.fake_tensor import FakeTensorMode

    if on and _fake_mode_init is None:
        _fake_mode_init = FakeTensorMode.__init__

        def init(self, *args, **kwargs):
            kwargs["allow_non_fake_inputs"] = True
            _fake_mode_init(self, *args, **kwargs)

        FakeTensorMode.__init__ = init
    elif not on and _fake_mode_init is not None:
        FakeTensorMode.__init__ = _fake_mode_init
        _fake_mode_init = None


def _meta_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model itself when on meta; otherwise a copy whose parameters and
    buffers are meta tensors (deepcopy's memo maps each one to its meta twin,
    so no weight data is copied)."""
    tensors = list(model.parameters()) + list(model.buffers())
    if all(t.device.type == "meta" for t in tensors):
        return model
    memo: Dict[int, Any] = {}
    for p in model.parameters():
        memo[id(p)] = torch.nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in model.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(model, memo)


def analyze(
    model: Any, *args: Any, rules_dirs: Sequence[str] = (), train: bool = False, dynamic: Optional[bool] = None, **kwargs: Any
) -> Report:
    """Trace ``model(*args, **kwargs)`` on the meta device and analyse its graphs.

    ``train=True`` traces a training step (forward and backward graphs);
    otherwise the call runs under ``torch.no_grad()`` (inference graphs)."""
    from ._genie import analyze_modules
    from .graph_capture import Capture

    target = _meta_model(model) if isinstance(model, torch.nn.Module) else model
    args, kwargs = _to_meta(args), _to_meta(kwargs)
    cap = Capture(dump_dir=None, collect_errors=True)
    torch._dynamo.reset()
    try:
        _allow_meta_constants(True)
        compiled = torch.compile(target, backend=cap.backend(), dynamic=dynamic)
        with torch.set_grad_enabled(train):
            out = compiled(*args, **kwargs)
        if train:
            # The backward graph too (on meta, so nothing runs).
            loss = out if isinstance(out, torch.Tensor) else getattr(out, "loss", None)
            if loss is None and hasattr(out, "logits"):
                loss = out.logits
            if isinstance(loss, torch.Tensor) and loss.requires_grad:
                loss.sum().backward()
    finally:
        _allow_meta_constants(False)
        torch._dynamo.reset()
    for kind, msg in cap.errors:
        log.warning("genie.analyze: a %s graph could not be imported: %s", kind, msg.splitlines()[0])
    if not cap.graphs:
        return Report("unknown", 0.0, {}, {}, {}, ["no graph captured"], errors=cap.errors)
    data = json.loads(analyze_modules([g.module for g in cap.graphs], list(rules_dirs)))
    phase: Dict[str, str] = {}
    patterns: Dict[str, int] = {}
    modules: Dict[str, Dict[str, List[str]]] = {}
    for i, (g, f) in enumerate(zip(cap.graphs, data["functions"])):
        phase[f"{i}_{g.kind}"] = f["phase"]
        for k, v in f["patterns"].items():
            patterns[k] = patterns.get(k, 0) + v
        for path, info in f["modules"].items():
            into = modules.setdefault(path, {"roles": [], "modality": [], "patterns": []})
            for key in into:
                into[key] += [x for x in info[key] if x not in into[key]]
    report = Report(
        workload=data["workload"],
        confidence=data["confidence"],
        phase=phase,
        patterns=patterns,
        modules=modules,
        why=data["why"],
        graphs=data["functions"],
        rules_version=data["rules_version"],
        errors=cap.errors,
    )
    if report.workload == "unknown":
        log.info("genie.analyze: workload unknown (conservative plan): %s", "; ".join(report.why))
    return report
