"""A longer fuzzing run of every API route: the checks of tests/reliability/test_fuzz_api.py
with more examples per operation and mode.

Run: ``uv run python benchmarks/fuzz_long.py [--examples 500]``. Prints the per-route status
counts and the number of cases and 5xx at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Runs the fuzz module under pytest with ``FUZZ_EXAMPLES`` set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--examples", type=int, default=500,
                        help="examples per operation and generation mode")
    args = parser.parse_args()
    env = {**os.environ, "FUZZ_EXAMPLES": str(args.examples)}
    command = [sys.executable, "-m", "pytest", "tests/reliability/test_fuzz_api.py", "-q",
               "-s", "-p", "no:randomly", "-o", "timeout=3600"]
    return subprocess.call(command, cwd=REPO_ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
