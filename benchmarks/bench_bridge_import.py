"""Start-up cost of the bridge: how long importing its modules takes in a fresh interpreter.

Each run starts a new Python (no warm module cache in the process; the OS file cache is warm
after the first) and times ``import bridge.app, bridge.conversation`` from inside it, so the
interpreter's own start is not counted. Also times ``bridge.events`` alone (the pydantic models
of the server events).

Run: ``uv run python benchmarks/bench_bridge_import.py [--runs 9]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import time; t = time.perf_counter(); import {modules}; "
         "print((time.perf_counter() - t) * 1000)")


def time_import(modules: str, runs: int) -> list[float]:
    """Milliseconds to import ``modules`` (comma-separated), once per fresh interpreter."""
    figures = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", PROBE.format(modules=modules)], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        figures.append(float(done.stdout.strip()))
    return figures


def main() -> None:
    """Parse the options, time the imports, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    time_import("bridge.app", 1)  # warm the OS file cache and the bytecode cache
    for modules in ("bridge.app, bridge.conversation", "bridge.events"):
        figures = time_import(modules, runs)
        print(f"import {modules}: median {statistics.median(figures):.0f} ms, "
              f"min {min(figures):.0f} ms, max {max(figures):.0f} ms ({runs} runs)")


if __name__ == "__main__":
    main()
