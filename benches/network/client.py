#!/usr/bin/env python3
"""One (workload, baseline) measurement, run by ``suite.py`` inside the
client network namespace. Prints one JSON object on its last stdout line.

Baselines (same workload; where a server runs the model it is the same
genie-runtime and kernels, so only the disaggregation strategy differs):

* ``eager`` / ``inductor``: local PyTorch, no network;
* ``genie_local``: Genie's embedded runtime, no network (what the same
  kernels cost without disaggregation);
* ``genie``: ``torch.compile(backend="genie")`` on the remote server;
* ``stateless``: the same graphs, semantics-blind — every input shipped
  (KV cache included), every output returned (weights stay resident);
* ``op_by_op``: the driver-API style of rCUDA/Bitfusion — every PyTorch op
  one synchronous request, tensors stay on the server, reads come back;
* ``rpc``: ``torch.distributed.rpc`` with a ``RemoteModule`` running eager
  PyTorch on the server (``workloads.Served``).

Bytes are counted on the client's network interface (TCP/IP headers
included), round trips by the client library (Genie's counter; one per
``rpc_sync`` for RPC).
"""

import argparse
import json
import logging
import os
import statistics
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines  # noqa: E402,F401 - registers the stateless and op_by_op modes
from workloads import WORKLOADS, Decode, Served  # noqa: E402

warnings.filterwarnings("ignore")
logging.getLogger("transformers").setLevel(logging.ERROR)


class Wire:
    """Bytes through one network interface (both directions); always 0
    without one (the local baselines)."""

    def __init__(self, iface):
        self.iface = iface

    def total(self):
        if self.iface is None:
            return 0
        base = f"/sys/class/net/{self.iface}/statistics/"
        with open(base + "tx_bytes") as f:
            tx = int(f.read())
        if self.iface == "lo":  # every loopback packet is counted once, as sent
            return tx
        with open(base + "rx_bytes") as f:
            return tx + int(f.read())


def round_trip_counter(baseline):
    """Genie's cumulative round-trip counter for the baselines on its
    client; a constant 0 for the local ones."""
    if baseline not in ("genie", "stateless", "op_by_op"):
        return lambda: 0
    import genie

    return lambda: genie.stats()["round_trips"]


def compiled(workload, model, **kwargs):
    """``torch.compile`` with ``kwargs``; in place for decoding, because
    ``torch.compile(model).generate()`` would run the eager forward."""
    if isinstance(workload, Decode):
        model.compile(**kwargs)
        return model
    return torch.compile(model, **kwargs)


def prepare(baseline, workload, model, url):
    """``model`` made ready to run under ``baseline``; returns the callable
    module to hand to ``workload.read`` (or ``generate``)."""
    if baseline == "eager":
        return model
    if baseline == "inductor":
        return compiled(workload, model)
    if baseline == "genie_local":
        return compiled(workload, model, backend="genie")
    if baseline in ("genie", "stateless"):
        opts = {"remote": url, "fallback": "error"}
        if baseline == "stateless":
            opts["remote_mode"] = "stateless"
        return compiled(workload, model, backend="genie", options=opts)
    if baseline == "op_by_op":
        return baselines.pin_module(model, {"remote": url, "remote_mode": "op_by_op"})
    raise SystemExit(f"unknown baseline {baseline!r}")


def local(x):
    """The value a program reads (a remote tensor is fetched)."""
    if isinstance(x, torch.Tensor):
        return x.cpu() if type(x) is not torch.Tensor else x
    return x


class StepClock:
    """A logits processor stamping each decode step: time, wire bytes,
    round trips. It changes nothing."""

    def __init__(self, wire, round_trips):
        self.wire, self.round_trips, self.marks = wire, round_trips, []

    def __call__(self, input_ids, scores):
        self.marks.append((time.perf_counter(), self.wire.total(), self.round_trips()))
        return scores


def per_step(marks):
    """Mean seconds, bytes and round trips per step between the marks (the
    first mark follows the prefill, which is left out)."""
    (t0, b0, r0), (t1, b1, r1) = marks[0], marks[-1]
    n = len(marks) - 1
    return (t1 - t0) / n, (b1 - b0) / n, (r1 - r0) / n


def run_decode(args, workload, wire):
    from transformers import LogitsProcessorList

    model, (prompt,) = workload.build()
    gen = prepare(args.baseline, workload, model, args.url)
    runs, tokens = [], None
    for rep in range(args.reps + 1):  # the first run warms up (compile, upload)
        clock = StepClock(wire, round_trip_counter(args.baseline))
        with torch.no_grad():
            out = gen.generate(prompt, max_new_tokens=args.tokens + 1, do_sample=False, pad_token_id=0, logits_processor=LogitsProcessorList([clock]))
        tokens = local(out)[0, prompt.shape[1] :].tolist()
        if rep:
            runs.append(per_step(clock.marks))
    return runs, tokens


# The RemoteModule is called through its module RRef
# (``module_rref.rpc_sync().forward``): the forward RemoteModule generates
# fails to unpickle on the server for some models here (torch 2.14:
# "No module named '_remote_module_non_scriptable'").


def run_decode_rpc(args, workload, wire):
    from torch.distributed.nn.api.remote_module import RemoteModule

    served = RemoteModule("server/cpu", Served, args=(workload.name,))
    _, (prompt,) = workload.build()
    runs, tokens = [], None
    for rep in range(args.reps + 1):
        tok = served.module_rref.rpc_sync().forward(prompt, True)
        marks, tokens = [], [tok.item()]
        for step in range(args.tokens + 1):
            # One rpc_sync per step: ``step`` counts the round trips.
            marks.append((time.perf_counter(), wire.total(), step))
            if step < args.tokens:
                tok = served.module_rref.rpc_sync().forward(tok, False)
                tokens.append(tok.item())
        if rep:
            runs.append(per_step(marks))
    return runs, tokens


def run_calls(args, workload, wire):
    model, inputs = workload.build()
    if args.baseline == "rpc":
        from torch.distributed.nn.api.remote_module import RemoteModule

        served = RemoteModule("server/cpu", Served, args=(workload.name,))
        sent = [0]

        def call():
            sent[0] += 1  # one rpc_sync
            return served.module_rref.rpc_sync().forward(*inputs)

        def rts():
            return sent[0]

    else:
        module = prepare(args.baseline, workload, model, args.url)

        def call():
            with torch.no_grad():
                return local(workload.read(module, inputs))

        rts = round_trip_counter(args.baseline)
    for _ in range(args.warmup):
        call()
    runs = []
    for _ in range(args.reps):
        b0, r0, t0 = wire.total(), rts(), time.perf_counter()
        out = call()
        t1, b1, r1 = time.perf_counter(), wire.total(), rts()
        runs.append((t1 - t0, b1 - b0, r1 - r0))
    return runs, local(out).flatten()[:8].tolist()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--baseline", required=True, choices=["eager", "inductor", "genie_local", "genie", "stateless", "op_by_op", "rpc"])
    p.add_argument("--url", help="genie-runtime address (tcp://host:port)")
    p.add_argument("--rpc", help="RPC rendezvous host:port (the rpc baseline)")
    p.add_argument("--iface", help="the interface whose bytes are counted")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--tokens", type=int, default=8, help="decode steps per run")
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    torch.manual_seed(0)
    workload = WORKLOADS[args.workload]
    wire = Wire(args.iface)
    if args.baseline == "rpc":
        import torch.distributed.rpc as rpc

        rpc.init_rpc("client", rank=1, world_size=2, rpc_backend_options=rpc_options(args.rpc))
    start = time.perf_counter()
    try:
        if isinstance(workload, Decode):
            runs, check = (run_decode_rpc if args.baseline == "rpc" else run_decode)(args, workload, wire)
        else:
            runs, check = run_calls(args, workload, wire)
    finally:
        if args.baseline == "rpc":
            import torch.distributed.rpc as rpc

            rpc.shutdown()
    secs = [r[0] for r in runs]
    result = {
        "workload": args.workload,
        "baseline": args.baseline,
        "unit": workload.unit,
        "per_call": workload.per_call,
        "runs": len(runs),
        "seconds": statistics.median(secs),
        "seconds_min": min(secs),
        "seconds_max": max(secs),
        "bytes": statistics.median(r[1] for r in runs) if args.iface else None,
        "round_trips": statistics.median(r[2] for r in runs) if args.baseline not in ("eager", "inductor", "genie_local") else None,
        "check": check,
        "wall_seconds": time.perf_counter() - start,
    }
    print(json.dumps(result))


def rpc_options(rendezvous):
    import torch.distributed.rpc as rpc

    # TCP only ("uv"), no shared-memory channels: the bytes must cross the
    # emulated network like everyone else's.
    return rpc.TensorPipeRpcBackendOptions(init_method=f"tcp://{rendezvous}", _transports=["uv"], _channels=["basic"], num_worker_threads=4, rpc_timeout=600)


if __name__ == "__main__":
    main()
