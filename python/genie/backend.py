"""The ``genie`` backend for ``torch.compile``.

Registered through the ``torch_dynamo_backends`` entry point, so
``torch.compile(model, backend="genie")`` works without importing genie.
Each graph TorchDynamo captures goes through aot_autograd (core ATen
decompositions) and Genie's compiler (FX import → ``sem`` pipeline → plan
bytecode) and runs on the embedded CPU runtime, or on a remote
``genie-runtime serve`` (see ``genie.remote``).

Options (``torch.compile(..., options={...})``):

* ``"fallback": "eager"`` (default): a graph with an op the runtime cannot run
  yet runs eagerly instead; genie logs once which op, and where.
* ``"fallback": "error"``: raise ``genie.UnsupportedOpError`` instead.
* ``"remote": "tcp://host:port"`` (or ``unix:///path``; default
  ``$GENIE_REMOTE``): run plans on that server. ``"token"`` /
  ``"token_file"`` (or ``$GENIE_REMOTE_TOKEN`` / ``$GENIE_REMOTE_TOKEN_FILE``)
  authenticate; ``"tls_ca"`` (or ``$GENIE_REMOTE_TLS_CA``) is the PEM
  certificate to trust for ``tls://host:port``; ``"timeout"`` bounds a
  silent server (seconds, default 60). ``"target": "pool.toml"`` names the
  target file (devices and links, see ``docs/targets.md``) the compiler
  places graphs on; by default one CPU behind the server over a 10 Gb/s,
  25 µs link. ``"remote_mode"`` selects a registered
  :class:`genie.remote.Mode`: the benchmarks' semantics-blind baselines
  (``benches/network/baselines.py``), not for use.

With Hugging Face ``generate()``, compile in place
(``model.compile(backend="genie", ...)``): ``torch.compile(model).generate()``
runs the eager forward.
"""

from .graph_capture import Capture, UnsupportedOpError

__all__ = ["genie", "UnsupportedOpError"]


def genie(gm, example_inputs, options=None):
    from .remote import remote_url

    opts = dict(options or {})
    known = {"fallback", "remote", "target", "token", "token_file", "timeout", "tls_ca", "remote_mode"}
    unknown = set(opts) - known
    if unknown:
        raise ValueError(f"genie backend: unknown options {sorted(unknown)} (known: {', '.join(sorted(known))})")
    remote = opts if remote_url(opts) else None
    cap = Capture(execute=True, fallback=opts.get("fallback", "eager"), remote=remote)
    return cap.backend()(gm, example_inputs)
