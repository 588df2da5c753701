"""Speed and size of the memory feature: search latency by user size (warm, and the first
search after a write), add latency through the handler, bytes per memory and DynamoDB read
units per search.

    uv run python benchmarks/memory_speed.py [--sizes 1000 10000 50000] [--queries 200]

Search runs in-process on the SQLite store with the real ranking (hybrid cosine + BM25 +
recency). Query embedding is timed apart (MiniLM when installed, and the hashing embedder),
so the ranking figures hold for any embedder of the same dimension. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.conftest (handler loader) lives in the repository

from voice_agent.memory import index_cache, use_cases, wiring  # noqa: E402
from voice_agent.memory.embedding import HashingEmbedder  # noqa: E402
from voice_agent.memory.models import SearchMemoriesRequest  # noqa: E402
from voice_agent.memory.store import (  # noqa: E402
    AddMemory,
    HistoryRecord,
    MemoryRecord,
    RemoveMemory,
    UpdateMemory,
    now_iso,
    text_hash,
)
from voice_agent.memory.store_sqlite import SqliteMemoryStore  # noqa: E402
from voice_agent.memory.vectors import encode_vector  # noqa: E402

NAMES = ["Sam", "Ana", "Luis", "Mia", "Omar", "Yuki", "Ravi", "Lena", "Tom", "Ines"]
PLACES = ["Lisbon", "Berlin", "Porto", "Osaka", "Austin", "Lyon", "Kraków", "Quito"]
TEMPLATES = [
    "{name} is the user's {rel} and lives in {place}",
    "Went to {place} in {year} with {name}",
    "Likes {food} and dislikes {food2}",
    "Works at {company} as a {job} since {year}",
    "Has a {pet} called {name} who is {n} years old",
    "Plans a trip to {place} in {month} {year}",
    "Plays {sport} every {day} with {name}",
    "Is allergic to {food} since childhood",
    "Birthday of {name} is on {month} {n}",
    "Reads books about {topic} before sleeping",
]
WORDS = {
    "rel": ["sister", "brother", "friend", "colleague", "cousin", "neighbour"],
    "food": ["sushi", "olives", "peanuts", "mango", "coffee", "cheese", "tofu"],
    "food2": ["broccoli", "beer", "liquorice", "coriander"],
    "company": ["Acme", "Globex", "Initech", "Umbrella", "Hooli"],
    "job": ["data engineer", "teacher", "nurse", "designer", "chef"],
    "pet": ["dog", "cat", "parrot", "rabbit"],
    "month": ["January", "March", "May", "July", "September", "November"],
    "sport": ["tennis", "chess", "football", "padel", "climbing"],
    "day": ["Monday", "Wednesday", "Saturday", "Sunday"],
    "topic": ["astronomy", "history", "cooking", "sailing", "economics"],
}


def fact(rng: random.Random) -> str:
    """A synthetic personal fact (names, places and numbers vary, as in real memories)."""
    values = {key: rng.choice(options) for key, options in WORDS.items()}
    values.update(name=rng.choice(NAMES), place=rng.choice(PLACES),
                  year=rng.randint(1990, 2026), n=rng.randint(1, 28))
    return rng.choice(TEMPLATES).format(**values)


def percentiles(samples_s: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples_s)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def fill(store: SqliteMemoryStore, user: str, count: int, dims: int, seed: int) -> None:
    """Bulk-inserts ``count`` memories with random unit vectors (benchmark shortcut)."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).standard_normal((count, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    at = now_iso()
    rows = []
    for i in range(count):
        text = f"{fact(rng)} (#{i})"
        rows.append((user, f"{i:08d}", text, None, at, at, encode_vector(vectors[i]),
                     f"bench:{dims}", dims, text_hash(text), 1))
    db = store._db()
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO memories (user_id, id, text, meta, created_at, updated_at, vec, "
                   "emb, dims, hash, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO meta (user_id, version) VALUES (?, 1) "
               "ON CONFLICT (user_id) DO UPDATE SET version = version + 1", (user,))
    db.execute("COMMIT")


class FixedEmbedder:
    """Returns one precomputed vector, so service timings exclude embedding."""

    def __init__(self, dims: int) -> None:
        self.id = f"bench:{dims}"
        self.dimensions = dims
        vector = np.random.default_rng(7).standard_normal(dims).astype(np.float32)
        self._vector = vector / np.linalg.norm(vector)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile(self._vector, (len(texts), 1))


def _write_then_search(store: SqliteMemoryStore, deps: wiring.MemoryDeps, size: int,
                       dims: int, runs: int, query_texts: list[str]) -> tuple[float, float]:
    """p50/p95 of the first search after one write (add, update, delete in turn)."""
    rng = random.Random(size + 1)
    np_rng = np.random.default_rng(size + 1)
    user = "bench-user"
    samples = []
    for i in range(runs):
        vector = np_rng.standard_normal(dims).astype(np.float32)
        vector /= np.linalg.norm(vector)
        body = f"{fact(rng)} (w{i})"
        at = now_iso()
        op = i % 3
        if op == 0:  # add a new memory (its id lands anywhere in the id order)
            memory_id = f"{rng.randrange(size):08d}w{i}"
            record = MemoryRecord(memory_id, body, None, at, at, encode_vector(vector),
                                  deps.embedder.id, dims, text_hash(body))
            store.apply(user, AddMemory(record, HistoryRecord(memory_id, body, "ADD", at)),
                        max_memories=size + runs)
        else:
            old = store.get_memory(user, f"{rng.randrange(size):08d}")
            while old is None:
                old = store.get_memory(user, f"{rng.randrange(size):08d}")
            if op == 1:  # update an existing memory
                record = MemoryRecord(old.id, body, None, old.created_at, at,
                                      encode_vector(vector), deps.embedder.id, dims,
                                      text_hash(body), old.revision + 1)
                store.apply(user, UpdateMemory(record, old.revision, old.hash, HistoryRecord(
                    old.id, body, "UPDATE", at, old.text)), max_memories=size + runs)
            else:  # an LLM DELETE
                store.apply(user, RemoveMemory(old.id, old.revision, old.hash, HistoryRecord(
                    old.id, old.text, "DELETE", at, old.text)), max_memories=size + runs)
        request = SearchMemoriesRequest(query=query_texts[i % len(query_texts)], limit=5)
        started = time.perf_counter()
        use_cases.search_memories(user, request, deps)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def _search_one_size(size: int, dims: int, query_texts: list[str], workdir: Path,
                     write_runs: int) -> str:
    store = SqliteMemoryStore(workdir / f"search-{size}-{dims}.sqlite3")
    fill(store, "bench-user", size, dims, seed=size)
    deps = wiring.MemoryDeps(store=store, embedder=FixedEmbedder(dims),
                              queue=None, llm=None, llm_configured=True)
    wiring.reset_memory_deps(deps)
    started = time.perf_counter()
    index, _ = index_cache.load_index("bench-user", deps)
    cold_ms = (time.perf_counter() - started) * 1000
    vector = deps.embedder.embed(["q"])[0]
    texts = iter(query_texts)
    rank = timed(lambda: index.search(next(texts), vector, deps.embedder.id, 5),
                 len(query_texts))
    requests = iter([SearchMemoriesRequest(query=q, limit=5) for q in query_texts])
    warm = timed(lambda: use_cases.search_memories("bench-user", next(requests), deps),
                 len(query_texts))
    after_write = _write_then_search(store, deps, size, dims, write_runs, query_texts)
    wiring.reset_memory_deps()
    return (f"{size:>8} | {cold_ms:>18.0f} | {rank[0]:>8.2f} / {rank[1]:<8.2f} | "
            f"{warm[0]:>8.2f} / {warm[1]:<8.2f} | {after_write[0]:>8.2f} / {after_write[1]:.2f}")


def bench_search(sizes: Sequence[int], queries: int, dims: int, workdir: Path,
                 write_runs: int) -> None:
    print(f"\n## Search, one user, SQLite store, {dims}-dim int8 vectors, hybrid ranking")
    print("memories | cold load+build ms | ranking p50/p95 ms | search_memories warm p50/p95 ms"
          f" | first search after one write p50/p95 ms ({write_runs} writes)")
    rng = random.Random(1)
    query_texts = [fact(rng) for _ in range(queries)]
    for size in sizes:
        print(_search_one_size(size, dims, query_texts, workdir, write_runs), flush=True)


def bench_embedders(queries: int) -> None:
    print("\n## Query embedding (per query)")
    rng = random.Random(2)
    texts = [fact(rng) for _ in range(queries)]
    hashing = HashingEmbedder()
    it = iter(texts)
    p50, p95 = timed(lambda: hashing.embed([next(it)]), queries)
    print(f"hashing:256        p50 {p50:.2f} ms  p95 {p95:.2f} ms")
    try:
        from voice_agent.memory.embedding import LocalMiniLMEmbedder

        minilm = LocalMiniLMEmbedder()
        minilm.warm_up()
        it = iter(texts)
        p50, p95 = timed(lambda: minilm.embed([next(it)]), min(queries, 100))
        print(f"minilm-l6-v2:384   p50 {p50:.2f} ms  p95 {p95:.2f} ms")
    except Exception as error:  # noqa: BLE001 - the model wheel is optional for this figure
        print(f"minilm-l6-v2:384   not available ({error})")
    print("titan-v2 (Bedrock)  one HTTPS call per query: network-bound, not measured here")


def bench_add(runs: int, workdir: Path) -> None:
    from tests.conftest import LambdaContext, load_function_module
    from tests.integration.memory_events import RecordingQueue, memory_event

    print("\n## Add through functions/memory lambda_handler (SQLite store, hashing embedder)")
    os.environ.update(EMBEDDINGS="hashing", VOICE_AGENT_DATA_DIR=str(workdir / "add"),
                      POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_DISABLED="true",
                      POWERTOOLS_LOG_LEVEL="WARNING")
    from voice_agent.settings import reset_settings

    reset_settings()
    queue = RecordingQueue()
    wiring.reset_memory_deps(wiring.MemoryDeps(queue=queue))
    handler = load_function_module("memory").lambda_handler
    context = LambdaContext()
    rng = random.Random(3)
    verbatim = iter(memory_event("POST", "/api/memory", {"messages": fact(rng) + f" {i}",
                                                         "infer": False}, sub="bench-add")
                    for i in range(runs * 2))
    queued = iter(memory_event("POST", "/api/memory", {"messages": [
        {"role": "user", "content": fact(rng)}, {"role": "assistant", "content": "ok"}]},
        sub="bench-add") for _ in range(runs * 2))
    for event_source, label in ((verbatim, "infer=false → 201"), (queued, "infer=true  → 202")):
        handler(next(event_source), context)  # warm-up
        p50, p95 = timed(lambda src=event_source: handler(next(src), context), runs)
        print(f"{label}: p50 {p50:.2f} ms  p95 {p95:.2f} ms  ({runs} requests)")
    wiring.reset_memory_deps()


def dynamo_item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB item size: attribute name lengths plus value sizes (strings UTF-8, binary raw,
    numbers about 1 byte per two digits + 1)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if isinstance(value, bytes):
            size += len(value)
        elif isinstance(value, int):
            size += (len(str(abs(value))) + 1) // 2 + 1
        else:
            size += len(str(value).encode())
    return size


def bench_sizes(memories: int = 10_000) -> None:
    from voice_agent.memory.store_dynamodb_items import memory_item

    print("\n## Stored bytes per memory and DynamoDB reads per search")
    rng = random.Random(4)
    texts = [fact(rng) for _ in range(500)]
    avg_text = statistics.mean(len(t.encode()) for t in texts)
    print(f"synthetic facts: average text {avg_text:.0f} bytes; metadata {{\"source\": \"voice\"}}")
    for dims, label in ((384, "MiniLM (local)"), (256, "Titan V2 256"), (512, "Titan V2 512"),
                        (1024, "Titan V2 1024")):
        sizes = []
        for text in texts:
            vector = np.random.default_rng(len(text)).standard_normal(dims).astype(np.float32)
            at = now_iso()
            record = MemoryRecord("0b6c1c1e-8a8e-4a8e-9c43-1d6f1f9a3b2e", text,
                                  {"source": "voice"}, at, at, encode_vector(vector),
                                  f"titan-v2:{dims}" if dims != 384 else "minilm-l6-v2:384",
                                  dims, text_hash(text))
            item = memory_item("1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", record)
            plain = {k: (v.get("S") or v.get("B") or int(v["N"])) for k, v in item.items()}
            sizes.append(dynamo_item_bytes(plain))
        item_bytes = statistics.mean(sizes)
        vector_bytes = 4 + dims
        total_kb = item_bytes * memories / 1024
        strong = int(np.ceil(item_bytes * memories / 4096))
        print(f"{label:<15} vector {vector_bytes:>5} B | item {item_bytes:>6.0f} B | "
              f"{memories} memories = {total_kb / 1024:.1f} MB → cold search "
              f"{strong} RCU strongly consistent ({strong / 2:.0f} eventually); "
              f"warm search 1 RCU (META read); first search after one write 3 RCU "
              f"(META twice: version and change log, plus the changed memory)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 1024])
    parser.add_argument("--add-runs", type=int, default=200)
    parser.add_argument("--write-runs", type=int, default=30,
                        help="writes, each followed by one timed search")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} (figures inflate when the machine is busy)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for dims in args.dims:
            bench_search(args.sizes, args.queries, dims, workdir, args.write_runs)
        bench_embedders(args.queries)
        bench_add(args.add_runs, workdir)
        bench_sizes()
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
