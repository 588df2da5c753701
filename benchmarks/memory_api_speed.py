"""Memory search through the local API (`voice-agent dev` over HTTP) against a health check.

Target (issue "memory engine"): API search at 10k memories p50 ≤ 3 × a `GET /api/health`
round trip measured in the same run. Both go through the same stack: uvicorn, the API Gateway
stand-in, the authorizer (search only: health is open) and a Lambda handler; search adds the
JWT check, query embedding, the warm index and ranking.

    uv run python benchmarks/memory_api_speed.py [--sizes 1000 10000] [--requests 300]
                                                 [--embedder hashing|local]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_speed import fact  # noqa: E402 — the same synthetic facts as the in-process bench


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000)


def timed_requests(client: httpx.Client, count: int, request: object) -> list[float]:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        response = request(i)  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--embedder", choices=["hashing", "local"], default="hashing")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="memory-api-bench-"))
    os.environ.update({"EMBEDDINGS": args.embedder, "MEMORY_MAX_PER_USER": "1000000",
                       "VOICE_AGENT_DATA_DIR": str(data_dir)})
    import uvicorn

    from voice_agent.memory.models import AddMemoryRequest
    from voice_agent.memory.use_cases import add_memories
    from voice_agent.memory.wiring import memory_deps
    from voice_agent_cli.devserver import create_app

    app = create_app(data_dir)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)

    print(f"memory search through the local API ({args.embedder} embedder, "
          f"{args.requests} requests each, {os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
    print(f"{'memories':>9} | {'health p50/p95 ms':>18} | {'search p50/p95 ms':>18} | "
          f"{'search/health p50':>17} | target ≤ 3")
    rng = random.Random(11)
    with httpx.Client(timeout=30) as client:
        for size in args.sizes:
            user = f"bench-{size}"
            deps = memory_deps()
            started = time.perf_counter()
            for i in range(size):
                add_memories(user, AddMemoryRequest(messages=f"{fact(rng)} (#{i})", infer=False),
                             deps)
            fill_s = time.perf_counter() - started
            token = app.state.issuer.issue(user)
            headers = {"Authorization": f"Bearer {token}"}
            queries = [fact(rng).split(" ", 3)[-1] for _ in range(args.requests)]
            client.post(f"{base}/api/memory/search", headers=headers,
                        json={"query": queries[0]}).raise_for_status()  # warm the index
            health = timed_requests(client, args.requests,
                                    lambda i: client.get(f"{base}/api/health"))
            search = timed_requests(client, args.requests, lambda i, h=headers, q=queries: (
                client.post(f"{base}/api/memory/search", headers=h,
                            json={"query": q[i], "limit": 5})))
            h50, h95 = percentiles_ms(health)
            s50, s95 = percentiles_ms(search)
            print(f"{size:>9} | {h50:8.2f} / {h95:7.2f} | {s50:8.2f} / {s95:7.2f} | "
                  f"{s50 / h50:17.2f} | {'met' if s50 <= 3 * h50 else 'NOT met'}"
                  f"   (filled in {fill_s:.1f} s)")
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
