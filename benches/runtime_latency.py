#!/usr/bin/env python3
"""End-to-end latency of Genie's embedded CPU runtime against eager PyTorch
(CPU, same process, same thread count), through
``torch.compile(model, backend="genie")`` as a user calls it:

  gpt2-decode   GPT-2 small (GPT2Config(): 12 layers, 124M params, random
                init), one decode step: 1 token against a 128-token KV cache
                (a fresh copy of the cache per call, copying not timed)
  gpt2-prefill  GPT-2 small, prefill of 128 tokens
  resnet18-b1   torchvision ResNet-18 (random init), batch 1, 224x224
  resnet18-b8   the same, batch 8
  tiny-ops      1,000 elementwise ops on 16 floats: interpreter overhead,
                reported as µs per instruction (genie) next to µs per op (eager)

Each workload compiles once (the first call, reported but not timed), runs
warm-up calls, then times genie and eager samples alternately (each after
a 0.1 s pause and one untimed call of the same side, so neither pays for
the other's spinning threads): median and
min/max over 5 runs (BENCH=full: 20). Every result is checked: no eager
fallback, the graphs ran on the runtime, no recompilation while timing,
outputs close to eager (rtol 1e-4, atol 1e-5). A check that fails is printed
loudly and the script exits 1.

Threads: GENIE_BENCH_THREADS (default: os.cpu_count()) sets
torch.set_num_threads and RAYON/OPENBLAS/OMP_NUM_THREADS for both sides.

    .venv/bin/python benches/runtime_latency.py [--only tiny-ops,gpt2-decode] [--json PATH]

Writes a markdown table to stdout and JSON to target/bench/runtime_latency.json.
"""
import argparse
import copy
import json
import os
import re
import statistics
import sys
import time

# Thread counts must be in the environment before torch or genie load.
THREADS = int(os.environ.get("GENIE_BENCH_THREADS") or os.cpu_count())
for _var in ("RAYON_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import torch  # noqa: E402

import genie  # noqa: E402
from genie.graph_capture import Capture  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Seconds between the two sides' samples for idle threads to stop spinning.
SETTLE_S = 0.1
WORKLOADS = ["gpt2-decode", "gpt2-prefill", "resnet18-b1", "resnet18-b8", "tiny-ops"]
PROFILES = {"quick": {"runs": 5, "warmup": 2}, "full": {"runs": 20, "warmup": 3}}
RTOL, ATOL = 1e-4, 1e-5
TINY_OPS = 1000  # ops in the tiny-ops chain
CONTEXT = 128  # tokens of KV cache (decode) and of prompt (prefill)


class Workload:
    """``fn(*args, **kwargs)`` with fresh inputs from ``make_inputs()`` per call;
    ``output`` picks the tensor compared with eager; ``inner`` calls per sample."""

    def __init__(self, fn, make_inputs, output=lambda r: r, dynamic=None, inner=1):
        self.fn, self.make_inputs, self.output, self.dynamic, self.inner = fn, make_inputs, output, dynamic, inner


def gpt2(name, layers):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0)
    if layers is not None:
        cfg.n_layer = layers
    model = GPT2LMHeadModel(cfg).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, CONTEXT))
    logits = lambda r: r.logits  # noqa: E731
    if name == "gpt2-prefill":
        return Workload(model, lambda: ((ids,), {"use_cache": True}), logits, dynamic=True)
    cache = model(ids, use_cache=True).cache  # 128 tokens of context, built eagerly once
    tok = torch.randint(0, cfg.vocab_size, (1, 1))
    # A forward call appends to the cache in place: every call gets its own copy.
    return Workload(model, lambda: ((tok,), {"cache": copy.deepcopy(cache), "use_cache": True}), logits, dynamic=True)


def resnet18(batch):
    import torchvision

    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    return Workload(model, lambda: ((x,), {}))


def tiny_chain(x):
    for _ in range(TINY_OPS // 4):
        x = x + 0.5
        x = x * 0.9
        x = torch.relu(x)
        x = x - 0.25
    return x


@torch.no_grad()
def build(name, layers):
    torch.manual_seed(0)
    if name.startswith("gpt2"):
        return gpt2(name, layers)
    if name.startswith("resnet18"):
        return resnet18(int(name.split("-b")[1]))
    x = torch.randn(16)
    return Workload(tiny_chain, lambda: ((x,), {}), inner=20)


def timed(fn, workload):
    """Seconds per call of one sample (``inner`` calls), and the last result."""
    total = 0.0
    for _ in range(workload.inner):
        args, kwargs = workload.make_inputs()  # not timed (cache copies)
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        total += time.perf_counter() - t0
    return total / workload.inner, result


def stats(samples):
    ms = sorted(s * 1e3 for s in samples)
    q = statistics.quantiles(ms, n=4) if len(ms) > 1 else [ms[0]] * 3
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "max_ms": ms[-1], "p25_ms": q[0], "p75_ms": q[2], "samples_ms": ms}


def plan_instructions(graph):
    """Instructions in the graph's plan, or None."""
    counts = [re.search(r"(\d+) instructions", genie.disassemble(p)) for p in graph.module.compile().plans]
    return sum(int(m.group(1)) for m in counts) if all(counts) else None


def measure(name, workload, runs, warmup):
    torch._dynamo.reset()
    cap = Capture(execute=True)  # what backend="genie" builds, kept to read its counters
    compiled = torch.compile(workload.fn, backend=cap.backend(), dynamic=workload.dynamic)
    with torch.no_grad():
        args, kwargs = workload.make_inputs()
        t0 = time.perf_counter()
        compiled(*args, **kwargs)  # Dynamo + aot_autograd + Genie compile + first run
        first_call_s = time.perf_counter() - t0
        for _ in range(warmup - 1):
            timed(compiled, workload)
        for _ in range(warmup):
            timed(workload.fn, workload)
        graphs, calls = len(cap.graphs), cap.runtime_calls
        genie_s, eager_s = [], []
        # Alternate, so drift hits both sides alike. Idle worker threads spin
        # for a while after work (OpenMP's for ~10+ ms, then rayon's and
        # OpenBLAS's): a pause lets the other side's go to sleep, so neither
        # side pays for the other's leftovers (a program runs one or the
        # other, not both), and one untimed call then warms this side up.
        for _ in range(runs):
            time.sleep(SETTLE_S)
            timed(compiled, workload)
            s, got = timed(compiled, workload)
            genie_s.append(s)
            time.sleep(SETTLE_S)
            timed(workload.fn, workload)
            s, want = timed(workload.fn, workload)
            eager_s.append(s)
    got, want = workload.output(got), workload.output(want)
    diff = (got.float() - want.float()).abs().max().item()
    calls_per_call = (cap.runtime_calls - calls) / (runs * workload.inner)

    problems = [f"eager fallback: {r}" for r in cap.fallbacks]
    if calls_per_call == 0:
        problems.append("the runtime ran no graph: every call was eager")
    if len(cap.graphs) != graphs:
        problems.append(f"recompiled while timing ({graphs} -> {len(cap.graphs)} graphs)")
    if not torch.allclose(got, want, rtol=RTOL, atol=ATOL):
        problems.append(f"output differs from eager beyond rtol {RTOL}, atol {ATOL} (max abs diff {diff:.3g})")
    instructions = [plan_instructions(g) for g in cap.graphs]
    fx_ops = [sum(1 for n in g.fx.graph.nodes if n.op == "call_function") for g in cap.graphs]
    if name == "tiny-ops" and (not instructions or (instructions[0] or 0) < TINY_OPS):
        problems.append(f"the captured graph lost ops: plan instructions {instructions}, expected >= {TINY_OPS}")

    result = {
        "genie": stats(genie_s),
        "eager": stats(eager_s),
        "first_call_s": first_call_s,
        "dynamic": workload.dynamic,
        "calls_per_sample": workload.inner,
        "graphs": len(cap.graphs),
        "runtime_calls_per_call": calls_per_call,
        "fx_ops": fx_ops,
        "plan_instructions": instructions,
        "fallbacks": list(cap.fallbacks),
        "max_abs_diff": diff,
        "problems": problems,
        "valid": not problems,
    }
    result["ratio"] = result["genie"]["median_ms"] / result["eager"]["median_ms"]
    if name == "tiny-ops":
        result["genie_us_per_instruction"] = result["genie"]["median_ms"] * 1e3 / TINY_OPS
        result["eager_us_per_op"] = result["eager"]["median_ms"] * 1e3 / TINY_OPS
    return result


def fmt_ms(s):
    return f"{s['median_ms']:.3f} ({s['min_ms']:.3f}–{s['max_ms']:.3f})"


def table(results):
    lines = [
        "| workload | genie ms, median (min–max) | eager ms, median (min–max) | genie/eager | max abs diff | first call s | check |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | n/a | n/a | n/a | n/a | n/a | **ERROR** |")
            continue
        ok = r["valid"]
        genie_cell = fmt_ms(r["genie"]) if ok else "**n/a (check failed)**"
        ratio = f"{r['ratio']:.2f}×" if ok else "**n/a**"
        lines.append(
            f"| {name} | {genie_cell} | {fmt_ms(r['eager'])} | {ratio} | {r['max_abs_diff']:.2g} | "
            f"{r['first_call_s']:.1f} | {'ok' if ok else '**FAILED**'} |"
        )
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--json", default=os.path.join(ROOT, "target/bench/runtime_latency.json"), help="where to write the results")
    ap.add_argument("--runs", type=int, help="timed runs per workload (default: 5, BENCH=full: 20)")
    ap.add_argument("--layers", type=int, help=argparse.SUPPRESS)  # smaller GPT-2, for developing this script
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workloads {sorted(unknown)}; known: {','.join(WORKLOADS)}")
    profile = os.environ.get("BENCH", "quick")
    if profile not in PROFILES:
        ap.error(f"BENCH={profile}: expected one of {', '.join(PROFILES)}")
    runs = args.runs or PROFILES[profile]["runs"]
    warmup = PROFILES[profile]["warmup"]

    torch.set_num_threads(THREADS)
    print(f"threads: {THREADS} (torch.get_num_threads() = {torch.get_num_threads()}, RAYON/OPENBLAS/OMP_NUM_THREADS = {THREADS})")
    print(f"profile: {profile}: {warmup} warm-up calls (the first compiles), median of {runs} timed runs; torch {torch.__version__}, genie {genie.__version__}")
    if args.layers is not None:
        print(f"GPT-2 with {args.layers} layers instead of 12 (--layers)")
    load_before = os.getloadavg()[0]
    # Eager's OpenMP threads slow down most when they share cores: on a busy
    # machine eager loses far more than genie and the ratios flatter genie.
    busy = " (busy machine: numbers are noisy and eager suffers most; rerun when idle)" if load_before >= 1 else ""
    print(f"load average (1 min) before: {load_before:.2f}{busy}")
    sys.stdout.flush()

    results = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = measure(name, build(name, args.layers), runs, warmup)
        except Exception as e:  # noqa: BLE001 - reported below, the other workloads still run
            results[name] = {"error": f"{type(e).__name__}: {e}", "valid": False}

    load_after = os.getloadavg()[0]
    print(f"load average (1 min) after: {load_after:.2f}")
    print()
    print(table(results))
    for name, r in results.items():
        if name == "tiny-ops" and "error" not in r:
            print(
                f"\ntiny-ops: genie {r['genie_us_per_instruction']:.3f} µs per instruction, "
                f"eager {r['eager_us_per_op']:.3f} µs per op ({TINY_OPS} ops; FX ops {r['fx_ops']}, plan instructions {r['plan_instructions']})"
            )
    failed = {n: r for n, r in results.items() if not r["valid"]}
    for name, r in failed.items():
        print(f"\n!!! {name}: NOT A VALID GENIE MEASUREMENT")
        for p in r.get("problems") or [r["error"]]:
            print(f"!!!   {p}")

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        meta = {"threads": THREADS, "profile": profile, "runs": runs, "warmup": warmup, "gpt2_layers": args.layers or 12,
                "torch": torch.__version__, "genie": genie.__version__, "loadavg_before": load_before, "loadavg_after": load_after}
        json.dump({**meta, "workloads": results}, f, indent=2)
    print(f"\nJSON: {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
