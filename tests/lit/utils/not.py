"""`not CMD ARGS…` for lit's external shell (LIT_USE_INTERNAL_SHELL=0): runs
CMD and inverts its status, like LLVM's `not` tool (lit's internal shell has
`not` built in). A command killed by a signal still counts as a failure of
`not`, as with LLVM's `not` without --crash."""
import subprocess
import sys

if len(sys.argv) < 2:
    sys.exit("usage: not.py CMD [ARGS…]")
try:
    status = subprocess.call(sys.argv[1:])
except OSError as e:
    print(f"not: cannot run {sys.argv[1]}: {e}", file=sys.stderr)
    sys.exit(1)
sys.exit(0 if status > 0 else 1)
