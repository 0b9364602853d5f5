"""Compiled graphs run on the server: the plan and its weights uploaded
once by content hash, each output returned or kept there as the plan's
manifest says (the compiler's decision)."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch._C import DisableTorchFunctionSubclass

from .._genie import RemoteClient, plan_hash, tensor_identity
from .connection import Connection
from .recorded import handle_of, materialize
from .tensor import _IR_DTYPES, RemoteTensor, _Ref


def weight_identity(t: torch.Tensor) -> Tuple[bytes, bytes]:
    """A weight's content hash (the name the server shares it under) and
    possession value (what proves this process holds it, without sending
    it), cached on the tensor until it changes."""
    cached = getattr(t, "_genie_hash", None)
    if cached is not None and cached[0] == t._version:
        return cached[1]
    ident = tensor_identity(t.detach())
    try:
        t._genie_hash = (t._version, ident)
    except (AttributeError, RuntimeError):
        pass
    return ident



class RemotePlan:
    """A compiled graph run on the server: weights bound once at load, each
    output returned or kept there as its manifest says (the compiler's
    decision)."""

    def __init__(self, conn: Connection, plan: bytes, manifest: dict, constants: Callable[[], Dict[str, torch.Tensor]]):
        self.conn = conn
        self.plan = plan
        self.hash = plan_hash(plan)
        self.weights = [i for i, s in enumerate(manifest["inputs"]) if s["resident"]]
        self.weight_set = frozenset(self.weights)
        self.constants = constants
        self.returned = conn.mode.returned(manifest["outputs"])
        self.epoch: Optional[int] = None
        self.exec: Optional[int] = None
        self.bound: List[Tuple[int, int]] = []

    def _bound_ids(self, args) -> List[Tuple[int, int]]:
        # Identity, storage and version: a new weight may reuse a freed one's id.
        with DisableTorchFunctionSubclass():
            return [(id(args[i]), args[i].data_ptr(), args[i]._version) for i in self.weights]

    def _load(self, c: RemoteClient, args) -> None:
        binds: List[Tuple[Any, bytes]] = []
        tensors: List[Tuple[bytes, torch.Tensor]] = []
        for i in self.weights:
            t = args[i]
            if isinstance(t, RemoteTensor):
                t = materialize(t)
            h, possession = weight_identity(t)
            binds.append((i, h, possession))
            tensors.append((h, t))
        for name, t in sorted(self.constants().items()):
            h, possession = weight_identity(t)
            binds.append((name, h, possession))
            tensors.append((h, t))
        self.conn.ensure_uploaded(c, [(self.hash, self.plan)], tensors)
        self.exec = c.load(self.hash, binds)
        self.epoch = self.conn.epoch
        self.bound = self._bound_ids(args)

    def __call__(self, *args):
        conn = self.conn

        def go(c: RemoteClient):
            start = time.perf_counter()
            if self.epoch != conn.epoch or self._bound_ids(args) != self.bound:
                self._load(c, args)
            wire = []
            for i, a in enumerate(args):
                if i in self.weight_set:
                    continue
                if isinstance(a, RemoteTensor):
                    wire.append(handle_of(a, conn))
                elif isinstance(a, torch.Tensor):
                    wire.append(a.detach())
                elif isinstance(a, torch.SymInt):
                    wire.append(int(a))
                else:
                    wire.append(a)
            outs = c.run(self.exec, wire, self.returned, conn.take_releases())
            conn.record_call(time.perf_counter() - start, *c.last_timing())
            epoch = conn.epoch
            result = []
            for o in outs:
                if isinstance(o, tuple) and len(o) == 4 and o[0] == "remote":
                    _, h, dtype, shape = o
                    result.append(RemoteTensor._make(_Ref(conn, epoch, shape, _IR_DTYPES[dtype], handle=h)))
                else:
                    result.append(o)
            return result

        return conn.call(go)
