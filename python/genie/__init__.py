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
``sem`` modules (and runs them eagerly). The ``torch.compile(model,
backend="genie")`` backend arrives with the runtime; it is not registered yet.
"""

from ._genie import IRError, Module, __version__, disassemble, import_fx, list_ops, list_passes, parse

__all__ = ["IRError", "Module", "__version__", "disassemble", "import_fx", "list_ops", "list_passes", "parse", "capture"]


def capture(fn, *args, dynamic=None, **kwargs):
    """Capture ``fn(*args, **kwargs)`` as verified ``sem`` modules (see
    ``genie.graph_capture``); returns ``(result, graphs)``."""
    from .graph_capture import capture as _capture

    return _capture(fn, *args, dynamic=dynamic, **kwargs)
