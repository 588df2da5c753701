"""Load test of ``voice-agent dev``: mixed routes at rising concurrency, bounded in time.

The script starts everything it needs on 127.0.0.1 — loopback fakes of OpenAI (client
secrets) and Tavily (search), then a ``voice-agent dev`` subprocess pointed at them — signs in
a few users through the dev issuer, seeds their memories, and then runs closed-loop workers
(each sends its next request when the previous one answered) for an equal share of
``--duration`` at each concurrency of ``--levels``. The route of each request is drawn from a
fixed mix (health, options, memory search/add/list, session minting, web search).

The fakes run in their own process, so the load generator, the fakes and the server do not
share one interpreter lock. It prints, per concurrency level and route: requests,
throughput, p50/p95/p99 latency and the error rate (any non-2xx or transport error), and the
lowest concurrency at which p95 reaches twice its value at the first level. Nothing leaves
the machine; the run is bounded by ``--duration`` (plus start-up).

Run: ``uv run python benchmarks/load.py [--duration 60] [--levels 1,4,16,32]
[--embeddings local|hashing] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.servers import clean_process_env, dev_server_process  # noqa: E402

USERS = 8
SEED_MEMORIES_PER_USER = 40
QUERIES = ["where does the user work", "favourite food", "dog's name", "sister in Porto",
           "what music do they like", "birthday", "which languages", "coffee or tea"]

# route name → (weight, request builder)
Request = tuple[str, str, dict[str, Any] | None]


def _add_body(rng: random.Random) -> dict[str, Any]:
    return {"messages": f"Load fact {rng.getrandbits(48):012x} about the garden",
            "infer": False}


ROUTE_MIX: dict[str, tuple[int, Callable[[random.Random], Request]]] = {
    "GET /api/health": (10, lambda rng: ("GET", "/api/health", None)),
    "GET /api/voice-agent/options": (10, lambda rng: ("GET", "/api/voice-agent/options", None)),
    "POST /api/memory/search": (30, lambda rng: (
        "POST", "/api/memory/search", {"query": rng.choice(QUERIES), "limit": 5})),
    "POST /api/memory": (15, lambda rng: ("POST", "/api/memory", _add_body(rng))),
    "GET /api/memory": (15, lambda rng: ("GET", "/api/memory?limit=20", None)),
    "POST /api/voice-agent": (10, lambda rng: ("POST", "/api/voice-agent", {})),
    "POST /api/search": (10, lambda rng: (
        "POST", "/api/search", {"query": rng.choice(QUERIES), "max_results": 3})),
}


@dataclass
class LevelResult:
    """Latencies (seconds) and errors per route at one concurrency level."""

    concurrency: int
    elapsed_s: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: dict[str, str] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine_description() -> str:
    """Cores, CPU model and Python version of this machine."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {model}, Python {platform.python_version()} "
            f"({platform.system()} {platform.release()})")


async def sign_in(client: httpx.AsyncClient, users: int) -> list[dict[str, str]]:
    """Dev-issuer tokens for ``users`` users, as Authorization headers."""
    headers = []
    for i in range(users):
        response = await client.post("/dev/token", json={"user": f"load-user-{i}"})
        response.raise_for_status()
        headers.append({"authorization": f"Bearer {response.json()['token']}"})
    return headers


async def seed_memories(client: httpx.AsyncClient, auth: list[dict[str, str]]) -> None:
    """Gives every user memories to search and list."""
    rng = random.Random(1)
    for headers in auth:
        messages = [{"content": f"{rng.choice(QUERIES).capitalize()}: seeded fact {i} "
                                f"{rng.getrandbits(32):08x}"}
                    for i in range(SEED_MEMORIES_PER_USER)]
        response = await client.post("/api/memory", headers=headers,
                                     json={"messages": messages, "infer": False})
        response.raise_for_status()


async def run_level(client: httpx.AsyncClient, auth: list[dict[str, str]], concurrency: int,
                    duration_s: float, seed: int) -> LevelResult:
    """``concurrency`` closed-loop workers for ``duration_s`` seconds."""
    result = LevelResult(concurrency)
    names = list(ROUTE_MIX)
    weights = [ROUTE_MIX[n][0] for n in names]
    deadline = time.monotonic() + duration_s

    async def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        headers = auth[index % len(auth)]
        while time.monotonic() < deadline:
            name = rng.choices(names, weights)[0]
            method, path, body = ROUTE_MIX[name][1](rng)
            started = time.perf_counter()
            try:
                response = await client.request(method, path, json=body, headers=headers)
                ok = 200 <= response.status_code < 300
                problem = f"{response.status_code} {response.text[:120]}"
            except httpx.HTTPError as error:
                ok, problem = False, f"{type(error).__name__}: {error}"
            result.latencies[name].append(time.perf_counter() - started)
            if not ok:
                result.errors[name] += 1
                result.error_examples.setdefault(name, problem)

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    result.elapsed_s = time.monotonic() - started
    return result


def summarise(results: list[LevelResult]) -> dict[str, Any]:
    """Per level and route: count, req/s, p50/p95/p99 (ms), error rate; and the p95 knee."""
    levels = []
    for level in results:
        routes = {}
        everything: list[float] = []
        errors = 0
        for name in ROUTE_MIX:
            values = level.latencies.get(name, [])
            everything += values
            errors += level.errors.get(name, 0)
            routes[name] = {
                "requests": len(values), "rps": len(values) / level.elapsed_s,
                "p50_ms": percentile(values, 50) * 1000, "p95_ms": percentile(values, 95) * 1000,
                "p99_ms": percentile(values, 99) * 1000,
                "error_rate": level.errors.get(name, 0) / len(values) if values else 0.0,
            }
        routes["all"] = {
            "requests": len(everything), "rps": len(everything) / level.elapsed_s,
            "p50_ms": percentile(everything, 50) * 1000,
            "p95_ms": percentile(everything, 95) * 1000,
            "p99_ms": percentile(everything, 99) * 1000,
            "error_rate": errors / len(everything) if everything else 0.0,
        }
        levels.append({"concurrency": level.concurrency, "seconds": level.elapsed_s,
                       "routes": routes, "error_examples": dict(level.error_examples)})
    knees: dict[str, int | None] = {}
    for name in [*ROUTE_MIX, "all"]:
        base = levels[0]["routes"][name]["p95_ms"]
        knees[name] = next((lv["concurrency"] for lv in levels[1:]
                            if lv["routes"][name]["p95_ms"] >= 2 * base), None)
    return {"levels": levels, "p95_doubles_at": knees}


def print_report(summary: dict[str, Any], settings: dict[str, Any]) -> None:
    """The figures as Markdown tables (pasted into benchmarks/README.md)."""
    print(f"machine: {settings['machine']}")
    print(f"server: voice-agent dev, EMBEDDINGS={settings['embeddings']}, loopback fakes for "
          f"OpenAI/Tavily; {settings['duration_s']:.0f} s total, levels "
          f"{settings['levels']}, route mix {settings['mix']}")
    print()
    print("| concurrency | route | requests | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for level in summary["levels"]:
        for name, row in level["routes"].items():
            label = f"**{name}**" if name == "all" else name
            print(f"| {level['concurrency']} | {label} | {row['requests']} | {row['rps']:.1f} | "
                  f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} | "
                  f"{row['error_rate']:.1%} |")
    print()
    print("p95 doubles (vs concurrency "
          f"{summary['levels'][0]['concurrency']}) at: " + ", ".join(
              f"{name}: {knee if knee is not None else 'not within the levels'}"
              for name, knee in summary["p95_doubles_at"].items()))
    for level in summary["levels"]:
        for name, example in level["error_examples"].items():
            print(f"error example at {level['concurrency']} ({name}): {example}")


def serve_fakes() -> None:
    """``--serve-fakes``: run the OpenAI and Tavily fakes until stdin closes."""
    from tests.fakes.openai_realtime_api import FakeOpenAI
    from tests.fakes.tavily import FakeTavily

    with FakeOpenAI() as openai, FakeTavily() as tavily:
        print(json.dumps({"openai": openai.base_url, "tavily": tavily.url}), flush=True)
        sys.stdin.read()


def start_fakes() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The fakes' process and their base URLs."""
    process = subprocess.Popen([sys.executable, __file__, "--serve-fakes"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    urls = json.loads(process.stdout.readline())
    return process, urls


def stop_fakes(process: subprocess.Popen[str]) -> None:
    """Ends the fakes' process (closing its stdin)."""
    if process.stdin:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Starts fakes and the dev server, runs every level, returns the summary."""
    levels = [int(x) for x in args.levels.split(",")]
    per_level_s = args.duration / len(levels)
    fakes, urls = start_fakes()
    try:
        return await _run_against(args, levels, per_level_s, urls)
    finally:
        stop_fakes(fakes)


async def _run_against(args: argparse.Namespace, levels: list[int], per_level_s: float,
                       urls: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="voice-agent-load-") as data_dir:
        env = clean_process_env(
            EMBEDDINGS=args.embeddings, MEMORY_LLM="none",
            OPENAI_API_KEY="sk-load", OPENAI_BASE_URL=urls["openai"],
            TAVILY_API_KEY="tvly-load", TAVILY_BASE_URL=urls["tavily"],
            SESSION_RATE_LIMIT="0")  # minting is measured, not rate-limited, here
        with dev_server_process(Path(data_dir), env, startup_timeout_s=120) as server:
            limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(
                levels))
            async with httpx.AsyncClient(base_url=server.base_url, limits=limits,
                                         timeout=30) as client:
                auth = await sign_in(client, USERS)
                await seed_memories(client, auth)
                # Warm-up: first calls load the embedder and the users' indexes.
                await run_level(client, auth, 2, 2.0, seed=0)
                results = []
                for n, concurrency in enumerate(levels, start=1):
                    results.append(await run_level(client, auth, concurrency, per_level_s,
                                                   seed=n))
    return summarise(results)


def main() -> None:
    """Parses arguments, runs the load, prints (and optionally saves) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=60.0,
                        help="total seconds of load, split equally between levels")
    parser.add_argument("--levels", default="1,4,16,32", help="concurrency levels")
    parser.add_argument("--embeddings", default="local", choices=["local", "hashing"],
                        help="the dev server's embedder (local = bundled MiniLM, the default)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fakes:
        serve_fakes()
        return
    summary = asyncio.run(run(args))
    settings = {"machine": machine_description(), "embeddings": args.embeddings,
                "duration_s": args.duration, "levels": args.levels,
                "mix": {name: weight for name, (weight, _) in ROUTE_MIX.items()}}
    print_report(summary, settings)
    if args.json:
        args.json.write_text(json.dumps({"settings": settings, **summary}, indent=2))


if __name__ == "__main__":
    main()
