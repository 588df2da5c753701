"""The paths a user waits on, each next to its floor measured in the same run.

One process: ``voice-agent dev`` (the Starlette app on uvicorn, as ``voice-agent dev`` runs it)
with the bundled MiniLM, a bare Starlette route on an identical uvicorn server, and the
loopback fake of OpenAI's client-secrets endpoint. Every figure is sequential over one
keep-alive connection (p50/p95 over --requests calls). The dev-server and minting figures
and their references are timed in alternating blocks of 50 calls, so a slow spell of the
machine meets both sides of a ratio:

* dev-server overhead: ``GET /api/health`` through the dev server vs the same route on bare
  Starlette, twice: an ``async def`` route (run inline on the event loop) and a ``def`` route
  (which Starlette runs in its thread pool, as the dev server runs the synchronous Lambda
  handlers); target ≤ 1.3× the ``def`` route (benchmarks/README.md says why);
* memory search at --size memories vs query embedding + ranking (in process) + a health round
  trip (target ≤ 1.3×);
* adds (``infer=false``) through the API at that size, per second (target ≥ 2 × 45/s);
* ``POST /api/voice-agent`` minus a direct call to the same fake OpenAI, vs a health round
  trip (target ≤ 2 ms beyond it), with the user's index warm (profile prefetch on).

    uv run python benchmarks/bench_paths.py [--size 10000] [--requests 300]

The embedding, cold-start and bridge rows of the table are printed by bench_embedding.py,
bench_cold_start.py and bench_desktop_call.py.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydantic_core

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = (
    "Sam Ana Omar Lisbon Berlin Porto tea coffee dog cat chess tennis sister brother Acme "
    "teacher nurse engineer sushi mango climbing sailing July May birthday trip book film"
).split()


def fact(rng: random.Random) -> str:
    """A short synthetic memory."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 10)))


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(app: object) -> str:
    """Runs app on uvicorn in a thread (as `voice-agent dev` does); returns its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}"


def timed_ms(call: Callable[[int], object], count: int) -> list[float]:
    """Milliseconds of each call after 20 warm-up calls."""
    for i in range(20):
        call(i)
    times = []
    for i in range(count):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def alternating_ms(calls: dict[str, Callable[[int], object]], count: int,
                   block: int = 50) -> dict[str, list[float]]:
    """Milliseconds of each call, timed in alternating blocks of ``block`` calls.

    Within a block one kind of call runs back to back, as a client's requests do (the
    server's code stays in the CPU caches); the blocks of each kind alternate, so a slow spell
    of this shared machine (a whole run can be 30% slower than another) meets every side of
    a ratio instead of one.
    """
    for i in range(20):
        for call in calls.values():
            call(i)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for start in range(0, count, block):
        for name, call in calls.items():
            for i in range(start, min(start + block, count)):
                started = time.perf_counter()
                call(i)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def p50(times: list[float]) -> float:
    """Median."""
    return statistics.median(times)


def p95(times: list[float]) -> float:
    """95th percentile."""
    return float(np.percentile(times, 95))


def row(name: str, times: list[float]) -> None:
    """Prints one p50/p95 line."""
    print(f"  {name:58s} p50 {p50(times):7.2f} ms  p95 {p95(times):7.2f} ms")


def side_by_side_search(client: httpx.Client, dev: str, headers: dict[str, str],
                        queries: list[str], index: Any, embedder: Any,
                        count: int) -> dict[str, list[float]]:
    """Search round trips and their floor's parts, timed in the same rounds.

    Timed back to back, the query embedding runs with the model's weights hot in the CPU
    caches, which it never is inside a request (the HTTP and handler work in between evicts
    them), so that floor is lower than what a search can reach. Here every round times one
    search, then the embedding of another query, its ranking and a health round trip, so
    each part meets the caches as a request leaves them.
    """
    parts: dict[str, list[float]] = {"search": [], "embedding": [], "ranking": [],
                                     "health": []}

    def timed(name: str, call: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = call()
        parts[name].append((time.perf_counter() - started) * 1000)
        return result

    for i in range(count):
        query, other = queries[i], queries[-1 - i % 20]
        timed("search", lambda q=query: client.post(
            f"{dev}/api/memory/search", headers=headers, json={"query": q}).raise_for_status())
        vector = timed("embedding", lambda o=other: embedder.embed([o])[0])
        timed("ranking", lambda o=other, v=vector: index.search(
            o, v, embedder.id, 5))
        timed("health", lambda: client.get(f"{dev}/api/health").raise_for_status())
    return parts


def main() -> None:
    """Runs every measurement and prints the table rows with their references."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.fakes.openai_realtime_api import FakeOpenAI

    fake_openai = FakeOpenAI()
    fake_openai.__enter__()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-paths-"))
    os.environ.update(
        EMBEDDINGS="local",
        MEMORY_MAX_PER_USER="1000000",
        VOICE_AGENT_DATA_DIR=str(data_dir),
        OPENAI_API_KEY="sk-bench",
        OPENAI_BASE_URL=fake_openai.base_url,
        SESSION_RATE_LIMIT="0",
    )
    from voice_agent.memory.index_cache import load_index
    from voice_agent.memory.models import AddMemoryRequest
    from voice_agent.memory.use_cases import add_memories
    from voice_agent.memory.wiring import memory_deps
    from voice_agent_cli.devserver import create_app

    dev_app = create_app(data_dir)
    dev = serve(dev_app)

    async def bare_health_async(request: object) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def bare_health_sync(request: object) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    bare_async = serve(Starlette(routes=[Route("/api/health", bare_health_async)]))
    bare_sync = serve(Starlette(routes=[Route("/api/health", bare_health_sync)]))
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python "
        f"{sys.version.split()[0]}; {args.requests} sequential requests per figure, one "
        f"keep-alive connection; {args.size} memories, bundled MiniLM (onnxruntime)"
    )

    rng = random.Random(7)
    user = "bench-user"
    deps = memory_deps()
    started = time.perf_counter()
    batch = 50  # the most one add request takes
    for start in range(0, args.size, batch):
        texts = [f"{fact(rng)} (#{i})" for i in range(start, min(start + batch, args.size))]
        add_memories(
            user,
            AddMemoryRequest(messages=[{"role": "user", "content": t} for t in texts], infer=False),
            deps,
        )
    print(f"filled {args.size} memories in {time.perf_counter() - started:.1f} s (batches of 50)")
    headers = {"Authorization": f"Bearer {dev_app.state.issuer.issue(user)}"}
    queries = [fact(rng) for _ in range(args.requests + 20)]

    with httpx.Client(timeout=30) as client:
        client.post(f"{dev}/api/memory/search", headers=headers, json={"query": "warm"})
        rounds = alternating_ms({
            "dev": lambda i: client.get(f"{dev}/api/health"),
            "async": lambda i: client.get(f"{bare_async}/api/health"),
            "def": lambda i: client.get(f"{bare_sync}/api/health"),
        }, args.requests)
        health, async_rt, sync_rt = rounds["dev"], rounds["async"], rounds["def"]
        print("\ndev-server per-request overhead (target <= 1.3x the bare Starlette def route)")
        row("GET /api/health through voice-agent dev", health)
        row("bare Starlette + uvicorn, async def route (inline)", async_rt)
        row("bare Starlette + uvicorn, def route (thread pool)", sync_rt)
        print(
            f"  ratio p50 {p50(health) / p50(sync_rt):.2f}x the def route (target), "
            f"{p50(health) / p50(async_rt):.2f}x the async def route"
        )
        # The wording: the overhead *beyond the handler*. The handler is the session
        # function's lambda_handler on the health event, timed alone in this process.
        from tests.conftest import LambdaContext, http_event, load_function_module

        session_function = load_function_module("session")
        health_event, context = http_event("GET", "/api/health", sub=None), LambdaContext()
        handler = timed_ms(lambda i: session_function.lambda_handler(health_event, context),
                           args.requests)
        beyond = p50(health) - p50(handler)
        row("the health handler alone (in process)", handler)
        print(
            f"  overhead beyond the handler p50 {beyond:.2f} ms: {beyond / p50(sync_rt):.2f}x "
            f"the def route, {beyond / p50(async_rt):.2f}x the async def route"
        )

        search = timed_ms(
            lambda i: client.post(
                f"{dev}/api/memory/search", headers=headers, json={"query": queries[i]}
            ),
            args.requests,
        )
        embedder = deps.embedder
        embed = timed_ms(lambda i: embedder.embed([queries[i]]), args.requests)
        index, _ = load_index(user, deps)
        vectors = embedder.embed(queries[:50])
        ranking = timed_ms(
            lambda i: index.search(queries[i % 50], vectors[i % 50], embedder.id, 5),
            args.requests,
        )
        floor = p50(embed) + p50(ranking) + p50(health)
        print(f"\nmemory search at {args.size} memories (target <= 1.3x the floor)")
        row("POST /api/memory/search through voice-agent dev", search)
        row("query embedding (in process)", embed)
        row("ranking (in process, warm index)", ranking)
        print(
            f"  floor = embedding + ranking + health round trip = {floor:.2f} ms; ratio p50 "
            f"{p50(search) / floor:.2f}x (parts timed back to back)"
        )
        side = side_by_side_search(client, dev, headers, queries, index, embedder,
                                   args.requests)
        side_floor = p50(side["embedding"]) + p50(side["ranking"]) + p50(side["health"])
        print("  side by side (each round: one search, then its parts alone on another query):")
        for name, times in side.items():
            row(f"  {name}", times)
        print(
            f"  floor = {side_floor:.2f} ms; ratio p50 {p50(side['search']) / side_floor:.2f}x "
            "(the target's figure)"
        )

        adds = timed_ms(
            lambda i: client.post(
                f"{dev}/api/memory",
                headers=headers,
                json={"messages": f"{queries[i]} added {i}", "infer": False},
            ).raise_for_status(),
            args.requests,
        )
        print(f"\nadds (infer=false) through the API at {args.size} memories (target >= 90/s)")
        row("POST /api/memory infer=false", adds)
        print(
            f"  {1000 / statistics.mean(adds):.1f} adds/s sequential; embedding p50 "
            f"{p50(embed):.2f} ms of it"
        )

        body = {"model": "gpt-realtime-mini"}
        from voice_agent.session.minting import build_client_secret_body, resolve_config
        from voice_agent.session.models import SessionRequest
        from voice_agent.session.profile import load_profile
        from voice_agent.settings import get_settings

        secrets_url = f"{fake_openai.base_url}/realtime/client_secrets"
        # The very bytes the handler sends (catalogue and profile included, encoded once here
        # so encoding counts as our overhead), with the same headers: the fake's own work on
        # them is part of the reference, not of our overhead. (httpx's ``json=`` would encode
        # with ``json`` on every call, half a millisecond slower than the handler's encoder,
        # and flatter the difference.)
        config = resolve_config(SessionRequest(**body), get_settings(), load_profile(user))
        direct_bytes = pydantic_core.to_json(build_client_secret_body(config))
        direct_headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
        rounds = alternating_ms({
            "mint": lambda i: client.post(f"{dev}/api/voice-agent", headers=headers, json=body),
            "direct": lambda i: client.post(
                secrets_url, content=direct_bytes, headers=direct_headers),
            "health": lambda i: client.get(f"{dev}/api/health"),
        }, args.requests)
        mint, direct, mint_health = rounds["mint"], rounds["direct"], rounds["health"]
        own = p50(mint) - p50(direct)
        print("\nPOST /api/voice-agent own overhead (target <= 2 ms beyond a health round trip)")
        row("POST /api/voice-agent through voice-agent dev (profile on)", mint)
        row("direct call to the same fake OpenAI (reference)", direct)
        row("GET /api/health through voice-agent dev", mint_health)
        print(
            f"  own overhead p50 {own:.2f} ms; health round trip {p50(mint_health):.2f} ms; "
            f"beyond it {own - p50(mint_health):.2f} ms"
        )
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    fake_openai.__exit__(None, None, None)


if __name__ == "__main__":
    main()
