"""Adds (``infer=false``) through ``voice-agent dev`` of two checkouts, timed in the same run.

The adds target of the performance work is relative ("≥ 2 × today"), and a whole run on this
shared machine can be 30% slower than another, so the two trees are measured side by side:
both dev servers run at once (each its own process, its own data dir, the same number of
memories), and the timed adds go to them in alternating blocks of 50, over HTTP only, so any
two trees with the same API can be compared.

    git worktree add ../before a3a7e9a^1 && (cd ../before && uv sync)
    uv run python benchmarks/bench_adds_before_after.py ../before . [--size 10000]

``a3a7e9a^1`` is the tree before the performance work (numpy MiniLM).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_paths import fact, free_port  # noqa: E402

BATCH = 50  # the most one add request takes


def start_dev(tree: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """``voice-agent dev`` of ``tree`` on a free port with a fresh data dir; URL and auth."""
    data_dir, port = tempfile.mkdtemp(prefix="bench-adds-"), free_port()
    env = {**os.environ, "MEMORY_MAX_PER_USER": "1000000", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("VIRTUAL_ENV", None)
    command = str(tree / ".venv" / "bin" / "voice-agent")
    process = subprocess.Popen([command, "dev", "--port", str(port), "--data-dir", data_dir],
                               cwd=tree, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/api/health").raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    token = subprocess.check_output([command, "token", "--user", "bench-user", "--data-dir",
                                     data_dir], cwd=tree, env=env, text=True).strip()
    return process, base, {"Authorization": f"Bearer {token}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    servers = {name: start_dev(tree) for name, tree in trees.items()}
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.size} memories "
          f"each; {args.requests} sequential adds per tree in alternating blocks of {BATCH}")
    rng = random.Random(7)
    queries = [fact(rng) for _ in range(args.requests * 2)]
    times: dict[str, list[float]] = {name: [] for name in servers}
    try:
        with httpx.Client(timeout=60) as client:
            for name, (_, base, headers) in servers.items():
                started = time.perf_counter()
                for start in range(0, args.size, BATCH):
                    turns = [{"role": "user", "content": f"{fact(rng)} (#{i})"}
                             for i in range(start, min(start + BATCH, args.size))]
                    client.post(f"{base}/api/memory", headers=headers,
                                json={"messages": turns, "infer": False}).raise_for_status()
                print(f"  {name} ({trees[name]}): filled in {time.perf_counter() - started:.1f} s")
            count = 0
            for _ in range(0, args.requests, BATCH):
                for name, (_, base, headers) in servers.items():
                    for _ in range(BATCH):
                        count += 1
                        body = {"messages": f"{queries[count % len(queries)]} added {count}",
                                "infer": False}
                        started = time.perf_counter()
                        client.post(f"{base}/api/memory", headers=headers,
                                    json=body).raise_for_status()
                        times[name].append((time.perf_counter() - started) * 1000)
    finally:
        for process, _, _ in servers.values():
            process.terminate()
    rates = {name: 1000 / statistics.mean(xs) for name, xs in times.items()}
    for name, xs in times.items():
        print(f"  {name:6s} POST /api/memory infer=false  p50 {statistics.median(xs):6.2f} ms  "
              f"{rates[name]:6.1f} adds/s")
    print(f"  after / before: {rates['after'] / rates['before']:.2f}x (target >= 2x)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
