"""Capture a PyTorch program as `sem` modules, without running it anywhere new.

``genie.capture(model, *args)`` compiles ``model`` with TorchDynamo and
aot_autograd (core ATen decompositions), exports every graph Dynamo hands over
(forward, and backward when the call needs gradients), imports each into a
verified ``sem`` module, and runs the graphs eagerly so the call returns what
eager PyTorch returns. It is the front half of the ``genie`` backend, usable on
its own to inspect or dump what Genie sees.

Compiling is one call into Rust (``Module.compile``: the phases ``sem`` →
``annotate`` → ``exec`` → ``plan`` for a target); this module captures
graphs and binds tensors, and decides nothing about placement.

``GENIE_DUMP_DIR=<dir>`` writes, for each captured graph ``<n>_<kind>``: the
imported IR (``.mlir``), the IR after each phase (``.sem.mlir``,
``.annotate.mlir``, ``.exec.mlir``: what ``genie-opt <n>_<kind>.mlir
--compile-to=<phase>`` prints) and the plan's disassembly (``.plan.txt``),
so ``genie-opt`` can replay any step.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

import torch

from ._genie import Executable, IRError, Module, import_fx
from .fx_export import ExportError, _fetch_attr, export_graph, weight_inputs

log = logging.getLogger("genie")


class UnsupportedOpError(IRError):
    """A graph uses an op Genie's runtime cannot run (with `fallback="error"`)."""

def _use_torch_blas() -> None:
    """Runs the runtime's matrix products on the BLAS PyTorch carries (MKL on
    x86 wheels) rather than OpenBLAS: the same kernels and OpenMP threads as
    eager, so the two never spin against each other on the same cores
    (docs/benchmarks.md: GPT-2 decode 0.98x eager against 1.38x on OpenBLAS,
    ResNet-18 1.02x against 1.15x). ``GENIE_BLAS=openblas`` keeps OpenBLAS."""
    if os.environ.get("GENIE_BLAS", "torch") != "torch":
        return
    from ._genie import use_host_blas

    lib = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        use_host_blas(lib)
    except IRError as e:
        log.info("genie: using OpenBLAS (%s)", e)


_use_torch_blas()


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

    def __init__(
        self,
        dump_dir: Optional[str] = None,
        collect_errors: bool = False,
        execute: bool = False,
        fallback: str = "eager",
        remote: Optional[dict] = None,
    ):
        self.graphs: List[CapturedGraph] = []
        self.dump_dir = dump_dir if dump_dir is not None else os.environ.get("GENIE_DUMP_DIR")
        # With collect_errors, a graph that fails to import is recorded here
        # (kind, message) and still runs eagerly, instead of raising.
        self.collect_errors = collect_errors
        self.errors: List[tuple] = []
        # With execute, graphs run on the embedded CPU runtime; a graph the
        # runtime cannot run yet falls back to eager, logged once per reason.
        self.execute = execute
        if fallback not in ("eager", "error"):
            raise ValueError(f"fallback must be 'eager' or 'error', not {fallback!r}")
        self.fallback = fallback
        self.fallbacks: List[str] = []
        # Calls served by the runtime (not eager).
        self.runtime_calls = 0
        # The loaded plans, one per graph run on the runtime (for profiling).
        self.executables: List[Executable] = []
        self.profile = os.environ.get("GENIE_PROFILE") == "1"
        # With a remote (options {"remote": url} or GENIE_REMOTE), plans run
        # on that server (see genie.remote); otherwise in this process.
        self.remote = remote

    def _compiler(self, kind: str) -> Callable:
        from functorch.compile import make_boxed_func

        def compile_fn(gm: torch.fx.GraphModule, example_inputs):
            try:
                text = export_graph(gm, kind, weight_inputs(kind))
                module = import_fx(text)
            except Exception as e:  # noqa: BLE001 - reported or re-raised below
                if self.collect_errors:
                    self.errors.append((kind, f"{type(e).__name__}: {e}"))
                    return make_boxed_func(gm.forward)
                if self.execute and isinstance(e, (IRError, ExportError)):
                    # An op Genie cannot import: the same policy as an op the
                    # runtime cannot run.
                    return make_boxed_func(self._unsupported(gm, e))
                raise
            self.graphs.append(CapturedGraph(kind, gm, text, module))
            if self.dump_dir:
                self._dump(f"{len(self.graphs) - 1:03d}_{kind}", module)
            if self.execute:
                runner = self._runner(gm, module, weight_inputs(kind))
                if runner is not None:
                    return make_boxed_func(runner)
            return make_boxed_func(gm.forward)

        return compile_fn

    def _runner(self, gm: torch.fx.GraphModule, module: Module, weights=()):
        """A callable running the graph's plan, or None to stay eager."""
        remote = None
        if self.remote is not None:
            from . import remote as remote_mod

            remote = remote_mod.connection(self.remote)
        try:
            program = module.compile(target=remote.target if remote is not None else None)
            (plan,) = program.plans
            manifest = json.loads(program.manifests[0])
            if remote is not None:
                return self._remote_runner(gm, remote, plan, manifest)
            exe = Executable(plan)
            exe.set_profiling(self.profile)
            self.executables.append(exe)
        except IRError as e:
            runner = self._unsupported(gm, e)
            return None if runner is gm.forward else runner
        targets = {t.replace(".", "_"): t for t in (node.target for node in gm.graph.nodes if node.op == "get_attr")}
        bound = []

        def run(*args):
            # Constants are bound (by reference) on the first call: compilation
            # runs under fake tensors, whose data cannot be touched.
            if not bound:
                for handle in exe.constants():
                    exe.bind(handle, _fetch_attr(gm, targets[handle]).detach())
                bound.append(True)
            outs = exe.run(args)
            self.runtime_calls += 1
            return outs

        return run

    def _remote_runner(self, gm: torch.fx.GraphModule, conn, plan: bytes, manifest: dict) -> Callable:
        from . import remote

        targets = {t.replace(".", "_"): t for t in (node.target for node in gm.graph.nodes if node.op == "get_attr")}
        handles = Executable(plan).constants()

        def constants():
            return {h: _fetch_attr(gm, targets[h]).detach() for h in handles}

        remote_plan = remote.RemotePlan(conn, plan, manifest, constants)

        def run(*args):
            outs = remote_plan(*args)
            self.runtime_calls += 1
            return outs

        return run

    def _unsupported(self, gm: torch.fx.GraphModule, e: Exception) -> Callable:
        """What runs a graph Genie cannot: eager PyTorch (logged once per
        reason), or with ``fallback="error"`` a function raising
        ``UnsupportedOpError`` when called, so the caller sees that error
        itself rather than Dynamo's compile-failure wrapper."""
        if self.fallback == "error":
            error = e if isinstance(e, UnsupportedOpError) else UnsupportedOpError(str(e))

            def refuse(*args):
                raise error

            return refuse
        reason = str(e).splitlines()[0]
        if reason not in self.fallbacks:
            self.fallbacks.append(reason)
            log.warning("genie: running a graph eagerly: %s", reason)
        return gm.forward

    def _dump(self, stem: str, module: Module) -> None:
        from ._genie import disassemble

        os.makedirs(self.dump_dir, exist_ok=True)
        files = [(".mlir", module.print())]
        try:
            program = module.compile(keep_phases=True)
            plans, phases = program.plans, program.phases
        except IRError as e:
            files.append((".error.txt", str(e) + "\n"))
        else:
            files += [(f".{phase}.mlir", text) for phase, text in phases if phase != "input"]
            files.append((".plan.txt", "".join(disassemble(p) for p in plans)))
        for suffix, content in files:
            with open(os.path.join(self.dump_dir, stem + suffix), "w", encoding="utf-8") as f:
                f.write(content)

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
