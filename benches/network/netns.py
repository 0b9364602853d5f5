"""The emulated datacenter network: a client and a server network namespace
joined by a link with a set rate and round-trip time.

This kernel has no ``sch_netem`` (``tc`` can shape rate but not add delay),
so the link is ``genie-netem`` (benches/src/bin/genie-netem.rs): a TUN device
in each namespace and a user-space forwarder holding each packet for its
serialization time and half the round trip. The forwarder itself adds a
floor (tens of µs on a 2-vCPU VM) and caps throughput; ``probe`` measures
what each profile really delivers, and the report prints it next to the
figures.

Run as a script for the probe's two ends: ``netns.py echo HOST PORT`` and
``netns.py ping HOST PORT``.
"""

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

# name: (rate in Gb/s, round-trip time in µs); loopback: both ends on 127.0.0.1.
PROFILES = {
    "loopback": None,
    "100g_10us": (100, 10),
    "25g_20us": (25, 20),
    "10g_50us": (10, 50),
}
CLIENT_NS, SERVER_NS = "genie-bench-cli", "genie-bench-srv"
CLIENT_DEV, SERVER_DEV = "gbench0", "gbench1"
CLIENT_IP, SERVER_IP = "10.77.0.1", "10.77.0.2"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETEM = os.environ.get("GENIE_NETEM_BIN", os.path.join(ROOT, "target", "release", "genie-netem"))


class Link:
    """Where the two ends of one profile live."""

    def __init__(self, name, client_ns, server_ns, server_ip, client_iface, server_iface, netem=None):
        self.name, self.client_ns, self.server_ns = name, client_ns, server_ns
        self.server_ip, self.client_iface, self.server_iface = server_ip, client_iface, server_iface
        self.measured = {}
        self.netem = netem

    def partition(self, on=True):
        """Drops every packet from now (``on``) or heals the link."""
        import signal

        self.netem.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)

    def client_cmd(self, argv):
        return (["ip", "netns", "exec", self.client_ns] if self.client_ns else []) + argv

    def server_cmd(self, argv):
        return (["ip", "netns", "exec", self.server_ns] if self.server_ns else []) + argv


def why_not_emulated():
    """None when namespaces can be made here, else the reason."""
    if os.geteuid() != 0:
        return "not root (network namespaces need CAP_NET_ADMIN)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not os.path.exists(NETEM):
        return f"{NETEM} is not built (cargo build --release -p genie-benches --bin genie-netem)"
    return None


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Network:
    """Creates the namespaces on enter and removes them (and every link) on exit."""

    def __enter__(self):
        self.__exit__()
        for ns in (CLIENT_NS, SERVER_NS):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc):
        for ns in (CLIENT_NS, SERVER_NS):
            _ip("netns", "del", ns, check=False)

    @contextlib.contextmanager
    def profile(self, name, faults=()):
        """The link for profile ``name``, up for the duration of the block;
        ``faults``: more genie-netem flags (``--loss 2``, ``--spike-ms``)."""
        shape = PROFILES[name]
        if shape is None:
            yield Link(name, CLIENT_NS, CLIENT_NS, "127.0.0.1", "lo", "lo")
            return
        rate, rtt = shape
        netem = subprocess.Popen(
            [NETEM, "--a", f"{CLIENT_NS}:{CLIENT_DEV}", "--b", f"{SERVER_NS}:{SERVER_DEV}", "--delay-us", str(rtt / 2), "--rate-gbit", str(rate), *faults],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if netem.stdout.readline().strip() != "ready":
                raise RuntimeError(f"genie-netem did not start (exit status {netem.wait()})")
            for ns, dev, mine, peer in ((CLIENT_NS, CLIENT_DEV, CLIENT_IP, SERVER_IP), (SERVER_NS, SERVER_DEV, SERVER_IP, CLIENT_IP)):
                _ip("-n", ns, "addr", "add", mine, "peer", peer, "dev", dev)
                # 64 KB frames: what TSO/GRO hand a real NIC's driver.
                _ip("-n", ns, "link", "set", dev, "up", "mtu", "65000")
            yield Link(name, CLIENT_NS, SERVER_NS, SERVER_IP, CLIENT_DEV, SERVER_DEV, netem)
        finally:
            netem.kill()
            netem.wait()


def probe(link, port=7399, pings=2000, bulk_mib=64):
    """Measured TCP round trip (64-byte ping-pong, median µs) and bulk
    throughput (MiB/s) of ``link``."""
    echo = subprocess.Popen(link.server_cmd([sys.executable, __file__, "echo", link.server_ip, str(port)]), stdout=subprocess.PIPE, text=True)
    try:
        echo.stdout.readline()
        out = subprocess.run(link.client_cmd([sys.executable, __file__, "ping", link.server_ip, str(port), str(pings), str(bulk_mib)]), capture_output=True, text=True, check=True)
        rtt, mibs = map(float, out.stdout.split())
        return {"rtt_us": rtt, "throughput_mib_s": mibs}
    finally:
        echo.kill()
        echo.wait()


def _echo(host, port):
    s = socket.create_server((host, port))
    print("ready", flush=True)
    for _ in range(2):
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pong = c.recv(1) == b"p"  # else bulk: read to the end
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            if pong:
                c.sendall(d)
        c.close()


def _ping(host, port, pings, bulk_mib):
    c = socket.create_connection((host, port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"p")
    times = []
    for _ in range(pings):
        t = time.perf_counter()
        c.sendall(b"x" * 64)
        got = 0
        while got < 64:
            got += len(c.recv(64))
        times.append(time.perf_counter() - t)
    c.close()
    c = socket.create_connection((host, port))
    c.sendall(b"b")
    data = b"\0" * (1 << 20)
    t = time.perf_counter()
    for _ in range(bulk_mib):
        c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    elapsed = time.perf_counter() - t
    print(f"{statistics.median(times) * 1e6:.1f} {bulk_mib / elapsed:.1f}")


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        _echo(sys.argv[2], int(sys.argv[3]))
    else:
        _ping(sys.argv[2], *map(int, sys.argv[3:6]))
