"""``genie.analyze(model, *args, **kwargs)``: what a model is, without running it.

The model is traced by TorchDynamo + aot_autograd exactly as
``torch.compile(backend="genie")`` would, with fake tensors: the model is
copied with its parameters and buffers replaced by fake tensors of the same
shapes (no weight is copied), and so are the inputs, so nothing is allocated
or computed; a model built on the ``meta`` device works the same way. Each captured graph is imported into
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
    # The captured graphs as `sem` modules (not part of the JSON).
    sem_modules: List[Any] = field(default_factory=list, repr=False)

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


class _Faker:
    """Replaces tensors by fake CPU tensors of the same shapes and dtypes.

    Fake tensors carry metadata only (nothing is allocated or computed) and
    make Dynamo trace as it does for CPU tensors; tracing with ``meta``
    tensors instead would give a few ops the shapes of PyTorch's meta
    kernels, which model CUDA (batch-norm statistics), not the CPU graphs
    Genie compiles."""

    def __init__(self):
        from torch._subclasses.fake_tensor import FakeTensorMode

        self.mode = FakeTensorMode(allow_non_fake_inputs=True)
        self.memo: Dict[int, Any] = {}

    def tensor(self, t: torch.Tensor) -> torch.Tensor:
        if id(t) not in self.memo:
            with self.mode:
                fake = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="cpu")
            if isinstance(t, torch.nn.Parameter):
                fake = torch.nn.Parameter(fake, requires_grad=t.requires_grad)
            self.memo[id(t)] = fake
        return self.memo[id(t)]

    def __call__(self, x: Any, depth: int = 0) -> Any:
        if isinstance(x, torch.Tensor):
            return self.tensor(x)
        if isinstance(x, tuple) and hasattr(x, "_fields"):  # a named tuple
            return type(x)(*(self(v, depth) for v in x))
        if isinstance(x, (list, tuple)):
            return type(x)(self(v, depth) for v in x)
        if isinstance(x, dict):
            return {k: self(v, depth) for k, v in x.items()}
        if depth < 3 and hasattr(x, "__dict__") and not isinstance(x, (type, torch.nn.Module)) and type(x).__module__.split(".")[0] != "builtins":
            # A container object such as a KV cache: a shallow copy holding
            # fake tensors.
            try:
                y = copy.copy(x)
                for k, v in vars(x).items():
                    setattr(y, k, self(v, depth + 1))
                return y
            except (AttributeError, TypeError):  # read-only objects (enums, …): as they are
                return x
        return x

    def model(self, model: torch.nn.Module) -> torch.nn.Module:
        """A copy of the model whose parameters and buffers are fake
        (deepcopy's memo maps each one to its fake twin: no weight is copied)."""
        for t in list(model.parameters()) + list(model.buffers()):
            self.tensor(t)
        return copy.deepcopy(model, dict(self.memo))


def analyze(
    model: Any, *args: Any, rules_dirs: Sequence[str] = (), train: bool = False, dynamic: Optional[bool] = None, **kwargs: Any
) -> Report:
    """Trace ``model(*args, **kwargs)`` with fake tensors and analyse its graphs.

    ``train=True`` traces a training step (forward and backward graphs);
    otherwise the call runs under ``torch.no_grad()`` (inference graphs)."""
    from ._genie import analyze_modules
    from .graph_capture import Capture

    fake = _Faker()
    target = fake.model(model) if isinstance(model, torch.nn.Module) else model
    args, kwargs = fake(args), fake(kwargs)
    cap = Capture(dump_dir="", collect_errors=True)
    torch._dynamo.reset()
    try:
        compiled = torch.compile(target, backend=cap.backend(), dynamic=dynamic)
        with torch.set_grad_enabled(train):
            out = compiled(*args, **kwargs)
        if train:
            # The backward graph too (fake tensors: nothing runs).
            loss = out if isinstance(out, torch.Tensor) else getattr(out, "loss", None)
            if loss is None and hasattr(out, "logits"):
                loss = out.logits
            if isinstance(loss, torch.Tensor) and loss.requires_grad:
                loss.sum().backward()
    finally:
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
        sem_modules=[g.module for g in cap.graphs],
    )
    if report.workload == "unknown":
        log.info("genie.analyze: workload unknown (conservative plan): %s", "; ".join(report.why))
    return report
