"""The warm index catches up after writes from the store's change log instead of reloading:
results equal a fresh full build, on both stores, over random add/update/delete sequences."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from tests.integration.memory_events import _serialise_moto_dynamodb
from voice_agent.memory import index_cache, store_sqlite, wiring
from voice_agent.memory.embedding import HashingEmbedder
from voice_agent.memory.ranking import IndexItem, MemoryIndex
from voice_agent.memory.store import (
    AddMemory,
    HistoryRecord,
    MemoryRecord,
    RemoveMemory,
    UpdateMemory,
    now_iso,
    text_hash,
)
from voice_agent.memory.store_dynamodb import DynamoMemoryStore
from voice_agent.memory.store_dynamodb_table import LOG_SLOTS
from voice_agent.memory.store_sqlite import SqliteMemoryStore
from voice_agent.memory.vectors import encode_vector
from voice_agent_cli.local_aws import create_memory_table

NOW = 1_800_000_000.0
WORDS = ("tea coffee Lisbon Berlin sister dog cat tennis chess Acme teacher nurse sushi "
         "mango May July climbing sailing astronomy history Sam Ana Omar").split()
QUERIES = ["Where does my sister live?", "tea or coffee", "dog called Sam", "climbing in July",
           "works at Acme", "astronomy books"]


class CountingClient:
    """A boto3 DynamoDB client that counts its calls by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name == "meta":
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return call


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        yield SqliteMemoryStore(tmp_path / "memory.sqlite3")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "incremental")
        yield DynamoMemoryStore("incremental", CountingClient(client))


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    wiring.reset_memory_deps()
    yield
    wiring.reset_memory_deps()


class Loads:
    """Wraps a store's `load_memories` to count full reloads."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = store.load_memories

        def counting(user_id: str) -> list[MemoryRecord]:
            self.count += 1
            return original(user_id)

        monkeypatch.setattr(store, "load_memories", counting)


def deps_for(store: Any, embedder: Any = None) -> wiring.MemoryDeps:
    return wiring.MemoryDeps(store=store, embedder=embedder or HashingEmbedder(64),
                              queue=None, llm=None, llm_configured=True)


def text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7))) + f" {rng.random():.6f}"


def new_record(deps: wiring.MemoryDeps, memory_id: str, body: str,
               updated_at: str | None = None) -> MemoryRecord:
    vector = deps.embedder.embed([body])[0]
    at = updated_at or now_iso()
    return MemoryRecord(memory_id, body, {"n": memory_id}, at, at, encode_vector(vector),
                        deps.embedder.id, deps.embedder.dimensions, text_hash(body))


def add(deps: wiring.MemoryDeps, user: str, memory_id: str, body: str) -> None:
    record = new_record(deps, memory_id, body)
    deps.store.apply(user, AddMemory(record, HistoryRecord(memory_id, body, "ADD", now_iso())),
                     max_memories=10_000)


def update(deps: wiring.MemoryDeps, user: str, old: MemoryRecord, body: str) -> None:
    fresh = new_record(deps, old.id, body)
    record = MemoryRecord(old.id, body, old.metadata, old.created_at, fresh.updated_at,
                          fresh.vector, fresh.embedder_id, fresh.dims, fresh.hash,
                          old.revision + 1)
    deps.store.apply(user, UpdateMemory(record, old.revision, old.hash, HistoryRecord(
        old.id, body, "UPDATE", now_iso(), previous_memory=old.text)), max_memories=10_000)


def remove(deps: wiring.MemoryDeps, user: str, old: MemoryRecord) -> None:
    deps.store.apply(user, RemoveMemory(old.id, old.revision, old.hash, HistoryRecord(
        old.id, old.text, "DELETE", now_iso(), previous_memory=old.text)), max_memories=10_000)


def stored(store: Any, user: str) -> list[MemoryRecord]:
    """Every memory of the user, in id order, without counting as an index load."""
    records, _ = store.list_memories(user, 10_000, None)
    return list(records)


def fresh_build(deps: wiring.MemoryDeps, user: str) -> MemoryIndex:
    return MemoryIndex.build(index_cache.index_items(stored(deps.store, user)))


def assert_same_results(index: MemoryIndex, expected: MemoryIndex,
                        deps: wiring.MemoryDeps) -> None:
    assert len(index) == len(expected)
    embedder = deps.embedder
    for query in QUERIES:
        vector = embedder.embed([query])[0]
        for mode in ("hybrid", "embedding", "bm25"):
            got = index.search(query, vector, embedder.id, 10, mode=mode, now=NOW)
            want = expected.search(query, vector, embedder.id, 10, mode=mode, now=NOW)
            assert got == want, (query, mode)


def random_writes(deps: wiring.MemoryDeps, user: str, rng: random.Random, count: int,
                  next_id: list[int]) -> None:
    """``count`` random adds, updates, LLM deletes and user deletes of ``user``'s memories."""
    for _ in range(count):
        current = stored(deps.store, user)
        roll = rng.random()
        if not current or roll < 0.45:
            next_id[0] += 1
            # Ids in random order, so new memories land anywhere in the id order.
            add(deps, user, f"{rng.getrandbits(32):08x}-{next_id[0]}", text(rng))
        elif roll < 0.75:
            update(deps, user, rng.choice(current), text(rng))
        elif roll < 0.9:
            remove(deps, user, rng.choice(current))
        else:
            assert deps.store.delete_memory(user, rng.choice(current).id)


@pytest.mark.parametrize("seed", range(4))
def test_random_writes_catch_up_to_a_fresh_build(store: Any, seed: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    deps = deps_for(store)
    user = f"user-{seed}"
    next_id = [0]
    random_writes(deps, user, rng, 12, next_id)
    loads = Loads(store, monkeypatch)
    index_cache.load_index(user, deps)
    assert loads.count == 1
    for _step in range(12):
        random_writes(deps, user, rng, rng.choice((1, 1, 2, 3)), next_id)
        index, records = index_cache.load_index(user, deps)
        assert loads.count == 1, "a write within the log's reach must not reload everything"
        assert records == {r.id: r for r in stored(store, user)}
        assert_same_results(index, fresh_build(deps, user), deps)


def test_other_users_writes_do_not_touch_the_warm_index(store: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    deps = deps_for(store)
    add(deps, "alice", "a1", "Alice likes tea")
    add(deps, "bob", "b1", "Bob likes tea")
    loads = Loads(store, monkeypatch)
    index, _ = index_cache.load_index("alice", deps)
    add(deps, "bob", "b2", "Bob lives in Lisbon")
    assert store.changes_since("alice", 1) == []
    assert [c.memory_id for c in store.changes_since("bob", 1) or []] == ["b2"]
    again, _ = index_cache.load_index("alice", deps)
    assert again is index and loads.count == 1
    add(deps, "alice", "a2", "Alice lives in Berlin")
    index, records = index_cache.load_index("alice", deps)
    assert sorted(records) == ["a1", "a2"] and loads.count == 1
    hits = index.search("Lisbon tea Bob", None, deps.embedder.id, 10, now=NOW)
    assert {memory_id for memory_id, _ in hits} <= {"a1", "a2"}


def test_a_gap_the_log_does_not_cover_reloads_everything(store: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_sqlite, "LOG_KEPT", LOG_SLOTS)
    deps = deps_for(store)
    rng = random.Random(9)
    add(deps, "u", "m0", "first")
    loads = Loads(store, monkeypatch)
    index_cache.load_index("u", deps)
    for n in range(LOG_SLOTS + 1):
        add(deps, "u", f"m{n + 1:03d}", text(rng))
    assert store.changes_since("u", 1) is None
    index, records = index_cache.load_index("u", deps)
    assert loads.count == 2 and len(records) == LOG_SLOTS + 2
    assert_same_results(index, fresh_build(deps, "u"), deps)
    # Within the log's reach again: caught up without a reload.
    add(deps, "u", "zz", "last")
    assert [c.memory_id for c in store.changes_since("u", store.version("u") - 1) or []] == ["zz"]
    index_cache.load_index("u", deps)
    assert loads.count == 2


def test_a_version_bump_without_a_log_entry_reloads(tmp_path: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteMemoryStore(tmp_path / "memory.sqlite3")
    deps = deps_for(store)
    add(deps, "u", "m1", "first")
    index_cache.load_index("u", deps)
    db = store._db()  # a writer that predates the change log
    db.execute("UPDATE meta SET version = version + 1 WHERE user_id = 'u'")
    assert store.changes_since("u", 1) is None
    loads = Loads(store, monkeypatch)
    index_cache.load_index("u", deps)
    assert loads.count == 1


def test_dynamodb_catch_up_reads_meta_and_the_changed_memory_only() -> None:
    with mock_aws():
        raw = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(raw, "reads")
        client = CountingClient(raw)
        store = DynamoMemoryStore("reads", client)
        deps = deps_for(store)
        rng = random.Random(3)
        for n in range(40):
            add(deps, "u", f"m{n:03d}", text(rng))
        index_cache.load_index("u", deps)
        add(deps, "u", "m999", "Has a dog called Sam")
        client.calls.clear()
        index, records = index_cache.load_index("u", deps)
        # version + META (the log) + the new memory: three 1-RCU reads, no Query.
        assert dict(client.calls) == {"get_item": 3}
        assert "m999" in records and index.search("dog Sam", None, deps.embedder.id, 1,
                                                  now=NOW)[0][0] == "m999"
        client.calls.clear()
        remove(deps, "u", records["m005"])
        index_cache.load_index("u", deps)
        assert "query" not in client.calls


def test_dynamodb_two_containers_writing_at_once_lose_nothing_and_log_every_write(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _serialise_moto_dynamodb(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "race")
        first, second = DynamoMemoryStore("race", client), DynamoMemoryStore("race", client)
        deps = deps_for(first)
        add(deps, "u", "seed", "seed memory")
        index_cache.load_index("u", deps)
        errors: list[BaseException] = []

        def writer(store: DynamoMemoryStore, prefix: str) -> None:
            try:
                for n in range(6):
                    add(deps_for(store), "u", f"{prefix}{n}", f"{prefix} fact {n}")
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(s, p))
                   for s, p in ((first, "a"), (second, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert first.version("u") == 13 and first.count_memories("u") == 13
        changes = first.changes_since("u", 1)
        assert changes is not None
        assert [c.version for c in changes] == list(range(2, 14))
        assert len({c.memory_id for c in changes}) == 12
        index, records = index_cache.load_index("u", deps)
        assert len(records) == 13
        assert_same_results(index, fresh_build(deps, "u"), deps)
        # A container whose remembered version is stale still writes (after one re-read).
        first._table.versions["u"] = 3
        add(deps, "u", "late", "late fact")
        assert first.version("u") == 14
        assert [c.memory_id for c in first.changes_since("u", 13) or []] == ["late"]


def test_a_change_by_another_embedder_takes_the_reembedding_path(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    deps = deps_for(store)
    add(deps, "u", "m1", "Likes tea")
    index_cache.load_index("u", deps)
    other = deps_for(store, HashingEmbedder(32))
    add(other, "u", "m2", "Lives in Lisbon")  # written by a container on another embedder
    loads = Loads(store, monkeypatch)
    index, records = index_cache.load_index("u", deps)
    assert loads.count == 1  # reloaded, and the foreign vector re-embedded
    assert {r.embedder_id for r in records.values()} == {deps.embedder.id}
    assert {r.embedder_id for r in stored(store, "u")} == {deps.embedder.id}
    assert_same_results(index, fresh_build(deps, "u"), deps)


# --- the index on its own ---------------------------------------------------------------------


def _item(rng: random.Random, memory_id: str, embedder: str = "e", dims: int = 8) -> IndexItem:
    vector = rng.random() < 0.5 and encode_vector(np.asarray(
        [rng.gauss(0, 1) for _ in range(dims)], dtype=np.float32))
    if not vector:
        vector = np.asarray([rng.gauss(0, 1) for _ in range(dims)], dtype=np.float32)
    # Created in one of five conversations (so episodes form), changed at any time since.
    created_at = NOW - 1e6 * rng.randrange(1, 6) - rng.random() * 600
    updated_at = created_at + rng.random() * 1e5
    return IndexItem(memory_id, text(rng), vector, embedder, updated_at, created_at)


@pytest.mark.parametrize("seed", range(6))
def test_with_changes_equals_a_build_of_the_changed_items(seed: int) -> None:
    rng = random.Random(seed)
    items = {f"{n:04d}": _item(rng, f"{n:04d}", rng.choice("ef")) for n in range(0, 60, 2)}
    index = MemoryIndex.build([items[k] for k in sorted(items)])
    for _step in range(15):
        upserts, removals = [], []
        for _ in range(rng.randint(1, 4)):
            memory_id = f"{rng.randrange(70):04d}"
            upserts = [u for u in upserts if u.id != memory_id]  # the last change wins
            if rng.random() < 0.3:
                removals.append(memory_id)
                items.pop(memory_id, None)
            else:
                # Also moves memories between embedders, and brings up a new one ("g").
                items[memory_id] = _item(rng, memory_id, rng.choice("efg"))
                upserts.append(items[memory_id])
        index = index.with_changes(upserts, removals)
        expected = MemoryIndex.build([items[k] for k in sorted(items)])
        for query in QUERIES:
            for embedder in "efg":
                vector = np.asarray([rng.gauss(0, 1) for _ in range(8)], dtype=np.float32)
                for mode in ("hybrid", "embedding", "bm25"):
                    assert index.search(query, vector, embedder, 10, mode=mode, now=NOW) == \
                        expected.search(query, vector, embedder, 10, mode=mode, now=NOW)


def test_with_changes_keeps_the_original_index_unchanged() -> None:
    rng = random.Random(1)
    items = [_item(rng, f"{n}") for n in range(5)]
    index = MemoryIndex.build(items)
    before = index.search("tea", None, "e", 5, mode="bm25")
    index.with_changes([IndexItem("9", "tea tea tea", np.ones(8), "e", NOW)], ["0", "1"])
    assert len(index) == 5 and index.search("tea", None, "e", 5, mode="bm25") == before


def test_with_changes_rejects_another_dimension_of_the_same_embedder() -> None:
    index = MemoryIndex.build([IndexItem("a", "x", np.ones(4), "e", NOW)])
    with pytest.raises(ValueError, match="differ in dimension"):
        index.with_changes([IndexItem("b", "y", np.ones(5), "e", NOW)])
    assert len(index.with_changes([IndexItem("a", "y", np.ones(5), "e", NOW)])) == 1
