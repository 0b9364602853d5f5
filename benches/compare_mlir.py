#!/usr/bin/env python3
"""Genie's IR front end against upstream MLIR 19 on the same module, same run.

Generates the 20,000-op GPT-2-like module (benches/src/lib.rs), prints it in
MLIR's generic form, then times whole processes reading it, verifying it and
printing it back (generic form, to /dev/null):

  genie-opt   --mlir-print-op-generic
  mlir-opt-19 --irdl-file=<sem+exec IRDL> --mlir-print-op-generic

Both include process start-up; mlir-opt also loads the IRDL spec, so a third
row times mlir-opt on an empty module to show that fixed cost. Medians of
--runs runs; results go to target/bench/compare_mlir.json.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def time_runs(cmd, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    mlir_opt = shutil.which("mlir-opt-19")
    if not mlir_opt:
        print("compare_mlir: mlir-opt-19 not found (Debian package mlir-19-tools); skipping", file=sys.stderr)
        return 0
    run(["cargo", "build", "-q", "--release", "-j2", "-p", "genie-opt"])
    run(["cargo", "build", "-q", "--release", "-j2", "-p", "genie-benches", "--examples"])
    genie_opt = os.path.join(ROOT, "target/release/genie-opt")
    work = tempfile.mkdtemp(prefix="genie-bench-")
    custom, generic = os.path.join(work, "module.mlir"), os.path.join(work, "module.generic.mlir")
    empty = os.path.join(work, "empty.mlir")
    irdl = os.path.join(work, "genie.irdl.mlir")
    with open(custom, "w") as f:
        run([os.path.join(ROOT, "target/release/examples/gen_module"), str(args.ops)], stdout=f)
    run([genie_opt, custom, "--mlir-print-op-generic", "-o", generic])
    with open(irdl, "w") as f:
        for d in ("sem", "exec"):
            f.write(open(os.path.join(ROOT, "ir/dialects", f"{d}.irdl.mlir")).read())
    with open(empty, "w") as f:
        f.write("// empty: mlir-opt wraps it in an implicit module\n")

    rows = {
        "genie-opt": time_runs([genie_opt, generic, "--mlir-print-op-generic", "-o", "/dev/null"], args.runs),
        "mlir-opt-19": time_runs([mlir_opt, f"--irdl-file={irdl}", generic, "--mlir-print-op-generic", "-o", "/dev/null"], args.runs),
        "mlir-opt-19 (empty module)": time_runs([mlir_opt, f"--irdl-file={irdl}", empty, "-o", "/dev/null"], args.runs),
    }
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"parse + verify + print, {args.ops}-op module, generic form, median of {args.runs} runs")
    for k, v in rows.items():
        print(f"  {k:<28} {med[k]:8.1f} ms   (min {min(v):.1f}, max {max(v):.1f})")
    ratio = med["mlir-opt-19"] / med["genie-opt"]
    print(f"  mlir-opt-19 / genie-opt: {ratio:.2f}x")
    out_dir = os.path.join(ROOT, "target/bench")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "compare_mlir.json"), "w") as f:
        json.dump({"ops": args.ops, "runs": args.runs, "samples_ms": rows, "median_ms": med, "ratio": ratio}, f, indent=2)
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
