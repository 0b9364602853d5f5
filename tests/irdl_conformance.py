#!/usr/bin/env python3
"""IRDL conformance: everything genie-opt accepts, upstream MLIR accepts too;
and every accepted chunk round-trips: print(parse(x)) is a fixpoint in both
text forms, and the generic form reads back to the same custom form.

For every .mlir file under the given paths, split on `// -----` lines (as
`genie-opt --split-input-file` does) and print each chunk in MLIR's generic form
with `genie-opt --mlir-print-op-generic` (no passes). Chunks genie-opt rejects
(verifier and parse-error tests) are skipped and counted. Every accepted
chunk's generic output is verified by `mlir-opt --irdl-file=<spec>`, where the
spec is the concatenation of the checked-in `sem.irdl.mlir` and
`exec.irdl.mlir`, and must verify (exit status 0).

Two escape hatches, both counted in the summary:
  * a chunk containing a line `// MLIR-REJECTS: <reason>` documents a known gap
    between Genie's verifier and upstream MLIR (the IRDL spec, or upstream
    func's own verifier): mlir-opt must reject it (if it starts to verify,
    that is reported, so the marker gets removed);
  * files marked for lit as expected failures (an XFAIL directive) document known
    genie-opt bugs; their output is not trusted and they are skipped.

Prints "N chunks verified by mlir-opt-19, M skipped (rejected by genie-opt)"
and exits 1 listing the failures, if any.

  tests/irdl_conformance.py --genie-opt target/debug/genie-opt \\
      --mlir-opt mlir-opt-19 --irdl-dir ir/dialects --tests tests/lit examples
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

SPLIT_MARKER = "// -----"
REJECTS_MARKER = re.compile(r"^\s*//\s*MLIR-REJECTS:\s*(.*\S)", re.M)
# lit's directive, spelled so that lit does not read it as one in this file.
XFAIL_DIRECTIVE = re.compile(r"^\s*//\s*" + "XFAIL" + r":", re.M)
DIALECTS = ("sem", "exec")


def find_mlir_files(paths):
    files = []
    for p in paths:
        if os.path.isfile(p):
            files.append(p)
            continue
        if not os.path.isdir(p):
            raise SystemExit(f"irdl_conformance: no such file or directory: {p}")
        for root, dirs, names in os.walk(p):
            # lit's scratch directories hold copies and generated files.
            dirs[:] = sorted(d for d in dirs if d != "Output" and not d.startswith("."))
            files.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".mlir"))
    return files


def split_chunks(text):
    """(line number, chunk text) per `// -----`-separated chunk; the line is
    the chunk's first non-blank line, for messages."""
    chunks, current, start = [], [], 1

    def close():
        skip = next((i for i, l in enumerate(current) if l.strip()), 0)
        chunks.append((start + skip, "".join(current)))

    for lineno, line in enumerate(text.splitlines(keepends=True), 1):
        if line.rstrip() == SPLIT_MARKER:
            close()
            current, start = [], lineno + 1
        else:
            current.append(line)
    close()
    return chunks


def run(cmd, stdin_text):
    p = subprocess.run(cmd, input=stdin_text, capture_output=True, text=True, errors="replace")
    return p.returncode, p.stdout, p.stderr


def first_lines(text, n=6):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    more = len(lines) - n
    out = "\n".join("      " + l for l in lines[:n])
    return out + (f"\n      … ({more} more lines)" if more > 0 else "")


def check_chunk(args, spec_path, path, line, chunk):
    """Returns (status, message): status is verified, skipped, rejected-as-expected or failed."""
    where = f"{path}:{line}"
    rc, generic, err = run([args.genie_opt, "-", "--mlir-print-op-generic"], chunk)
    if rc != 0:
        return "skipped", None
    problem = check_round_trip(args, chunk, generic)
    if problem:
        return "failed", f"{where}: {problem}"
    expected_reject = REJECTS_MARKER.search(chunk)
    rc, out, err = run([args.mlir_opt, f"--irdl-file={spec_path}", "-o", os.devnull, "-"], generic)
    if expected_reject:
        if rc == 0:
            return "failed", (
                f"{where}: marked 'MLIR-REJECTS: {expected_reject.group(1)}' but {args.mlir_opt_name} "
                f"now verifies it; remove the marker"
            )
        return "expected-reject", None
    if rc != 0:
        return "failed", f"{where}: {args.mlir_opt_name} rejects genie-opt's generic output:\n{first_lines(err)}"
    return "verified", None


def check_round_trip(args, chunk, generic):
    """None when custom and generic printing are fixpoints and agree."""
    custom = run([args.genie_opt, "-"], chunk)[1]
    outputs = {
        "custom form printed again": run([args.genie_opt, "-"], custom),
        "generic form read back as custom": run([args.genie_opt, "-"], generic),
    }
    for what, (rc, out, err) in outputs.items():
        if rc != 0 or out != custom:
            return f"round trip failed ({what}):\n{first_lines(err or out)}"
    rc, out, err = run([args.genie_opt, "-", "--mlir-print-op-generic"], generic)
    if rc != 0 or out != generic:
        return f"round trip failed (generic form printed again):\n{first_lines(err or out)}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--genie-opt", required=True)
    ap.add_argument("--mlir-opt", default="mlir-opt-19")
    ap.add_argument("--irdl-dir", required=True, help="directory holding sem.irdl.mlir and exec.irdl.mlir")
    ap.add_argument("--tests", nargs="+", required=True, help=".mlir files or directories to scan")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 4)
    ap.add_argument("-v", "--verbose", action="store_true", help="list every chunk and its outcome")
    args = ap.parse_args()
    args.mlir_opt_name = os.path.basename(args.mlir_opt)

    spec_parts = []
    for d in DIALECTS:
        path = os.path.join(args.irdl_dir, f"{d}.irdl.mlir")
        try:
            with open(path, encoding="utf-8") as f:
                spec_parts.append(f.read())
        except OSError as e:
            raise SystemExit(f"irdl_conformance: cannot read the IRDL spec: {e}")

    jobs, xfail_files = [], 0
    for path in find_mlir_files(args.tests):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if XFAIL_DIRECTIVE.search(text):
            xfail_files += 1
            continue
        jobs.extend((path, line, chunk) for line, chunk in split_chunks(text))

    with tempfile.TemporaryDirectory(prefix="genie-irdl-") as tmp:
        spec_path = os.path.join(tmp, "genie.irdl.mlir")
        with open(spec_path, "w", encoding="utf-8") as f:
            f.write("\n".join(spec_parts))
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda j: check_chunk(args, spec_path, *j), jobs))

    counts = {"verified": 0, "skipped": 0, "expected-reject": 0, "failed": 0}
    failures = []
    for (path, line, _), (status, message) in zip(jobs, results):
        counts[status] += 1
        if args.verbose:
            print(f"{status:>15}  {path}:{line}")
        if message:
            failures.append(message)

    print(
        f"{counts['verified']} chunks verified by {args.mlir_opt_name}, "
        f"{counts['skipped']} skipped (rejected by genie-opt)"
    )
    print(
        f"{counts['expected-reject']} chunks rejected by {args.mlir_opt_name} as marked (MLIR-REJECTS), "
        f"{xfail_files} files skipped (expected to fail in lit: known genie-opt bugs)"
    )
    if counts["verified"] == 0:
        failures.append("no chunk was verified: wrong --tests paths, or genie-opt rejects everything?")
    if failures:
        print(f"{len(failures)} failure(s):", file=sys.stderr)
        for m in failures:
            print("  " + m, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
