"""The ``genie`` backend for ``torch.compile``.

Registered through the ``torch_dynamo_backends`` entry point, so
``torch.compile(model, backend="genie")`` works without importing genie.
Each graph TorchDynamo captures goes through aot_autograd (core ATen
decompositions) and Genie's compiler (FX import → ``sem`` pipeline → plan
bytecode) and runs on the embedded CPU runtime.

Options (``torch.compile(..., options={...})``):

* ``"fallback": "eager"`` (default): a graph with an op the runtime cannot run
  yet runs eagerly instead; genie logs once which op, and where.
* ``"fallback": "error"``: raise ``genie.UnsupportedOpError`` instead.

What runs today: inference graphs of GPT-2 (with KV-cache decode and
dynamic shapes), BERT, LLaMA-style decoders, ResNet, EfficientNet, ViT and
CLIP in f32/f64/i64/i32/bool. Whole graphs fall back (not just the
unsupported part): embedding bags (DLRM), training graphs and f16/bf16 run
eagerly for now, and tensors are copied at the boundary.
"""

from .graph_capture import Capture, UnsupportedOpError

__all__ = ["genie", "UnsupportedOpError"]


def genie(gm, example_inputs, options=None):
    from .remote import remote_url

    opts = dict(options or {})
    known = {"fallback", "remote", "token", "token_file", "timeout"}
    unknown = set(opts) - known
    if unknown:
        raise ValueError(f"genie backend: unknown options {sorted(unknown)} (known: {', '.join(sorted(known))})")
    remote = opts if remote_url(opts) else None
    cap = Capture(execute=True, fallback=opts.get("fallback", "eager"), remote=remote)
    return cap.backend()(gm, example_inputs)
