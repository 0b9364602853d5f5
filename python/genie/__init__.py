"""Genie: run unmodified PyTorch programs on network-attached accelerators.

Genie is a compiler toolchain and small runtime. It captures a PyTorch program as a
graph, recovers its meaning (model structure, execution phase, weights, KV cache,
activations, modality) in its ``sem`` IR dialect, and uses that meaning to decide
what runs where, what stays resident on the remote device and what crosses the
network.

This package currently exposes the IR and the pass pipeline::

    import genie
    m = genie.parse(text)                      # MLIR text -> genie.Module
    m.run_passes("genie-sem-canonicalize,genie-cse")
    print(m)                                   # or m.print(generic=True)

``genie.capture(model, *args)`` imports the graphs TorchDynamo captures into
``sem`` modules (and runs them eagerly). ``torch.compile(model,
backend="genie")`` compiles them to plans and runs them on the embedded CPU
runtime (see ``genie.backend`` for what runs today).
"""

from ._genie import IRError, Module, Program, RemoteError, __version__, default_target, disassemble, import_fx, list_ops, list_passes, parse

__all__ = [
    "IRError",
    "analyze",
    "Module",
    "Program",
    "default_target",
    "RemoteError",
    "RemoteTensor",
    "UnsupportedOpError",
    "__version__",
    "backend",
    "capture",
    "disassemble",
    "import_fx",
    "list_ops",
    "list_passes",
    "parse",
    "stats",
]


def __getattr__(name):
    # genie.backend and genie.UnsupportedOpError import torch: load on use.
    if name == "analyze":
        from .analyze import analyze

        # Importing the submodule bound `genie.analyze` to it; the function wins.
        globals()["analyze"] = analyze
        return analyze
    if name == "backend":
        from . import backend

        return backend
    if name == "RemoteTensor":
        from .remote import RemoteTensor

        return RemoteTensor
    if name == "UnsupportedOpError":
        from .graph_capture import UnsupportedOpError

        return UnsupportedOpError
    raise AttributeError(f"module 'genie' has no attribute {name!r}")


def stats():
    """What crossed the network to remote runtimes, cumulative for this
    process (see ``genie.remote.stats``); zeros when nothing ran remotely."""
    from .remote import stats as _stats

    return _stats()


def capture(fn, *args, dynamic=None, **kwargs):
    """Capture ``fn(*args, **kwargs)`` as verified ``sem`` modules (see
    ``genie.graph_capture``); returns ``(result, graphs)``."""
    from .graph_capture import capture as _capture

    return _capture(fn, *args, dynamic=dynamic, **kwargs)
