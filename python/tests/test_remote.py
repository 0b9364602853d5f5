"""torch.compile(backend="genie", options={"remote": ...}) against a real
`genie-runtime serve` process: results equal eager's, weights upload once,
outputs stay on the server until read, and failures surface as
genie.RemoteError without hanging."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

import genie
from genie._genie import RemoteClient, RemoteError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("GENIE_RUNTIME_BIN", os.path.join(ROOT, "target", "debug", "genie-runtime"))


class Server:
    def __init__(self, *args, listen="127.0.0.1:0"):
        self.args = args
        self.start(listen)

    def start(self, listen):
        self.proc = subprocess.Popen([BIN, "serve", "--listen", listen, *self.args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "GENIE_LOG": "warn"})
        self.metrics = None
        while True:
            line = self.proc.stdout.readline()
            assert line, "genie-runtime exited before listening"
            if "metrics on" in line:
                self.metrics = line.split()[-1].removeprefix("http://").removesuffix("/metrics")
            if "listening on" in line:
                self.addr = line.split()[-1]
                self.url = f"tcp://{self.addr}"
                return

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield


# Elements of a float32 output larger than the default link moves in one
# round trip (62.5 KB): one the compiler keeps on the server.
BIG = 20000


def tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=500, n_positions=64, n_embd=64, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(cfg).eval(), torch.randint(1, 500, (1, 6))


def generate(model, prompt, n):
    with torch.no_grad():
        return model.generate(prompt, max_new_tokens=n, do_sample=False, pad_token_id=0)


def slow_link_target(tmp_path, url):
    """A target whose link moves 200 bytes per round trip: the compiler
    keeps anything larger on the server."""
    path = tmp_path / "slow.toml"
    path.write_text(f'version = 1\n[[device]]\nname = "srv"\nkind = "cpu"\nat = "{url}"\n[[link]]\nfrom = "client"\nto = "srv"\nbandwidth = 1e7\nlatency = 1e-5\n')
    return str(path)


@pytest.mark.parametrize("link", ["default", "slow"])
def test_gpt2_generate_remotely_keeps_the_kv_cache_on_the_server(server, tmp_path, link):
    """The KV caches never cross. The logits (2 KB at this vocabulary) come
    back at once over the default link, where that costs less than the
    round trip fetching them would; over a link that moves 200 bytes per
    round trip they stay on the server and generate() reads the next token
    through recorded ops: two round trips and under 1 KiB per token."""
    model, prompt = tiny_gpt2()
    eager = generate(model, prompt, 12)
    assert eager.shape[1] == prompt.shape[1] + 12, "no early end of sequence (the byte counts assume 12 tokens)"
    options = {"remote": server.url}
    if link == "slow":
        options["target"] = slow_link_target(tmp_path, server.url)
    model.compile(backend="genie", options=options)
    s0 = genie.stats()
    assert torch.equal(generate(model, prompt, 12), eager)
    s1 = genie.stats()
    assert s1["upload_bytes"] - s0["upload_bytes"] >= sum(p.numel() * 4 for p in model.parameters()) * 0.9
    # After warm-up: per decode token (a 12-token run minus a 1-token run).
    generate(model, prompt, 12)
    s2 = genie.stats()
    generate(model, prompt, 1)
    s3 = genie.stats()

    def per_token(k):
        return ((s2[k] - s1[k]) - (s3[k] - s2[k])) / 11

    cache_bytes = 2 * 2 * 64 * 18 * 4  # K and V of 2 layers at 18 positions
    if link == "slow":
        assert per_token("bytes_sent") + per_token("bytes_received") <= 1024
        assert per_token("round_trips") <= 2
    else:
        logits = 500 * 4
        assert logits <= per_token("bytes_received") <= logits + 512
        assert per_token("bytes_sent") < 512 < cache_bytes
        assert per_token("round_trips") <= 1
    assert s3["upload_bytes"] == s1["upload_bytes"]
    assert s3["calls"] > s1["calls"] and s3["server_seconds"] > 0


SECOND_CLIENT = r"""
import json, sys, torch, genie
sys.path.insert(0, sys.argv[2])
from test_remote import tiny_gpt2, generate
model, prompt = tiny_gpt2()
model.compile(backend="genie", options={"remote": sys.argv[1]})
tokens = generate(model, prompt, 3)
print(json.dumps({"upload_bytes": genie.stats()["upload_bytes"], "tokens": tokens.tolist()}))
"""


def test_a_second_process_uploads_no_weights(server):
    def run():
        out = subprocess.run([sys.executable, "-c", SECOND_CLIENT, server.url, os.path.dirname(__file__)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    assert first["upload_bytes"] > 100_000
    assert second["upload_bytes"] == 0
    assert first["tokens"] == second["tokens"]


def test_remote_tensors_materialize_only_when_read(server):
    torch.manual_seed(0)
    # 77 KB of output: more than the default link moves in a round trip, of
    # a graph the analysis recognises nothing in, so it stays on the server.
    x, w = torch.randn(300, 8), torch.randn(8, 64)
    f = torch.compile(lambda x, w: (x @ w).relu(), backend="genie", options={"remote": server.url})
    expected = (x @ w).relu()
    # The first read of these recorded ops uploads their plan (once).
    warm = f(x, w)
    assert (warm[-4:, -1:].argmax(-1) * 2 + 1).tolist() == (expected[-4:, -1:].argmax(-1) * 2 + 1).tolist()
    out = f(x, w)
    assert isinstance(out, genie.RemoteTensor)
    before = genie.stats()["round_trips"]
    # Metadata needs no round trip; neither do recorded ops.
    assert out.shape == (300, 64) and out.dtype == torch.float32 and out.dim() == 2
    lazy = out[-4:, -1:].argmax(-1) * 2 + 1
    assert isinstance(lazy, genie.RemoteTensor)
    assert genie.stats()["round_trips"] == before
    # One round trip runs the recorded ops on the server and returns 4 values.
    received = genie.stats()["bytes_received"]
    assert lazy.tolist() == (expected[-4:, -1:].argmax(-1) * 2 + 1).tolist()
    assert genie.stats()["round_trips"] == before + 1
    assert genie.stats()["bytes_received"] - received < 200
    # Every way of reading gives eager's values.
    torch.testing.assert_close(out.cpu(), expected)
    torch.testing.assert_close(torch.from_numpy(np.asarray(out)), expected)
    assert abs(out.sum().item() - expected.sum().item()) < 1e-4
    assert bool((out >= 0).all())
    assert "RemoteTensor(" in repr(out)
    assert np.allclose(out.tolist(), expected.tolist(), rtol=1e-5, atol=1e-6)
    # Where an output lives is the compiler's decision, not a guess from
    # what the program read before: it stays remote.
    assert isinstance(f(x, w), genie.RemoteTensor)
    # A remote tensor fed to another compiled graph travels as a handle.
    h = torch.compile(lambda x, w: (x @ w).relu(), backend="genie", options={"remote": server.url})
    g = torch.compile(lambda y: y * 3 - 1, backend="genie", options={"remote": server.url})
    g(h(x, w))  # uploads g's plan
    again = h(x, w)
    assert isinstance(again, genie.RemoteTensor)
    sent = genie.stats()["bytes_sent"]
    y = g(again)
    assert genie.stats()["bytes_sent"] - sent < 200
    torch.testing.assert_close(y.cpu(), expected * 3 - 1)
    # An in-place op makes the local copy the truth.
    z = h(x, w)
    z.add_(1)
    torch.testing.assert_close(g(z).cpu(), (expected + 1) * 3 - 1)


def test_bad_token_is_a_clear_error(tmp_path):
    token = tmp_path / "token"
    token.write_text("right-token\n")
    s = Server("--auth-token-file", str(token))
    try:
        f = torch.compile(lambda x: x + 1, backend="genie", options={"remote": s.url, "token": "wrong"})
        with pytest.raises(RemoteError, match="authentication failed"):
            f(torch.ones(3))
        torch._dynamo.reset()
        # The same server with the right credentials: a connection of its own.
        g = torch.compile(lambda x: x + 2, backend="genie", options={"remote": s.url, "token_file": str(token)})
        assert g(torch.ones(3)).tolist() == [3.0, 3.0, 3.0]
    finally:
        s.stop()


def test_unreachable_server_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    f = torch.compile(lambda x: x + 1, backend="genie", options={"remote": f"tcp://127.0.0.1:{port}"})
    start = time.monotonic()
    with pytest.raises(RemoteError, match="cannot reach the Genie runtime"):
        f(torch.ones(2))
    assert time.monotonic() - start < 5


def test_server_killed_mid_call_then_restarted():
    s = Server()
    port = s.addr.rsplit(":", 1)[1]
    try:

        def slow(x, w):
            for _ in range(40):
                x = torch.tanh(x @ w)
            return x

        f = torch.compile(slow, backend="genie", options={"remote": s.url}, dynamic=True)
        w = torch.randn(512, 512) / 30
        small = torch.randn(2, 512)
        torch.testing.assert_close(f(small, w).cpu(), slow(small, w), rtol=1e-4, atol=1e-5)
        uploaded = genie.stats()["upload_bytes"]
        big = torch.randn(20000, 512)
        errors = []

        def call():
            try:
                f(big, w).cpu()
            except RemoteError as e:
                errors.append((time.monotonic(), e))

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.3)
        killed = time.monotonic()
        s.kill()
        t.join(timeout=10)
        assert not t.is_alive(), "the client hung after the server died"
        assert errors, "the call should fail with RemoteError"
        at, e = errors[0]
        assert at - killed < 5
        assert "lost the Genie runtime" in str(e) and "closed by the server" in str(e)
        # A new server on the same port: the next call opens a new session
        # and uploads the plan again.
        s.start(f"127.0.0.1:{port}")
        torch.testing.assert_close(f(small, w).cpu(), slow(small, w), rtol=1e-4, atol=1e-5)
        assert genie.stats()["upload_bytes"] > uploaded
    finally:
        s.stop()


def test_a_remote_tensor_from_a_dead_session_says_so():
    s = Server()
    port = s.addr.rsplit(":", 1)[1]
    try:
        f = torch.compile(lambda x: x * 2, backend="genie", options={"remote": s.url})
        out = f(torch.ones(BIG))  # kept on the server
        s.kill()
        s.start(f"127.0.0.1:{port}")
        f(torch.ones(BIG))  # reconnects (new session)
        with pytest.raises(RemoteError, match="session that has ended"):
            out.tolist()
    finally:
        s.stop()


def test_metrics_endpoint_and_foreign_handles():
    s = Server("--metrics", "127.0.0.1:0")
    try:
        f = torch.compile(lambda x: x.exp(), backend="genie", options={"remote": s.url})
        out = f(torch.zeros(BIG))
        handle = out._genie.handle
        # Another client cannot read this session's tensor.
        other = RemoteClient(s.url)
        with pytest.raises(RemoteError, match="not held by this session") as e:
            other.fetch(handle)
        assert e.value.code == "unknown handle"
        assert out.tolist() == [1.0] * BIG
        with socket.create_connection(tuple(s.metrics.rsplit(":", 1))) as m:
            m.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            body = b""
            while chunk := m.recv(65536):
                body += chunk
        text = body.decode()
        assert "200 OK" in text
        values = dict(line.split() for line in text.splitlines() if line.startswith("genie_"))
        assert int(values["genie_runs_total"]) >= 1
        assert int(values["genie_memory_in_use_bytes"]) > 0
        assert int(values["genie_sessions_active"]) == 2
        assert int(values["genie_errors_total"]) >= 1
    finally:
        s.stop()


def test_heartbeats_keep_an_idle_session_alive():
    s = Server("--idle-timeout", "2")
    script = r"""
import os, sys, time, torch, genie
f = torch.compile(lambda x: x * 2, backend="genie", options={"remote": sys.argv[1]})
kept = f(torch.ones(20000))    # a tensor held by the session (80 KB: kept there)
assert isinstance(kept, genie.RemoteTensor)
time.sleep(3.5)                 # longer than the server's idle timeout
print(kept.sum().item())
"""
    try:
        env = {**os.environ, "GENIE_HEARTBEAT_SECONDS": "0.5"}
        out = subprocess.run([sys.executable, "-c", script, s.url], capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == "40000.0"
    finally:
        s.stop()


def test_tls_and_unix_socket_transports(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=genie-test",
         "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    x = torch.randn(300, 300) / 20
    tls = Server("--tls-cert", str(cert), "--tls-key", str(key))
    unix = Server(listen=f"unix://{tmp_path / 'genie.sock'}")
    try:
        assert tls.addr.startswith("tls://")
        f = torch.compile(lambda x: (x @ x).tanh(), backend="genie", options={"remote": tls.addr, "tls_ca": str(cert)})
        torch.testing.assert_close(f(x).cpu(), (x @ x).tanh(), rtol=1e-4, atol=1e-4)
        torch._dynamo.reset()
        g = torch.compile(lambda x: (x @ x).tanh(), backend="genie", options={"remote": f"unix://{tmp_path / 'genie.sock'}"})
        torch.testing.assert_close(g(x).cpu(), (x @ x).tanh(), rtol=1e-4, atol=1e-4)
        assert genie.stats()["shm_bytes"] >= x.numel() * 4
    finally:
        tls.stop()
        unix.stop()


class Relay:
    """A TCP relay to a server that a test can break: ``cut()`` resets
    every relayed connection, as a dropped link or a restarted middlebox
    does (the server sees a reset, not a clean close)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = "tcp://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.sockets = []
        self.forwarded = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            host, port = self.upstream.rsplit(":", 1)
            try:
                server = socket.create_connection((host, int(port)))
            except OSError:  # the server is gone (the test is over)
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            while data := a.recv(1 << 16):
                b.sendall(data)
                with self.lock:
                    self.forwarded += len(data)
        except OSError:
            pass

    def cut(self):
        import struct

        with self.lock:
            socks, self.sockets = self.sockets, []
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()

    def close(self):
        self.cut()
        self.listener.close()


def test_generate_survives_a_reset_connection(server):
    """The link to the server resets in the middle of generate(): the
    client resumes its session (the KV caches are still there) and the
    tokens are exactly eager's."""
    model, prompt = tiny_gpt2()
    eager = generate(model, prompt, 24)
    relay = Relay(server.addr)
    try:
        model.compile(backend="genie", options={"remote": relay.url})
        assert torch.equal(generate(model, prompt, 2), eager[:, : prompt.shape[1] + 2])
        resumes = genie.stats()["resumes"]
        start = relay.forwarded

        def cut_mid_generate():
            # A few decode steps in (each moves a few KB).
            while relay.forwarded - start < 20_000:
                time.sleep(0.001)
            relay.cut()

        t = threading.Thread(target=cut_mid_generate)
        t.start()
        out = generate(model, prompt, 24)
        t.join()
        assert torch.equal(out, eager)
        assert genie.stats()["resumes"] > resumes, "the session was resumed, not replaced"
    finally:
        relay.close()
