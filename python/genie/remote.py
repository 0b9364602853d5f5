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

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch._C import DisableTorchFunctionSubclass

from ._genie import RemoteClient, RemoteError, import_fx, plan_hash, remote_target, tensor_hash

log = logging.getLogger("genie")

_IR_DTYPES = {
    "f32": torch.float32,
    "f64": torch.float64,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "i64": torch.int64,
    "i32": torch.int32,
    "i16": torch.int16,
    "i8": torch.int8,
    "ui8": torch.uint8,
    "u8": torch.uint8,
    "i1": torch.bool,
}


def remote_url(options: Dict[str, Any]) -> Optional[str]:
    return options.get("remote") or os.environ.get("GENIE_REMOTE") or None


def _token(options: Dict[str, Any]) -> Optional[str]:
    token = options.get("token") or os.environ.get("GENIE_REMOTE_TOKEN")
    path = options.get("token_file") or os.environ.get("GENIE_REMOTE_TOKEN_FILE")
    if token is None and path:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    return token


_STAT_KEYS = ("bytes_sent", "bytes_received", "round_trips", "upload_bytes", "shm_bytes", "wire_seconds", "server_seconds")


class Connection:
    """One server, one session at a time. A transport failure drops the
    session; the next call opens a new one (a new *epoch*) and uploads
    again whatever the server lacks."""

    def __init__(self, url: str, token: Optional[str], timeout: float, tls_ca: Optional[str] = None, mode: str = "resident", target: Optional[str] = None):
        self.url, self.token, self.timeout, self.tls_ca = url, token, timeout, tls_ca
        # What the compiler places graphs on: the target file's text, or one
        # CPU behind this server over a 10 Gb/s, 25 µs link.
        self.target = target if target is not None else remote_target(url, DEFAULT_LINK_BANDWIDTH, DEFAULT_LINK_LATENCY)
        # "resident" is Genie. The other two are the baselines the network
        # benchmark compares against, on the same server and kernels:
        # "stateless" ships every graph input and returns every output;
        # "op_by_op" runs each recorded eager op as its own request.
        if mode not in MODES:
            raise ValueError(f"genie: unknown remote_mode {mode!r} (known: {', '.join(MODES)})")
        self.mode = mode
        self.client: Optional[RemoteClient] = None
        self.epoch = 0
        self.lock = threading.RLock()
        self.pending_release: List[int] = []
        self.retired = {k: 0 for k in _STAT_KEYS}
        # Plans compiled from recorded eager ops, by structure and shapes.
        self.lazy_plans: Dict[str, Any] = {}
        # Per-call timing (the last call and totals).
        self.calls = 0
        self.totals = {"client_seconds": 0.0, "network_seconds": 0.0, "server_seconds": 0.0}
        self.last: Optional[Tuple[float, float, float]] = None
        self.last_used = time.monotonic()
        self.heartbeat: Optional[threading.Thread] = None

    def _ensure(self) -> RemoteClient:
        if self.client is None:
            quiet = os.environ.get("GENIE_QUIET") == "1"
            try:
                self.client = RemoteClient(self.url, self.token, self.timeout, not quiet, self.tls_ca)
            except RemoteError as e:
                raise _error(f"cannot reach the Genie runtime at {self.url}: {e}", getattr(e, "code", None)) from None
            self.epoch += 1
            self.pending_release = []
            log.info("genie: connected to %s (session %d)", self.url, self.client.session)
            if self.heartbeat is None:
                self.heartbeat = threading.Thread(target=self._beat, name="genie-heartbeat", daemon=True)
                self.heartbeat.start()
        self.last_used = time.monotonic()
        return self.client

    def _beat(self) -> None:
        """Pings an idle session so the server keeps it (and its tensors)
        past its idle timeout, and notices a dead server before the next
        call does."""
        period = float(os.environ.get("GENIE_HEARTBEAT_SECONDS", 15))
        while True:
            time.sleep(period)
            if time.monotonic() - self.last_used < period or not self.lock.acquire(blocking=False):
                continue
            try:
                if self.client is not None:
                    self.client.ping()
            except RemoteError as e:
                log.info("genie: heartbeat to %s failed: %s", self.url, e)
                if _session_gone(e):
                    self._retire()
            finally:
                self.lock.release()

    def _retire(self) -> None:
        if self.client is not None:
            try:
                s = self.client.stats()
                for k in _STAT_KEYS:
                    self.retired[k] += s[k]
            except RemoteError:
                pass
            self.client.close()
            self.client = None

    def call(self, fn: Callable[[RemoteClient], Any]) -> Any:
        """``fn(client)`` under the connection lock; a transport failure
        drops the session and raises ``RemoteError`` naming the server."""
        with self.lock:
            c = self._ensure()
            try:
                return fn(c)
            except RemoteError as e:
                if not _session_gone(e):
                    raise
                self._retire()
                lost = f"lost the Genie runtime at {self.url}: {e}"
            # Once more on a new session (the server may have restarted
            # since the last call): plans run without side effects, and
            # what the old session held is gone either way.
            try:
                return fn(self._ensure())
            except RemoteError as e:
                if getattr(e, "code", None) is None:
                    self._retire()
                    raise _error(f"{lost}; reconnecting failed: {e}", None) from None
                raise

    def ensure_uploaded(self, c: RemoteClient, plans: Sequence[Tuple[bytes, bytes]], tensors: Sequence[Tuple[bytes, torch.Tensor]]) -> None:
        """Uploads the plans ``(hash, bytes)`` and shared tensors ``(hash,
        tensor)`` the server does not hold, after one ``has`` query."""
        hashes = [h for h, _ in plans] + [h for h, _ in tensors]
        if not hashes:
            return
        present = c.has(hashes)
        sent = set()
        for (h, p), here in zip(plans, present[: len(plans)]):
            if not here and h not in sent:
                c.put_plan(h, p)
                sent.add(h)
        for (h, t), here in zip(tensors, present[len(plans) :]):
            if not here and h not in sent:
                c.put_tensor(h, t.detach())
                sent.add(h)

    def release_later(self, epoch: int, handle: int) -> None:
        # Called from finalizers: no IO here, the next run carries it.
        if epoch == self.epoch:
            self.pending_release.append(handle)

    def take_releases(self) -> List[int]:
        r, self.pending_release = self.pending_release, []
        return r

    def record_call(self, total: float, wire: float, server: float) -> None:
        self.calls += 1
        self.last = (max(total - wire, 0.0), max(wire - server, 0.0), server)
        t = self.totals
        t["client_seconds"] += self.last[0]
        t["network_seconds"] += self.last[1]
        t["server_seconds"] += self.last[2]

    def stats(self) -> Dict[str, Any]:
        out = dict(self.retired)
        if self.client is not None:
            s = self.client.stats()
            for k in _STAT_KEYS:
                out[k] += s[k]
        out["calls"] = self.calls
        out.update(self.totals)
        out["last_call"] = dict(zip(("client_seconds", "network_seconds", "server_seconds"), self.last)) if self.last else {}
        return out


def _session_gone(e: RemoteError) -> bool:
    """A transport failure, or a server closing the session on shutdown."""
    return getattr(e, "code", None) in (None, "server shutting down")


def _error(message: str, code: Optional[str]) -> RemoteError:
    e = RemoteError(message)
    e.code = code
    return e


MODES = ("resident", "stateless", "op_by_op")
# The link a server is assumed behind when no target file names it.
DEFAULT_LINK_BANDWIDTH = 1.25e9
DEFAULT_LINK_LATENCY = 25e-6

_CONNECTIONS: Dict[tuple, Connection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def connection(options: Dict[str, Any]) -> Connection:
    """The process's connection for these options: one per server address
    and credentials (graphs compiled against the same server share it)."""
    url = remote_url(options)
    token = _token(options)
    tls_ca = options.get("tls_ca") or os.environ.get("GENIE_REMOTE_TLS_CA")
    timeout = float(options.get("timeout", os.environ.get("GENIE_REMOTE_TIMEOUT", 60)))
    mode = options.get("remote_mode", "resident")
    target = None
    if options.get("target"):
        with open(options["target"], encoding="utf-8") as f:
            target = f.read()
    key = (url, token, tls_ca, timeout, mode, target)
    with _CONNECTIONS_LOCK:
        if key not in _CONNECTIONS:
            _CONNECTIONS[key] = Connection(url, token, timeout, tls_ca, mode, target)
        return _CONNECTIONS[key]


def stats() -> Dict[str, Any]:
    """What crossed the network, cumulative for this process: ``bytes_sent``,
    ``bytes_received``, ``round_trips``, ``upload_bytes`` (plans and
    weights), ``shm_bytes`` (payload passed through shared memory on a Unix
    socket instead), ``calls``, time split into ``client_seconds``,
    ``network_seconds`` and ``server_seconds``, and the same split for the
    ``last_call``."""
    total: Dict[str, Any] = {k: 0 for k in _STAT_KEYS}
    total.update(calls=0, client_seconds=0.0, network_seconds=0.0, server_seconds=0.0, last_call={})
    with _CONNECTIONS_LOCK:
        conns = list(_CONNECTIONS.values())
    for conn in conns:
        with conn.lock:
            s = conn.stats()
        for k, v in s.items():
            if k == "last_call":
                total[k] = v or total[k]
            else:
                total[k] += v
    return total


def _weight_hash(t: torch.Tensor) -> bytes:
    """The content hash of a weight, cached on the tensor until it changes."""
    cached = getattr(t, "_genie_hash", None)
    if cached is not None and cached[0] == t._version:
        return cached[1]
    h = tensor_hash(t.detach())
    try:
        t._genie_hash = (t._version, h)
    except (AttributeError, RuntimeError):
        pass
    return h


# ----- remote tensors -----------------------------------------------------------------


class _Ref:
    """Where a remote tensor's value is: a server handle, a recorded op on
    other remote tensors, or (once read) a local copy."""

    __slots__ = ("conn", "epoch", "handle", "op", "value", "local", "shape", "dtype", "__weakref__")

    def __init__(self, conn: Connection, epoch: int, shape, dtype, handle=None, op=None):
        self.conn, self.epoch, self.shape, self.dtype = conn, epoch, tuple(shape), dtype
        self.handle, self.op = handle, op
        self.value: Optional[torch.Tensor] = None
        # True once a local in-place op made the local copy the truth.
        self.local = False

    def __del__(self):
        if self.handle is not None:
            try:
                self.conn.release_later(self.epoch, self.handle)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


# Tensor attributes and methods that only read metadata: answered from the
# placeholder (shape and dtype are the real ones).
_METADATA = frozenset(
    "size dim shape dtype device ndim numel nelement is_floating_point is_complex is_signed requires_grad is_leaf layout "
    "element_size __len__ is_cuda is_sparse is_quantized is_meta is_mps is_xpu is_nested names grad_fn grad _version "
    "__hash__ is_inference get_device itemsize nbytes _is_view output_nr _base __class__".split()
)
# Reads that need the data: the tensor is materialized first.
_MATERIALIZE = frozenset(
    "tolist numpy item cpu __bool__ __int__ __float__ __index__ __complex__ __repr__ __str__ __format__ __array__ "
    "__array_wrap__ data data_ptr storage untyped_storage __reduce_ex__ __deepcopy__ __iter__ __setstate__ __getstate__ "
    "backward register_hook".split()
)


def _fname(func) -> str:
    name = getattr(func, "__name__", "")
    if name in ("__get__", "__set__"):
        name = getattr(getattr(func, "__self__", None), "__name__", name)
    return name


def _tree_map(fn, x):
    if isinstance(x, (list, tuple)):
        mapped = [_tree_map(fn, v) for v in x]
        return type(x)(mapped) if not hasattr(x, "_fields") else type(x)(*mapped)
    if isinstance(x, dict):
        return {k: _tree_map(fn, v) for k, v in x.items()}
    return fn(x)


def _leaves(x, out):
    if isinstance(x, (list, tuple)):
        for v in x:
            _leaves(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _leaves(v, out)
    else:
        out.append(x)
    return out


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


class RemoteTensor(torch.Tensor):
    """A tensor whose value lives on the Genie runtime server.

    Shape, dtype and device answer at once; ops on it are recorded and run
    on the server when a result is read; reading it (``.cpu()``,
    ``.item()``, ``.tolist()``, ``print``, numpy, ``bool``) fetches it once.
    Passed to a compiled graph on the same server, it travels as a handle.
    """

    _genie: _Ref

    @staticmethod
    def _make(ref: _Ref) -> "RemoteTensor":
        # A placeholder with the right metadata and one element of memory.
        placeholder = torch.empty((), dtype=ref.dtype).expand(ref.shape)
        t = torch.Tensor._make_subclass(RemoteTensor, placeholder)
        t._genie = ref
        return t

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if torch.compiler.is_compiling():
            # Dynamo traces through here as if this were a plain tensor.
            with DisableTorchFunctionSubclass():
                return func(*args, **kwargs)
        name = _fname(func)
        if name in _METADATA:
            if name in ("grad", "grad_fn", "_base"):
                return None
            with DisableTorchFunctionSubclass():
                return func(*args, **kwargs)
        if name == "stride":
            r = _first_remote((args, kwargs))._genie
            strides = torch.empty(r.shape, device="meta").stride()
            return strides if len(args) < 2 and "dim" not in kwargs else strides[args[1] if len(args) > 1 else kwargs["dim"]]
        if name == "is_contiguous":
            return True
        if name == "as_subclass":
            return args[0]
        if args and isinstance(args[0], RemoteTensor):
            done = _record_in_place(func, name, args, kwargs)
            if done is not None:
                return done
        if name not in _MATERIALIZE and not (name.endswith("_") and not name.endswith("__")) and name != "__setitem__":
            lazy = _record(func, name, args, kwargs)
            if lazy is not NotImplemented:
                return lazy
        # Run locally on materialized values.
        local_args = _tree_map(_materialize_arg, args)
        local_kwargs = _tree_map(_materialize_arg, kwargs)
        if name.endswith("_") and not name.endswith("__") or name == "__setitem__":
            # An in-place op: the local copy becomes the truth.
            for x in _leaves((args, kwargs), [])[:1]:
                if isinstance(x, RemoteTensor):
                    x._genie.local = True
        with DisableTorchFunctionSubclass():
            return func(*local_args, **local_kwargs)

    def __repr__(self, *, tensor_contents=None):
        return repr(materialize(self)).replace("tensor(", "RemoteTensor(", 1)


_IN_PLACE_DUNDERS = {"__iadd__": "__add__", "__isub__": "__sub__", "__imul__": "__mul__", "__itruediv__": "__truediv__"}


def _record_in_place(func, name: str, args, kwargs) -> Optional["RemoteTensor"]:
    """An in-place op on remote tensor ``args[0]`` recorded out of place,
    after which ``args[0]`` names the result (as it would in place); None
    when it must run locally. ``F.relu(x, inplace=True)`` and friends always
    take this path. Other in-place ops (``add_``, ``+=``) do only in the
    op-by-op baseline, which runs everything on the server: elsewhere the
    local copy becomes the truth, which stays right when ``args[0]`` is a
    view of another tensor."""
    target = args[0]
    if kwargs.get("inplace") is True:
        out = _record(func, name, args, {**kwargs, "inplace": False})
    elif target._genie.conn.mode == "op_by_op":
        base = _IN_PLACE_DUNDERS.get(name) or (name[:-1] if name.endswith("_") and not name.endswith("__") else None)
        if base is None or not hasattr(torch.Tensor, base):
            return None
        out = _record(getattr(torch.Tensor, base), base, args, kwargs)
    else:
        return None
    if not isinstance(out, RemoteTensor) or (out._genie.shape, out._genie.dtype) != (target._genie.shape, target._genie.dtype):
        return None
    target._genie = out._genie
    return target


def _first_remote(x) -> "RemoteTensor":
    return next(v for v in _leaves(x, []) if isinstance(v, RemoteTensor))


def _record(func, name: str, args, kwargs):
    """Records ``func`` lazily when every tensor argument is remote on one
    live connection; ``NotImplemented`` when it must run locally."""
    leaves = _leaves((args, kwargs), [])
    remotes = [x for x in leaves if isinstance(x, RemoteTensor)]
    local = [x for x in leaves if isinstance(x, torch.Tensor) and not isinstance(x, RemoteTensor)]
    op_by_op = remotes[0]._genie.conn.mode == "op_by_op"
    if local and not op_by_op:
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
    if op_by_op:
        # The op-by-op baseline: one synchronous request per op, the
        # result kept on the server.
        for t in outs:
            handle_of(t, conn)
    return outs if metas[0] == "many" else outs[0]


def _materialize_arg(x):
    return materialize(x) if isinstance(x, RemoteTensor) else x


def materialize(t: "RemoteTensor") -> torch.Tensor:
    """The value of a remote tensor as a local tensor (fetched once)."""
    r = t._genie
    if r.value is not None:
        return r.value
    if r.epoch != r.conn.epoch:
        raise _lost()
    if r.op is None:

        def fetch(c):
            # Checked inside: a retry on a new session must not fetch
            # whatever that session numbers the same.
            if r.epoch != r.conn.epoch:
                raise _lost()
            return c.fetch(r.handle)

        value = r.conn.call(fetch)
    else:
        value = _run_recorded(r, keep=False)
        # Reading ends the recorded history: later ops on this tensor use
        # the local copy, so chains of reads cost linear time, not quadratic.
        r.op = None
    r.value = value
    return value


def _lost() -> RemoteError:
    return _error(
        "this remote tensor lived in a server session that has ended (the server restarted or the connection dropped); "
        "run the step that produced it again",
        "unknown handle",
    )


def handle_of(t: "RemoteTensor", conn: Connection) -> Any:
    """What to send for remote tensor ``t`` as a graph input: its handle,
    or its local value when that is the truth (or it lives elsewhere)."""
    r = t._genie
    if r.local or r.conn is not conn:
        return materialize(t)
    if r.epoch != conn.epoch:
        raise _lost()
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
            raise _error("recorded ops Genie cannot compile cannot stay on the server", "execution failed")
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
                raise _lost()
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


def _plan_of(gm: torch.fx.GraphModule, name: str, conn: Connection, weights=()) -> Tuple[bytes, dict]:
    """An ATen graph compiled to plan bytecode for ``conn``'s target, like
    any captured graph, with its manifest."""
    import json

    from .fx_export import export_graph

    program = import_fx(export_graph(gm, name, weights)).compile(target=conn.target)
    return program.plans[0], json.loads(program.manifests[0])


def _compile_recorded(order, leaves, target):
    """Traces the recorded ops to an ATen graph and compiles it like any
    captured graph; ``"local"`` when Genie cannot."""
    from torch.fx.experimental.proxy_tensor import make_fx

    examples = [torch.empty(tuple(x.shape), dtype=x.dtype) for x in leaves]
    try:
        gm = make_fx(lambda *xs: _replay(order, leaves, target, xs), decomposition_table=_recorded_decompositions(), tracing_mode="fake")(*examples)
        plan, _ = _plan_of(gm, "recorded", target.conn)
    except Exception as e:  # noqa: BLE001 - the ops still run, locally
        log.info("genie: recorded eager ops run locally: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)
        return "local"
    return {"plan": plan, "hash": plan_hash(plan)}


def pin(t: torch.Tensor, options: Dict[str, Any]) -> "RemoteTensor":
    """``t`` uploaded to the server of ``options`` (by content hash: once
    per server) and named in this session, as a remote tensor that graphs
    and recorded ops take by handle. The op-by-op baseline keeps a model's
    weights on the server this way."""
    from torch.fx.experimental.proxy_tensor import make_fx

    conn = connection(options)
    key = ("pin", tuple(t.shape), t.dtype)
    entry = conn.lazy_plans.get(key)
    if entry is None:
        gm = make_fx(lambda w: w.clone(), tracing_mode="fake")(torch.empty(tuple(t.shape), dtype=t.dtype))
        plan, manifest = _plan_of(gm, "pin", conn, [0])
        entry = conn.lazy_plans[key] = RemotePlan(conn, plan, manifest, dict, keep_all=True)
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


# ----- compiled graphs on the server --------------------------------------------------------


class RemotePlan:
    """A compiled graph run on the server: weights bound once at load, each
    output returned or kept there as its manifest says (the compiler's
    decision)."""

    def __init__(self, conn: Connection, plan: bytes, manifest: dict, constants: Callable[[], Dict[str, torch.Tensor]], keep_all: bool = False):
        self.conn = conn
        self.plan = plan
        self.hash = plan_hash(plan)
        self.weights = [i for i, s in enumerate(manifest["inputs"]) if s["resident"]]
        self.weight_set = frozenset(self.weights)
        self.constants = constants
        outputs = manifest["outputs"]
        if conn.mode == "stateless" or keep_all:
            # The stateless baseline returns every output, so every input
            # (a KV cache too) travels on the next call; pinning keeps all.
            self.returned = [not keep_all] * len(outputs)
        else:
            self.returned = [not s["resident"] for s in outputs]
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
            h = _weight_hash(t)
            binds.append((i, h))
            tensors.append((h, t))
        for name, t in sorted(self.constants().items()):
            h = _weight_hash(t)
            binds.append((name, h))
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
