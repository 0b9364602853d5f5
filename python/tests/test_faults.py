"""Failure injection on an emulated link (genie-netem between two network
namespaces): GPT-2 generate() through packet loss, delay spikes and a 5 s
partition, against a real server — tokens exactly eager's, no hang, and
the call done soon after the link heals. Needs root, iproute2 and
/dev/net/tun (skipped otherwise)."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benches", "network"))
for build in ("release", "debug"):
    candidate = os.path.join(ROOT, "target", build, "genie-netem")
    if "GENIE_NETEM_BIN" not in os.environ and os.path.exists(candidate):
        os.environ["GENIE_NETEM_BIN"] = candidate

import netns  # noqa: E402
from test_remote import BIN, generate, tiny_gpt2  # noqa: E402

pytestmark = pytest.mark.skipif(netns.why_not_emulated() is not None, reason=f"no emulated network: {netns.why_not_emulated()}")

PORT = 7411
TOKENS = 24

# The client, in the client namespace: warms up, then waits for "go" and
# generates, printing its tokens and when it finished.
CLIENT = f"""
import json, sys, time, torch, genie
sys.path.insert(0, {os.path.join(ROOT, "python", "tests")!r})
from test_remote import tiny_gpt2, generate
model, prompt = tiny_gpt2()
model.compile(backend="genie", options={{"remote": sys.argv[1]}})
generate(model, prompt, {TOKENS})  # every graph compiled: what follows is network time
print("warm", flush=True)
sys.stdin.readline()
tokens = generate(model, prompt, {TOKENS})
print(json.dumps({{"tokens": tokens.tolist(), "done": time.monotonic(), "stats": genie.stats()}}), flush=True)
"""


def test_generate_through_loss_spikes_and_a_partition():
    model, prompt = tiny_gpt2()
    eager = generate(model, prompt, TOKENS).tolist()
    faults = os.environ.get("FAULTS", "--loss 2 --seed 7 --spike-ms 40 --spike-every-ms 700").split()
    with netns.Network() as net, net.profile("10g_50us", faults) as link:
        server = subprocess.Popen(link.server_cmd([BIN, "serve", "--listen", f"{link.server_ip}:{PORT}", "--insecure"]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        client = None
        try:
            assert "listening on" in server.stdout.readline()
            env = {**os.environ, "GENIE_QUIET": "1"}
            client = subprocess.Popen(
                link.client_cmd([sys.executable, "-c", CLIENT, f"tcp://{link.server_ip}:{PORT}"]), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            assert client.stdout.readline().strip() == "warm", client.stderr.read()
            # The link goes down as generate() starts, for 5 s.
            link.partition(True)
            client.stdin.write("go\n")
            client.stdin.flush()
            time.sleep(5)
            link.partition(False)
            healed = time.monotonic()
            out, err = client.communicate(timeout=60)
            assert client.returncode == 0, err
            result = json.loads(out.strip().splitlines()[-1])
        finally:
            for p in (client, server):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()
    print(f"done {result['done'] - healed:+.2f} s after healing; {result['stats']['resumes']} resumes")
    assert result["tokens"] == eager
    assert result["done"] - healed < 5, f"generate() finished {result['done'] - healed:.1f} s after the link healed"
