"""expect-exit.py STATUS CMD ARGS…: run CMD, pass its stdout and stderr
through, and succeed only if it exits with exactly STATUS (lit's `not` only
checks for a non-zero status)."""
import subprocess
import sys

want = int(sys.argv[1])
p = subprocess.run(sys.argv[2:])
if p.returncode != want:
    print(f"expect-exit: {sys.argv[2]} exited with status {p.returncode}, expected {want}", file=sys.stderr)
    sys.exit(1)
