"""Running compiled graphs on a remote ``genie-runtime serve``.

``torch.compile(model, backend="genie", options={"remote": "tcp://host:port"})``
(or ``GENIE_REMOTE=...``) sends each compiled graph's plan to the server and
runs it there. What crosses the network is decided by what the program does:

* plans and weights are uploaded once, by content hash (a second process
  using the same model uploads nothing);
* where each graph output lives is the compiler's decision (``genie-place``,
  from what the analysis recovered; the plan's manifest says it): a KV cache
  or an LLM step's logits stay on the server and the program receives a
  :class:`RemoteTensor` for them — passed back into a later call, one
  travels as a handle of a few bytes — while an inference result, a loss
  or anything smaller than a round trip's worth of bytes comes back;
* eager PyTorch ops on remote tensors (``logits[:, -1, :].argmax(-1)``) are
  recorded, not run; when the program reads a result (``.item()``,
  ``.tolist()``, ``.cpu()``, ``print``, numpy, an ``if``), the recorded ops run
  on the server as one small graph and only the result comes back. Reading
  a tensor ends its recorded history: later ops on it run on its local copy.

``genie.stats()`` says what crossed the wire.
"""


from .connection import Connection, Mode, connection, register_mode, remote_url, stats
from .plans import RemotePlan
from .recorded import handle_of, materialize
from .tensor import RemoteTensor

__all__ = ["Connection", "Mode", "RemotePlan", "RemoteTensor", "connection", "handle_of", "materialize", "register_mode", "remote_url", "stats"]
