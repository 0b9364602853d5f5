"""Capture a PyTorch program as `sem` modules, without running it anywhere new.

``genie.capture(model, *args)`` compiles ``model`` with TorchDynamo and
aot_autograd (core ATen decompositions), exports every graph Dynamo hands over
(forward, and backward when the call needs gradients), imports each into a
verified ``sem`` module, and runs the graphs eagerly so the call returns what
eager PyTorch returns. It is the front half of the ``genie`` backend, usable on
its own to inspect or dump what Genie sees.

``GENIE_DUMP_DIR=<dir>`` writes each captured graph there as
``<n>_<name>.mlir`` (custom form), so ``genie-opt`` can replay any step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

import torch

from ._genie import Module, import_fx
from .fx_export import export_graph


@dataclass
class CapturedGraph:
    """One graph: its kind ("forward", "backward", "inference"), the FX graph
    module, the exchange-format JSON and the imported ``sem`` module."""

    kind: str
    fx: torch.fx.GraphModule
    json: str
    module: Module


class Capture:
    """A torch.compile backend that imports every graph it is given."""

    def __init__(self, dump_dir: Optional[str] = None, collect_errors: bool = False):
        self.graphs: List[CapturedGraph] = []
        self.dump_dir = dump_dir if dump_dir is not None else os.environ.get("GENIE_DUMP_DIR")
        # With collect_errors, a graph that fails to import is recorded here
        # (kind, message) and still runs eagerly, instead of raising.
        self.collect_errors = collect_errors
        self.errors: List[tuple] = []

    def _compiler(self, kind: str) -> Callable:
        from functorch.compile import make_boxed_func

        def compile_fn(gm: torch.fx.GraphModule, example_inputs):
            try:
                text = export_graph(gm, kind)
                module = import_fx(text)
            except Exception as e:  # noqa: BLE001 - reported or re-raised below
                if not self.collect_errors:
                    raise
                self.errors.append((kind, f"{type(e).__name__}: {e}"))
                return make_boxed_func(gm.forward)
            self.graphs.append(CapturedGraph(kind, gm, text, module))
            if self.dump_dir:
                os.makedirs(self.dump_dir, exist_ok=True)
                path = os.path.join(self.dump_dir, f"{len(self.graphs) - 1:03d}_{kind}.mlir")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(module.print())
            return make_boxed_func(gm.forward)

        return compile_fn

    def backend(self):
        from torch._decomp import core_aten_decompositions
        from torch._dynamo.backends.common import aot_autograd

        return aot_autograd(
            fw_compiler=self._compiler("forward"),
            bw_compiler=self._compiler("backward"),
            inference_compiler=self._compiler("inference"),
            decompositions=core_aten_decompositions(),
        )


def capture(fn: Callable, *args: Any, dynamic: Optional[bool] = None, **kwargs: Any):
    """Run ``fn(*args, **kwargs)`` under capture; returns ``(result, graphs)``.

    Call ``.backward()`` on the result yourself to capture backward graphs;
    they are appended to the same list as autograd runs them.
    """
    cap = Capture()
    torch._dynamo.reset()
    compiled = torch.compile(fn, backend=cap.backend(), dynamic=dynamic)
    result = compiled(*args, **kwargs)
    return result, cap.graphs
