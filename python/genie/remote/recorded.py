"""Eager ops on remote tensors, recorded rather than run: when the program
reads a result, the ops it depends on are traced to an ATen graph,
compiled like any captured graph and run on the server as one plan; only
the result comes back."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch._C import DisableTorchFunctionSubclass

from .._genie import plan_hash
from .connection import Connection, error, lost
from .tensor import RemoteTensor, _fname, _leaves, _Ref, _tree_map

log = logging.getLogger("genie")

# Local tensors up to this size travel with recorded ops (see _record).
_SHIP_LOCAL_LIMIT = 64 << 10
_FAKE_MODE = None
# Output metadata of recorded ops, by op and argument signature.
_META_CACHE: Dict[str, Any] = {}


def _fake_mode():
    global _FAKE_MODE
    if _FAKE_MODE is None:
        from torch._subclasses.fake_tensor import FakeTensorMode

        _FAKE_MODE = FakeTensorMode(allow_non_fake_inputs=False)
    return _FAKE_MODE


def _sig(x) -> str:
    if isinstance(x, RemoteTensor):
        r = x._genie
        return f"T{list(r.shape)}{r.dtype}"
    if isinstance(x, torch.Tensor):
        return f"C{list(x.shape)}{x.dtype}"
    if isinstance(x, (list, tuple)):
        return "(" + ",".join(_sig(v) for v in x) + ")"
    if isinstance(x, dict):
        return "{" + ",".join(f"{k}:{_sig(v)}" for k, v in x.items()) + "}"
    return repr(x)


_IN_PLACE_DUNDERS = {"__iadd__": "__add__", "__isub__": "__sub__", "__imul__": "__mul__", "__itruediv__": "__truediv__"}


def record_in_place(func, name: str, args, kwargs) -> Optional["RemoteTensor"]:
    """An in-place op on remote tensor ``args[0]`` recorded out of place,
    after which ``args[0]`` names the result (as it would in place); None
    when it must run locally. ``F.relu(x, inplace=True)`` and friends always
    take this path. Other in-place ops (``add_``, ``+=``) do only when the
    connection's mode records them (a baseline running everything on the
    server): else the local copy becomes the truth, which stays right when
    ``args[0]`` is a view of another tensor."""
    target = args[0]
    if kwargs.get("inplace") is True:
        out = record(func, name, args, {**kwargs, "inplace": False})
    elif target._genie.conn.mode.record_in_place:
        base = _IN_PLACE_DUNDERS.get(name) or (name[:-1] if name.endswith("_") and not name.endswith("__") else None)
        if base is None or not hasattr(torch.Tensor, base):
            return None
        out = record(getattr(torch.Tensor, base), base, args, kwargs)
    else:
        return None
    if not isinstance(out, RemoteTensor) or (out._genie.shape, out._genie.dtype) != (target._genie.shape, target._genie.dtype):
        return None
    target._genie = out._genie
    return target


def record(func, name: str, args, kwargs):
    """Records ``func`` lazily when every tensor argument is remote on one
    live connection; ``NotImplemented`` when it must run locally."""
    leaves = _leaves((args, kwargs), [])
    remotes = [x for x in leaves if isinstance(x, RemoteTensor)]
    local = [x for x in leaves if isinstance(x, torch.Tensor) and not isinstance(x, RemoteTensor)]
    if local and not remotes[0]._genie.conn.mode.ship_any_local:
        # Ship small local operands with the recorded op when that moves
        # fewer bytes than fetching the remote ones.
        local_bytes = sum(x.numel() * x.element_size() for x in local)
        remote_bytes = sum(x.numel() * x.element_size() for x in remotes)
        if local_bytes > min(_SHIP_LOCAL_LIMIT, remote_bytes) or any(x.device.type != "cpu" or x.requires_grad for x in local):
            return NotImplemented
    if any(r._genie.local or r._genie.value is not None and r._genie.handle is None and r._genie.op is None for r in remotes):
        return NotImplemented
    conn, epoch = remotes[0]._genie.conn, remotes[0]._genie.epoch
    if any(r._genie.conn is not conn or r._genie.epoch != epoch for r in remotes) or epoch != conn.epoch:
        return NotImplemented
    key = name + _sig((args, kwargs))
    metas = _META_CACHE.get(key)
    if metas is None:
        mode = _fake_mode()
        try:
            with mode:
                fake = _tree_map(lambda x: torch.empty(x._genie.shape if isinstance(x, RemoteTensor) else x.shape, dtype=x.dtype) if isinstance(x, torch.Tensor) else x, (args, kwargs))
                with DisableTorchFunctionSubclass():
                    out = func(*fake[0], **fake[1])
        except Exception:  # noqa: BLE001 - whatever fails here runs locally instead
            return NotImplemented
        if isinstance(out, torch.Tensor):
            metas = ("one", tuple(out.shape), out.dtype)
        elif isinstance(out, tuple) and out and all(isinstance(o, torch.Tensor) for o in out):
            metas = ("many", [(tuple(o.shape), o.dtype, i) for i, o in enumerate(out)])
        else:
            metas = False
        if len(_META_CACHE) > 4096:
            _META_CACHE.clear()
        _META_CACHE[key] = metas
    if metas is False:
        return NotImplemented
    if local:
        # A snapshot: later in-place changes must not reach the recorded op.
        args, kwargs = _tree_map(lambda x: x.detach().clone() if _is_local(x) else x, (args, kwargs))
    op = (func, args, kwargs)
    if metas[0] == "many":
        outs = tuple(RemoteTensor._make(_Ref(conn, epoch, s, d, op=(op, i))) for s, d, i in metas[1])
    else:
        _, shape, dtype = metas
        outs = (RemoteTensor._make(_Ref(conn, epoch, shape, dtype, op=(op, None))),)
    conn.mode.recorded(outs)
    return outs if metas[0] == "many" else outs[0]


def materialize_arg(x):
    return materialize(x) if isinstance(x, RemoteTensor) else x


def materialize(t: "RemoteTensor") -> torch.Tensor:
    """The value of a remote tensor as a local tensor (fetched once)."""
    r = t._genie
    if r.value is not None:
        return r.value
    if r.epoch != r.conn.epoch:
        raise lost()
    if r.op is None:

        def fetch(c):
            # Checked inside: a retry on a new session must not fetch
            # whatever that session numbers the same.
            if r.epoch != r.conn.epoch:
                raise lost()
            return c.fetch(r.handle)

        value = r.conn.call(fetch)
    else:
        value = _run_recorded(r, keep=False)
        # Reading ends the recorded history: later ops on this tensor use
        # the local copy, so chains of reads cost linear time, not quadratic.
        r.op = None
    r.value = value
    return value


def handle_of(t: "RemoteTensor", conn: Connection) -> Any:
    """What to send for remote tensor ``t`` as a graph input: its handle,
    or its local value when that is the truth (or it lives elsewhere)."""
    r = t._genie
    if r.local or r.conn is not conn:
        return materialize(t)
    if r.epoch != conn.epoch:
        raise lost()
    if r.op is not None:
        # Recorded ops feeding a graph: run them there, keep the result there.
        r.handle = _run_recorded(r, keep=True)
        r.op = None
    return ("handle", r.handle)


def _is_local(x) -> bool:
    return isinstance(x, torch.Tensor) and not isinstance(x, RemoteTensor)


def _key_of(x) -> int:
    return id(x._genie) if isinstance(x, RemoteTensor) else id(x)


def _run_recorded(target: _Ref, keep: bool):
    """Runs the recorded ops ``target`` depends on as one plan on the
    server. Inputs are remote tensors (by handle) and the small local
    tensors recorded with the ops (sent along). Returns the value, or with
    ``keep`` the handle."""
    leaves: List[Any] = []  # _Ref (remote) or torch.Tensor (local)
    order: List[_Ref] = []
    seen: Dict[int, str] = {}

    def leaf(obj) -> str:
        seen[id(obj)] = f"L{len(leaves)}"
        leaves.append(obj)
        return seen[id(obj)]

    def visit(ref: _Ref) -> str:
        if id(ref) in seen:
            return seen[id(ref)]
        if ref.op is None or ref.handle is not None:
            return leaf(ref)
        (func, args, kwargs), _ = ref.op
        for x in _leaves((args, kwargs), []):
            if isinstance(x, RemoteTensor):
                visit(x._genie)
            elif _is_local(x) and id(x) not in seen:
                leaf(x)
        seen[id(ref)] = f"N{len(order)}"
        order.append(ref)
        return seen[id(ref)]

    visit(target)

    def sig(x):
        return seen[_key_of(x)] if isinstance(x, torch.Tensor) else None

    parts = []
    for ref in order:
        (func, args, kwargs), index = ref.op
        parts.append(f"{_fname(func)}:{getattr(func, '__qualname__', '')}:{_sig_refs((args, kwargs), sig)}:{index}")
    key = "|".join(parts) + "||" + ";".join(f"{list(x.shape)}{x.dtype}{'c' if _is_local(x) else ''}" for x in leaves) + f"|keep={keep}"
    conn = target.conn
    entry = conn.lazy_plans.get(key)
    if entry is None:
        entry = _compile_recorded(order, leaves, target)
        conn.lazy_plans[key] = entry
    if entry == "local":
        # Genie cannot compile these ops: fetch the inputs and run here.
        values = [x if _is_local(x) else (x.value if x.value is not None else materialize(RemoteTensor._make(x))) for x in leaves]
        result = _replay(order, leaves, target, values)
        if keep:
            raise error("recorded ops Genie cannot compile cannot stay on the server", "execution failed")
        return result
    plan, h = entry["plan"], entry["hash"]

    def go(c):
        if entry.get("epoch") != conn.epoch:
            conn.ensure_uploaded(c, [(h, plan)], [])
            entry["exec"] = c.load(h, [])
            entry["epoch"] = conn.epoch
        args = []
        for x in leaves:
            if _is_local(x):
                args.append(x)
                continue
            if x.epoch != conn.epoch or x.handle is None:
                raise lost()
            args.append(("handle", x.handle))
        start = time.perf_counter()
        (out,) = c.run(entry["exec"], args, [not keep], conn.take_releases())
        conn.record_call(time.perf_counter() - start, *c.last_timing())
        return out

    out = conn.call(go)
    if keep:
        return out[1]
    return out


def _sig_refs(x, sig) -> str:
    if isinstance(x, torch.Tensor):
        return sig(x)
    if isinstance(x, (list, tuple)):
        return "(" + ",".join(_sig_refs(v, sig) for v in x) + ")"
    if isinstance(x, dict):
        return "{" + ",".join(f"{k}:{_sig_refs(v, sig)}" for k, v in x.items()) + "}"
    return repr(x)


def _replay(order: List[_Ref], leaves: List[Any], target: _Ref, inputs: Sequence[torch.Tensor]):
    env = {id(x): t for x, t in zip(leaves, inputs)}

    def sub(x):
        return env[_key_of(x)] if isinstance(x, torch.Tensor) else x

    for ref in order:
        (func, args, kwargs), index = ref.op
        with DisableTorchFunctionSubclass():
            out = func(*_tree_map(sub, args), **_tree_map(sub, kwargs))
        env[id(ref)] = out[index] if index is not None else out
    return env[id(target)]


def _recorded_decompositions():
    """Core ATen decompositions, plus what eager dispatch reaches for ops on
    weights without gradients (aot_autograd's graphs do not meet these)."""
    from torch._decomp import core_aten_decompositions, get_decompositions

    aten = torch.ops.aten
    table = dict(core_aten_decompositions())
    table.update(get_decompositions([aten.native_batch_norm]))
    # The same op, minus the bookkeeping only backward needs.
    table[aten._embedding_bag_forward_only.default] = aten._embedding_bag.default
    return table


def _compile_recorded(order, leaves, target):
    """Traces the recorded ops to an ATen graph and compiles it like any
    captured graph; ``"local"`` when Genie cannot."""
    from torch.fx.experimental.proxy_tensor import make_fx

    examples = [torch.empty(tuple(x.shape), dtype=x.dtype) for x in leaves]
    try:
        gm = make_fx(lambda *xs: _replay(order, leaves, target, xs), decomposition_table=_recorded_decompositions(), tracing_mode="fake")(*examples)
        plan, _ = target.conn.compile(gm, "recorded")
    except Exception as e:  # noqa: BLE001 - the ops still run, locally
        log.info("genie: recorded eager ops run locally: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)
        return "local"
    return {"plan": plan, "hash": plan_hash(plan)}
