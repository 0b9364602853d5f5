"""The network suite's semantics-blind baselines, on Genie's own client,
server and kernels, so that only what they know differs:

* ``stateless`` (``options={"remote_mode": "stateless"}``): the same
  compiled graphs, but every output comes back and so every input travels
  on the next call, a KV cache included: graph remoting that ignores what
  the program is.
* ``op_by_op`` (``"remote_mode": "op_by_op"``, the weights placed with
  :func:`pin_module`): the driver-API style of rCUDA or Bitfusion, one
  synchronous request per PyTorch op, every result kept on the server.

Importing this module registers both modes.
"""

from typing import Any, Dict, List, Sequence

import torch
from torch.fx.experimental.proxy_tensor import make_fx

from genie.remote import Mode, RemotePlan, RemoteTensor, connection, handle_of, register_mode


class Stateless(Mode):
    name = "stateless"

    def returned(self, outputs: List[dict]) -> List[bool]:
        return [True] * len(outputs)


class OpByOp(Mode):
    name = "op_by_op"
    ship_any_local = True
    record_in_place = True

    def recorded(self, outs: Sequence[Any]) -> None:
        # One synchronous request per op, the result kept on the server.
        for t in outs:
            handle_of(t, t._genie.conn)


register_mode(Stateless())
register_mode(OpByOp())


def pin(t: torch.Tensor, options: Dict[str, Any]) -> "RemoteTensor":
    """``t`` uploaded to the server of ``options`` (by content hash: once
    per server) and named in this session, as a remote tensor that graphs
    and recorded ops take by handle. The op-by-op baseline keeps a model's
    weights on the server this way."""
    conn = connection(options)
    key = ("pin", tuple(t.shape), t.dtype)
    entry = conn.lazy_plans.get(key)
    if entry is None:
        gm = make_fx(lambda w: w.clone(), tracing_mode="fake")(torch.empty(tuple(t.shape), dtype=t.dtype))
        plan, manifest = conn.compile(gm, "pin", [0])
        entry = conn.lazy_plans[key] = RemotePlan(conn, plan, manifest, dict)
        # Kept on the server, whatever the manifest says.
        entry.returned = [False]
    # Bind this tensor: a freed temporary's successor may have its id,
    # storage and version.
    entry.epoch = None
    (out,) = entry(t.detach())
    return out


def pin_module(module: torch.nn.Module, options: Dict[str, Any]) -> torch.nn.Module:
    """Replaces every parameter and buffer of ``module`` (recursively) by
    its remote tensor from :func:`pin`: the op-by-op baseline's model."""
    for mod in module.modules():
        for table in (mod._parameters, mod._buffers):
            for name, t in list(table.items()):
                if t is not None:
                    table[name] = pin(t.detach(), options)
    return module
