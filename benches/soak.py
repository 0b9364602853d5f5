#!/usr/bin/env python3
"""A bounded soak of `genie-runtime serve`: N client processes for M minutes
on loopback, each looping GPT-2 (tiny, random weights) greedy generate()
through torch.compile against the server, checked against eager, with a
fresh session and raw protocol traffic (uploads, loads, runs, fetches,
releases) every few rounds. Reports errors and wrong results per client
and the server's RSS over time; fails (exit 1) on any error or wrong
result, or when RSS grows more than 5% between minute 2 and the end
(the goal of issue 14; runs shorter than 4 minutes check errors only).

    .venv/bin/python benches/soak.py --clients 8 --minutes 10   # make soak
Writes target/bench/soak.json. Needs the release server
(`make server-release`) unless GENIE_RUNTIME_BIN names another.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get("GENIE_RUNTIME_BIN", os.path.join(ROOT, "target", "release", "genie-runtime"))

CLIENT = r"""
import json, os, sys, time
import torch, genie
from genie._genie import RemoteClient, parse, plan_hash, tensor_identity
from transformers import GPT2Config, GPT2LMHeadModel

url, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
torch.manual_seed(seed % 2)  # two models shared between the clients
cfg = GPT2Config(vocab_size=500, n_positions=64, n_embd=64, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
model = GPT2LMHeadModel(cfg).eval()
prompt = torch.randint(1, 500, (1, 6))
with torch.no_grad():
    eager = model.generate(prompt, max_new_tokens=16, do_sample=False, pad_token_id=0)
model.compile(backend="genie", options={"remote": url})
neg = parse("func.func @f(%x: tensor<1024xf32>) -> tensor<1024xf32> {\n  %0 = sem.neg %x : tensor<1024xf32>\n  return %0 : tensor<1024xf32>\n}\n").to_plans()[0]
pool = [torch.randn(1024) for _ in range(8)]
stats = {"rounds": 0, "errors": 0, "wrong": 0, "raw_rounds": 0, "first_error": None}
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        with torch.no_grad():
            out = model.generate(prompt, max_new_tokens=16, do_sample=False, pad_token_id=0)
        if not torch.equal(out, eager):
            stats["wrong"] += 1
        stats["rounds"] += 1
        if stats["rounds"] % 5 == 0:
            # A session of its own: a fresh tensor uploaded and bound, a
            # plan run, a kept output fetched and released, then closed.
            c = RemoteClient(url)
            # One of a few weights, as a client reloading its models would
            # (fresh bytes every time would only fill the cache, by design
            # kept until memory runs short).
            w = pool[stats["raw_rounds"] % len(pool)]
            h, p = tensor_identity(w)
            c.put_tensor(h, w)
            ph = plan_hash(neg)
            if not c.has([ph])[0]:
                c.put_plan(ph, neg)
            exe = c.load(ph, [(0, h, p)])
            (kept,) = c.run(exe, [], [False], [])
            got = c.fetch(kept[1])
            if not torch.equal(got, -w):
                stats["wrong"] += 1
            c.release([kept[1]])
            c.close()
            stats["raw_rounds"] += 1
    except Exception as e:  # counted, and the loop goes on
        stats["errors"] += 1
        stats["first_error"] = stats["first_error"] or repr(e)
print(json.dumps(stats), flush=True)
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--sample-seconds", type=float, default=10)
    args = ap.parse_args()
    server = subprocess.Popen([SERVER, "serve", "--listen", "127.0.0.1:0", "--memory-limit", "4GiB"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "GENIE_LOG": "warn"})
    try:
        line = server.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"genie-runtime did not start: {line!r}")
        url = "tcp://" + line.split()[-1]
        seconds = args.minutes * 60
        env = {**os.environ, "GENIE_QUIET": "1"}
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, url, str(seconds), str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(args.clients)]
        start = time.monotonic()
        rss = []
        while any(c.poll() is None for c in clients):
            rss.append((round(time.monotonic() - start, 1), rss_kib(server.pid)))
            time.sleep(args.sample_seconds)
        results = []
        for c in clients:
            out, err = c.communicate()
            try:
                results.append(json.loads(out.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                results.append({"rounds": 0, "errors": 1, "wrong": 0, "raw_rounds": 0, "first_error": f"client exited {c.returncode}: {err.strip()[-500:]}"})
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait()
    at2 = [r for t, r in rss if t >= 120]
    growth = (rss[-1][1] / at2[0] - 1) if len(at2) >= 2 and args.minutes >= 4 else None
    summary = {
        "clients": args.clients,
        "minutes": args.minutes,
        "server_alive": alive,
        "rounds": sum(r["rounds"] for r in results),
        "raw_rounds": sum(r["raw_rounds"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "wrong": sum(r["wrong"] for r in results),
        "first_errors": [r["first_error"] for r in results if r["first_error"]],
        "rss_kib": rss,
        "rss_growth_after_minute_2": growth,
    }
    os.makedirs(os.path.join(ROOT, "target", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "target", "bench", "soak.json"), "w") as f:
        json.dump(summary, f, indent=1)
    g = "n/a (shorter than 4 min)" if growth is None else f"{growth * 100:+.1f}%"
    print(f"soak: {args.clients} clients x {args.minutes:g} min: {summary['rounds']} generate() rounds, {summary['raw_rounds']} raw sessions; "
          f"{summary['errors']} errors, {summary['wrong']} wrong results; server RSS {rss[0][1] / 1024:.0f} -> {rss[-1][1] / 1024:.0f} MiB, growth after minute 2: {g}")
    for e in summary["first_errors"][:3]:
        print(f"  first error: {e}")
    ok = alive and summary["errors"] == 0 and summary["wrong"] == 0 and (growth is None or growth < 0.05)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
