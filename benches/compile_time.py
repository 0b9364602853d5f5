#!/usr/bin/env python3
"""Genie's own compile time for a 12-layer GPT-2 small graph (124M-parameter
config, random weights, prefill of 128 tokens), excluding TorchDynamo and
aot_autograd: FX export → import into `sem` (verified) → `sem` pipeline →
plan bytecode. Median of --runs runs per step; results go to
target/bench/compile_time.json.

The goal (end-to-end issue) is ≤ 50 ms for FX import → plan bytecode; the
exec lowering is not built yet, so this measures the steps that exist.
"""
import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=128)
    args = ap.parse_args()

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    import genie
    from genie.fx_export import export_graph
    from genie.graph_capture import Capture

    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = GPT2LMHeadModel(GPT2Config()).eval()  # 124M parameters, random init
    cap = Capture()
    compiled = torch.compile(model, backend=cap.backend())
    with torch.no_grad():
        compiled(torch.randint(0, 50257, (1, args.tokens)), use_cache=False)
    (graph,) = [g for g in cap.graphs if g.kind == "inference"]
    gm = graph.fx
    nodes = sum(1 for n in gm.graph.nodes if n.op == "call_function")

    steps = {"export (Python)": [], "import + verify": [], "sem": [], "annotate": [], "exec": [], "plan": []}
    for _ in range(args.runs):
        t0 = time.perf_counter()
        text = export_graph(gm, "forward")
        t1 = time.perf_counter()
        m = genie.import_fx(text)
        t2 = time.perf_counter()
        program = m.compile()
        steps["export (Python)"].append((t1 - t0) * 1000)
        steps["import + verify"].append((t2 - t1) * 1000)
        for name, seconds in program.timings:
            steps[name].append(seconds * 1000)
    plans = program.plans
    med = {k: statistics.median(v) for k, v in steps.items()}
    total = sum(med.values())
    print(f"GPT-2 small (12 layers), prefill {args.tokens} tokens: {nodes} FX nodes, {m.num_ops} sem ops imported, "
          f"plan {len(plans[0])} bytes; median of {args.runs} runs")
    for k, v in med.items():
        print(f"  {k:<18} {v:8.2f} ms")
    print(f"  {'total':<18} {total:8.2f} ms   (goal: <= 20 ms for FX graph -> plan)")
    out = os.path.join(ROOT, "target/bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "compile_time.json"), "w") as f:
        json.dump({"fx_nodes": nodes, "sem_ops": m.num_ops, "runs": args.runs, "median_ms": med, "total_ms": total}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
