"""A short soak (benches/soak.py): three clients for 20 seconds against one
server, generate() and raw sessions interleaved; no error, no wrong result,
and the server still up. `make soak` runs the 10-minute one."""

import os
import subprocess
import sys

from test_remote import BIN, ROOT


def test_a_short_soak_has_no_errors():
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benches", "soak.py"), "--clients", "3", "--minutes", "0.33", "--sample-seconds", "5"],
        capture_output=True,
        text=True,
        env={**os.environ, "GENIE_RUNTIME_BIN": BIN},
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 errors, 0 wrong results" in out.stdout, out.stdout
