"""The connection to one ``genie-runtime serve``: sessions, retries,
uploads by content hash, what crossed the wire, and the target the
compiler places this server's graphs on."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .._genie import RemoteClient, RemoteError, import_fx, remote_target

log = logging.getLogger("genie")


def remote_url(options: Dict[str, Any]) -> Optional[str]:
    return options.get("remote") or os.environ.get("GENIE_REMOTE") or None


def _token(options: Dict[str, Any]) -> Optional[str]:
    token = options.get("token") or os.environ.get("GENIE_REMOTE_TOKEN")
    path = options.get("token_file") or os.environ.get("GENIE_REMOTE_TOKEN_FILE")
    if token is None and path:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    return token


class Mode:
    """How a connection runs programs on its server. This one is Genie's:
    each output stays on the server or comes back as the compiled plan's
    manifest says, and eager ops on remote tensors are recorded and run as
    one graph when a result is read. The network benchmark registers its
    semantics-blind baselines as subclasses (benches/network/baselines.py),
    so they run on the same client, server and kernels."""

    name = "resident"
    # Recorded ops take local operands of any size (else only small ones:
    # larger ones make the remote operands come here instead).
    ship_any_local = False
    # In-place ops (``add_``, ``+=``) are recorded out of place, the tensor
    # renamed to the result (else the local copy becomes the truth).
    record_in_place = False

    def returned(self, outputs: List[dict]) -> List[bool]:
        """Which of a plan's outputs (its manifest's entries) come back."""
        return [not o["resident"] for o in outputs]

    def recorded(self, outs: Sequence[Any]) -> None:
        """Called with the remote tensors of each op just recorded."""


MODES: Dict[str, Mode] = {"resident": Mode()}


def register_mode(mode: Mode) -> None:
    """Makes ``options={"remote_mode": mode.name}`` select ``mode``."""
    MODES[mode.name] = mode


_STAT_KEYS = ("bytes_sent", "bytes_received", "round_trips", "upload_bytes", "shm_bytes", "wire_seconds", "server_seconds", "resumes")


class Connection:
    """One server, one session at a time. A transport failure drops the
    session; the next call opens a new one (a new *epoch*) and uploads
    again whatever the server lacks."""

    def __init__(self, url: str, token: Optional[str], timeout: float, tls_ca: Optional[str] = None, mode: Optional["Mode"] = None, target: Optional[str] = None):
        self.url, self.token, self.timeout, self.tls_ca = url, token, timeout, tls_ca
        # What the compiler places graphs on: the target file's text, or one
        # CPU behind this server over a 10 Gb/s, 25 µs link.
        self.target = target if target is not None else remote_target(url, DEFAULT_LINK_BANDWIDTH, DEFAULT_LINK_LATENCY)
        self.mode = mode if mode is not None else Mode()
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
                resume = float(os.environ.get("GENIE_REMOTE_RESUME_SECONDS", 30))
                deadline = float(os.environ.get("GENIE_REMOTE_DEADLINE_SECONDS", 600))
                self.client = RemoteClient(self.url, self.token, self.timeout, not quiet, self.tls_ca, resume, deadline)
            except RemoteError as e:
                raise error(f"cannot reach the Genie runtime at {self.url}: {e}", getattr(e, "code", None)) from None
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
                    raise error(f"{lost}; reconnecting failed: {e}", None) from None
                raise

    def compile(self, gm: torch.fx.GraphModule, name: str, weights=()) -> Tuple[bytes, dict]:
        """An ATen graph compiled to plan bytecode for this server's target,
        like any captured graph, with its manifest."""
        from ..fx_export import export_graph

        program = import_fx(export_graph(gm, name, weights)).compile(target=self.target)
        return program.plans[0], json.loads(program.manifests[0])

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


def error(message: str, code: Optional[str]) -> RemoteError:
    e = RemoteError(message)
    e.code = code
    return e


def lost() -> RemoteError:
    """The error for a remote tensor whose session has ended."""
    return error(
        "this remote tensor lived in a server session that has ended (the server restarted or the connection dropped); "
        "run the step that produced it again",
        "unknown handle",
    )


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
    if mode not in MODES:
        raise ValueError(f"genie: unknown remote_mode {mode!r} (registered: {', '.join(MODES)}; the benchmarks' baselines register theirs in benches/network/baselines.py)")
    target = None
    if options.get("target"):
        with open(options["target"], encoding="utf-8") as f:
            target = f.read()
    key = (url, token, tls_ca, timeout, mode, target)
    with _CONNECTIONS_LOCK:
        if key not in _CONNECTIONS:
            _CONNECTIONS[key] = Connection(url, token, timeout, tls_ca, MODES[mode], target)
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
