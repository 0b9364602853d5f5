#!/usr/bin/env python3
"""Genie against the systems users would pick instead, on an emulated
datacenter network, side by side in one run.

    sudo .venv/bin/python benches/network/suite.py            # quick profile
    BENCH=full .venv/bin/python benches/network/suite.py      # every profile

For each network profile (netns.PROFILES) it starts the servers in the
server namespace (genie-runtime, and a PyTorch RPC worker per RPC run) and
runs every (workload, baseline) pair as its own client process in the
client namespace (client.py); local eager and inductor run once, without a
network. Results go to target/bench/network.json; report.py turns them into
docs/benchmarks.md's network section and docs/figures/*.png.

Without root it says so and runs the loopback profile in this namespace.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402
import report  # noqa: E402
from workloads import WORKLOADS  # noqa: E402

ROOT = netns.ROOT
SERVER = os.environ.get("GENIE_RUNTIME_BIN", os.path.join(ROOT, "target", "release", "genie-runtime"))
PYTHON = sys.executable
REMOTE_BASELINES = ["genie", "stateless", "op_by_op", "rpc"]

PLANS = {
    # Quick: the profile the goals are stated for, every baseline; 5 runs of 8 decode steps.
    "quick": {"profiles": ["25g_20us"], "local": ["eager", "inductor", "genie_local"], "reps": 5, "tokens": 8},
    "full": {"profiles": list(netns.PROFILES), "local": ["eager", "inductor", "genie_local"], "reps": 7, "tokens": 32},
    # Smoke: does every pair run at all (figures not meaningful).
    "smoke": {"profiles": ["loopback"], "local": ["eager"], "reps": 1, "tokens": 2},
}
GENIE_PORT, RPC_PORT = 7400, 29500


def run_client(cmd, env, timeout):
    """One client process; its JSON result, or an ``error`` entry."""
    t = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines or not lines[-1].startswith("{"):
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit status {out.returncode}: {tail}", "wall_seconds": time.perf_counter() - t}
    return json.loads(lines[-1])


def client_argv(workload, baseline, plan, link=None):
    argv = [PYTHON, os.path.join(HERE, "client.py"), "--workload", workload, "--baseline", baseline, "--reps", str(plan["reps"]), "--tokens", str(plan["tokens"])]
    if link is not None:
        argv += ["--url", f"tcp://{link.server_ip}:{GENIE_PORT}", "--rpc", f"{link.server_ip}:{RPC_PORT}", "--iface", link.client_iface]
    return argv


def env_for(iface):
    env = dict(os.environ, GENIE_QUIET="1", PYTHONWARNINGS="ignore")
    if iface:
        # PyTorch RPC (TensorPipe and its Gloo rendezvous) binds by interface.
        env.update(TP_SOCKET_IFNAME=iface, GLOO_SOCKET_IFNAME=iface)
    return env


def start_genie(link):
    proc = subprocess.Popen(link.server_cmd([SERVER, "serve", "--listen", f"{link.server_ip}:{GENIE_PORT}", "--insecure"]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"genie-runtime did not start in {link.name}: {line!r}")
    return proc


def run_rpc(link, workload, plan, timeout):
    server = subprocess.Popen(
        link.server_cmd([PYTHON, os.path.join(HERE, "rpc_worker.py"), f"{link.server_ip}:{RPC_PORT}"]),
        env=env_for(link.server_iface),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return run_client(link.client_cmd(client_argv(workload, "rpc", plan, link)), env_for(link.client_iface), timeout)
    finally:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plan", choices=sorted(PLANS), default=os.environ.get("BENCH", "quick"))
    p.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--baselines", nargs="*", default=None, help="default: every baseline the plan names")
    p.add_argument("--out", default=os.path.join(ROOT, "target", "bench", "network.json"))
    p.add_argument("--timeout", type=int, default=1200, help="seconds per client process")
    p.add_argument("--no-report", action="store_true")
    args = p.parse_args()
    plan = dict(PLANS[args.plan])
    reason = netns.why_not_emulated()
    if reason:
        log(f"network suite: no emulated network ({reason}); running the loopback profile in this namespace only")
        plan["profiles"] = ["loopback"]
    wanted = set(args.baselines or plan["local"] + REMOTE_BASELINES)
    results, links = [], {}
    started = time.time()

    def record(r, workload, baseline, profile):
        r.update(workload=workload, baseline=baseline, profile=profile)
        log(f"  {profile:10} {workload:18} {baseline:10} " + (f"error: {r['error']}" if "error" in r else f"{r['seconds'] * 1e3:9.2f} ms  {r.get('bytes') or 0:12.0f} B  rt {r.get('round_trips')}  ({r['wall_seconds']:.0f} s)"))
        results.append(r)

    for workload in args.workloads:
        for baseline in plan["local"]:
            if baseline in wanted:
                record(run_client(client_argv(workload, baseline, plan), env_for(None), args.timeout), workload, baseline, "local")

    network = netns.Network() if not reason else None
    # Without root, both ends share this namespace, on 127.0.0.1.
    here = netns.Link("loopback", None, None, "127.0.0.1", "lo", "lo")
    with network or contextlib.nullcontext():
        for profile in plan["profiles"]:
            with network.profile(profile) if network else contextlib.nullcontext(here) as link:
                links[profile] = netns.probe(link)
                log(f"profile {profile}: measured {links[profile]}")
                genie = start_genie(link)
                try:
                    for workload in args.workloads:
                        for baseline in REMOTE_BASELINES:
                            if baseline not in wanted:
                                continue
                            if baseline == "rpc":
                                r = run_rpc(link, workload, plan, args.timeout)
                            else:
                                r = run_client(link.client_cmd(client_argv(workload, baseline, plan, link)), env_for(link.client_iface), args.timeout)
                            record(r, workload, baseline, profile)
                finally:
                    genie.terminate()
                    genie.wait()

    doc = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "plan": args.plan,
            "reps": plan["reps"],
            "decode_steps_per_run": plan["tokens"],
            "emulated": reason is None,
            "not_emulated_because": reason,
            "links": links,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
            "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "suite_seconds": round(time.time() - started),
        },
        "results": results,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    log(f"wrote {args.out}")
    if not args.no_report:
        report.write(doc)


if __name__ == "__main__":
    main()
