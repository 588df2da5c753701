"""Retrieval quality through the HTTP API, and an export → forget → import round trip.

Part 1: the LoCoMo dev slice is loaded through ``voice-agent dev`` over HTTP, each session's
facts in one ``POST /api/memory`` (``infer=false``) dated by the session (``created_at``), one
user per conversation; the questions are asked through ``POST /api/memory/search``. Printed
next to each other from one run: recall@10 through the API, the in-process figure of
`memory_eval.py` (same embedder, same facts) and BM25, plus the API figure when the same facts
are added without ``created_at`` (every memory dated "now", as before the API took dates).

Part 2: a user with N memories (default 10 000) is exported (``GET /api/memory/export``, all
pages), forgotten (``DELETE /api/memory``) and imported back from the export; time and bytes of
each step, and whether the search results before and after are identical.

    uv run python benchmarks/memory_api_eval.py [--data PATH] [--embedder local|hashing]
                                                [--round-trip-size 10000] [--queries 50]

The data set is read from ``shared/data`` (CC BY-NC 4.0; see its README), never copied here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_eval import (  # noqa: E402 — the in-process protocol, reused as it is
    DEFAULT_DATA,
    DEPTH,
    Conversation,
    evaluate,
    load_conversations,
    make_named_embedder,
    prepare,
)
from memory_speed import fact  # noqa: E402 — the synthetic facts of the speed benchmarks

MAX_MESSAGES = 50  # per POST /api/memory (the API's bound)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevServer:
    """``voice-agent dev`` in a child process, on a free port and a fresh data directory."""

    def __init__(self, embedder: str, dynamodb: bool = False) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="memory-api-eval-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "EMBEDDINGS": embedder, "MEMORY_MAX_PER_USER": "1000000"}
        for name in ("MEMORY_TABLE", "MEMORY_QUEUE_URL", "JWT_ISSUER", "JWT_JWKS_URL"):
            env.pop(name, None)
        self.moto: subprocess.Popen[bytes] | None = None
        if dynamodb:
            # The DynamoDB code path against moto's server mode (dev creates the table).
            moto_port = free_port()
            self.moto = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-p", str(moto_port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(3)
            env.update({"MEMORY_TABLE": "memory-api-eval",
                        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{moto_port}",
                        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                        "AWS_DEFAULT_REGION": "us-east-1"})
        self.store = "DynamoDB (moto server)" if dynamodb else "SQLite"
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from voice_agent_cli.main import main; "
                                   "sys.exit(main(sys.argv[1:]))",
             "dev", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            env=env, stdout=self._log("dev.out"), stderr=self._log("dev.log"))
        self.client = httpx.Client(base_url=self.base, timeout=120)
        for _ in range(600):
            try:
                if self.client.get("/api/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit("voice-agent dev did not start")

    def _log(self, name: str) -> Any:
        """A log file of a child process in the data directory (kept for a failed run)."""
        return (self.data_dir / name).open("wb")

    def headers(self, user: str) -> dict[str, str]:
        token = self.client.post("/dev/token", json={"user": user}).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        if self.moto is not None:
            self.moto.terminate()
            try:
                self.moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.moto.kill()  # moto's server can ignore SIGTERM while serving
                self.moto.wait(timeout=10)


def post(server: DevServer, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    """``POST /api/memory``, retried as a client should on 429/503 (``Retry-After``).

    A retried add is safe: memories stored by the first try come back as ``NONE``.
    """
    for _attempt in range(8):
        response = server.client.post("/api/memory", json=body, headers=headers)
        if response.status_code not in (429, 503):
            break
        time.sleep(float(response.headers.get("Retry-After", "1")))
    if response.is_error:
        raise SystemExit(f"POST /api/memory -> {response.status_code} {response.text}")
    return response


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- part 1: LoCoMo through the API ---------------------------------------------------------


def load_through_api(server: DevServer, conversation: Conversation,
                     dated: bool) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Adds a conversation's facts session by session; returns headers and memory → facts."""
    user = f"locomo-{conversation.sample_id}-{uuid.uuid4().hex[:8]}"
    headers = server.headers(user)
    sessions: dict[float, list[Any]] = defaultdict(list)
    for f in conversation.facts:
        sessions[f.updated_at].append(f)
    facts_of: dict[str, set[str]] = defaultdict(set)
    for number, (at, facts) in enumerate(sorted(sessions.items()), start=1):
        for batch in chunks(facts, MAX_MESSAGES):
            body: dict[str, Any] = {
                "messages": [{"role": "user", "content": f.text} for f in batch],
                "infer": False,
                "metadata": {"source": "import", "conversation": conversation.sample_id,
                             "session": number},
            }
            if dated:
                body["created_at"] = iso(at)
            response = post(server, body, headers)
            for f, result in zip(batch, response.json()["results"], strict=True):
                facts_of[result["id"]].add(f.id)  # an exact duplicate maps to the first copy
    return headers, facts_of


def api_recall(server: DevServer, conversations: Sequence[Conversation], dated: bool,
               ) -> tuple[float, int, float]:
    """recall@10 over the scorable questions, their count and the load time in seconds."""
    rows = []
    load_s = 0.0
    for conversation in conversations:
        started = time.perf_counter()
        headers, facts_of = load_through_api(server, conversation, dated)
        load_s += time.perf_counter() - started
        for question in conversation.questions:
            if not question.relevant:
                continue
            response = server.client.post("/api/memory/search", headers=headers,
                                          json={"query": question.text, "limit": DEPTH})
            response.raise_for_status()
            found: set[str] = set()
            for result in response.json()["results"]:
                found |= facts_of[result["id"]]
            rows.append(len(question.relevant & found) / len(question.relevant))
    return sum(rows) / len(rows), len(rows), load_s


def retrieval(server: DevServer, data: Path, embedder_name: str) -> None:
    conversations = load_conversations(data)
    facts = sum(len(c.facts) for c in conversations)
    print(f"LoCoMo dev: {len(conversations)} conversations, {facts} facts; "
          f"embedder {embedder_name}; recall@{DEPTH} over the scorable questions")
    api, count, load_s = api_recall(server, conversations, dated=True)
    undated, _, _ = api_recall(server, conversations, dated=False)
    embedder = make_named_embedder(embedder_name)
    prepared = prepare(conversations, embedder)
    in_process = evaluate(conversations, prepared, "hybrid")[0]["all"].recall10
    bm25 = evaluate(conversations, prepared, "bm25")[0]["all"].recall10
    # The API ranks at the real time; memory_eval.py at the last session's time. Recency and
    # relative dates ("last week") depend on it, so the same figure at the real time is shown.
    at_now = replace(prepared, now=[time.time()] * len(prepared.now))
    in_process_now = evaluate(conversations, at_now, "hybrid")[0]["all"].recall10
    gap = abs(api - in_process)
    print(f"  API over HTTP, dated by created_at   R@10 {api:.3f}  ({count} questions; "
          f"facts loaded in {load_s:.1f} s)")
    print(f"  in-process memory_eval.py (hybrid)   R@10 {in_process:.3f}  "
          f"(ranked at the real time: {in_process_now:.3f})")
    print(f"  BM25 (in-process)                    R@10 {bm25:.3f}")
    print(f"  API over HTTP, undated (all 'now')   R@10 {undated:.3f}")
    print(f"  |API - in-process| = {gap:.3f} (must be <= 0.01: "
          f"{'met' if gap <= 0.01 else 'NOT met'})")


# --- part 2: export → forget → import at scale ----------------------------------------------


def fill(server: DevServer, headers: dict[str, str], size: int) -> float:
    rng = random.Random(23)
    started = time.perf_counter()
    base = datetime(2021, 1, 1, tzinfo=UTC).timestamp()
    for session, start in enumerate(range(0, size, 25)):
        at = iso(base + session * 6 * 3600)  # a conversation every six hours
        texts = [f"{fact(rng)} (#{i})" for i in range(start, min(size, start + 25))]
        body = {"messages": [{"role": "user", "content": t} for t in texts], "infer": False,
                "created_at": at, "metadata": {"source": "import", "session": session}}
        post(server, body, headers)
    return time.perf_counter() - started


def searches(server: DevServer, headers: dict[str, str],
             queries: Sequence[str]) -> list[list[tuple[float, str, str, str]]]:
    found = []
    for query in queries:
        response = server.client.post("/api/memory/search", headers=headers,
                                      json={"query": query, "limit": DEPTH})
        response.raise_for_status()
        found.append(sorted((-r["score"], r["memory"], json.dumps(r["metadata"], sort_keys=True),
                             r["created_at"]) for r in response.json()["results"]))
    return found


def same_results(before: list[list[tuple[float, str, str, str]]],
                 after: list[list[tuple[float, str, str, str]]]) -> tuple[int, int]:
    """Queries whose results are identical, and those that differ only among equal scores at
    the cut-off (ties are ordered by memory id, and imported memories have new ids)."""
    identical = tie_only = 0
    for b, a in zip(before, after, strict=True):
        if a == b:
            identical += 1
            continue
        last = b[-1][0] if b else 0.0
        if [s for s, *_ in a] == [s for s, *_ in b] and \
                [r for r in a if r[0] < last] == [r for r in b if r[0] < last]:
            tie_only += 1
    return identical, tie_only


def round_trip(server: DevServer, size: int, query_count: int) -> None:
    user = f"round-trip-{uuid.uuid4().hex[:8]}"
    headers = server.headers(user)
    fill_s = fill(server, headers, size)
    rng = random.Random(5)
    queries = [fact(rng).split(" ", 2)[-1] for _ in range(query_count)]
    before = searches(server, headers, queries)

    started = time.perf_counter()
    exported, pages, largest, total_bytes, cursor = [], 0, 0, 0, None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        response = server.client.get("/api/memory/export", params=params, headers=headers)
        response.raise_for_status()
        pages += 1
        largest, total_bytes = max(largest, len(response.content)), total_bytes + len(
            response.content)
        page = response.json()
        exported += page["memories"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    export_s = time.perf_counter() - started

    started = time.perf_counter()
    calls = 0
    while True:  # a 503 means "not finished yet": calling again finishes the job
        calls += 1
        response = server.client.delete("/api/memory", headers=headers)
        if response.status_code != 503 or calls == 10:
            break
    forget_s = time.perf_counter() - started
    assert response.status_code == 204, response.text
    left = server.client.get("/api/memory/export", params={"limit": "1"}, headers=headers)
    assert left.json()["total"] == 0, left.text

    # Memories dated and labelled alike go back in one request each (up to 50 messages).
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for memory in exported:
        groups[(memory["created_at"], json.dumps(memory["metadata"], sort_keys=True))].append(
            memory["memory"])
    started = time.perf_counter()
    requests = 0
    for (created_at, metadata), texts in groups.items():
        for batch in chunks(texts, MAX_MESSAGES):
            body = {"messages": [{"role": "user", "content": t} for t in batch],
                    "infer": False, "created_at": created_at, "metadata": json.loads(metadata)}
            post(server, body, headers)
            requests += 1
    import_s = time.perf_counter() - started
    after = searches(server, headers, queries)
    identical, tie_only = same_results(before, after)
    count = server.client.get("/api/memory/export", params={"limit": "1"},
                              headers=headers).json()["total"]

    print(f"\nExport -> forget -> import round trip at {size} memories on {server.store} "
          f"(filled in {fill_s:.1f} s through the API):")
    print(f"  export: {len(exported)} memories in {pages} pages, {total_bytes / 1e6:.2f} MB "
          f"in all, largest page {largest / 1e6:.2f} MB (Lambda limit 6 MB), {export_s:.2f} s")
    print(f"  forget: DELETE /api/memory -> 204 in {forget_s:.2f} s "
          f"({calls} call{'s' if calls > 1 else ''})")
    print(f"  import: {count} memories back in {requests} requests, {import_s:.1f} s")
    print(f"  search ({len(queries)} queries, top {DEPTH}): {identical} identical before and "
          f"after, {tie_only} differing only among equal scores at the cut-off, "
          f"{len(queries) - identical - tie_only} different")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo-dev.json path")
    parser.add_argument("--embedder", choices=("local", "hashing"), default="local")
    parser.add_argument("--round-trip-size", type=int, default=10_000, help="0: skip part 2")
    parser.add_argument("--queries", type=int, default=50, help="searches compared in part 2")
    parser.add_argument("--skip-retrieval", action="store_true", help="only part 2")
    parser.add_argument("--dynamodb", action="store_true",
                        help="store in DynamoDB (moto server mode) instead of SQLite")
    args = parser.parse_args(argv)
    if not args.skip_retrieval and not args.data.is_file():
        print(f"data not found: {args.data} (use --data PATH)", file=sys.stderr)
        return 2
    server = DevServer(args.embedder, dynamodb=args.dynamodb)
    try:
        print(f"voice-agent dev at {server.base} ({os.cpu_count()} CPUs, "
              f"Python {sys.version.split()[0]})")
        if not args.skip_retrieval:
            retrieval(server, args.data, args.embedder)
        if args.round_trip_size > 0:
            round_trip(server, args.round_trip_size, args.queries)
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
