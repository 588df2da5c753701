"""The `MemoryStore` contract on both adapters, plus DynamoDB specifics (conflict retries,
cancellation reasons, template loading)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from voice_agent.memory.models import AddedMemory
from voice_agent.memory.plan import AddOp, DeleteOp, Plan, UpdateOp
from voice_agent.memory.store import (
    AddMemory,
    AlreadyApplied,
    DuplicateMemory,
    HistoryRecord,
    JobRecord,
    MemoryLimitReached,
    MemoryRecord,
    RemoveMemory,
    StaleMemory,
    StoreUnavailable,
    UpdateMemory,
    VectorUpdate,
    normalise_text,
    now_iso,
    text_hash,
)
from voice_agent.memory.store_dynamodb import DynamoMemoryStore
from voice_agent.memory.store_dynamodb_items import history_item, memory_item
from voice_agent.memory.store_sqlite import SqliteMemoryStore
from voice_agent_cli.local_aws import create_memory_table


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        yield SqliteMemoryStore(tmp_path / "memory.sqlite3")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "unit-memory")
        yield DynamoMemoryStore("unit-memory", client)


def record(memory_id: str, text: str, revision: int = 1, metadata: Any = None) -> MemoryRecord:
    at = now_iso()
    return MemoryRecord(memory_id, text, metadata, at, at, b"\x00\x00\x80\x3f" + b"\x01" * 4,
                        "test:4", 4, text_hash(text), revision)


def add(store, user: str, memory_id: str, text: str, limit: int = 100, **kwargs) -> None:
    store.apply(user, AddMemory(record(memory_id, text),
                                HistoryRecord(memory_id, text, "ADD", now_iso())),
                max_memories=limit, **kwargs)


def test_add_get_and_version(store):
    assert store.version("u1") == 0
    add(store, "u1", "m1", "Likes tea")
    got = store.get_memory("u1", "m1")
    assert got is not None and got.text == "Likes tea" and got.revision == 1
    assert got.vector == record("m1", "x").vector
    assert store.version("u1") == 1
    assert store.get_memory("u2", "m1") is None
    assert store.load_memories("u2") == []


def test_metadata_round_trips_exactly(store):
    metadata = {"float": 0.1, "int": 2**53 + 1, "nested": [{"a": None, "b": True}], "s": "é"}
    store.apply("u1", AddMemory(record("m1", "x", metadata=metadata),
                                HistoryRecord("m1", "x", "ADD", now_iso())), max_memories=10)
    assert store.get_memory("u1", "m1").metadata == metadata


def test_limit_is_enforced(store):
    add(store, "u1", "m1", "a", limit=2)
    add(store, "u1", "m2", "b", limit=2)
    with pytest.raises(MemoryLimitReached):
        add(store, "u1", "m3", "c", limit=2)
    assert store.count_memories("u1") == 2
    add(store, "u2", "m3", "c", limit=2)  # the limit is per user


def test_same_id_twice_is_already_applied(store):
    add(store, "u1", "m1", "a")
    with pytest.raises(AlreadyApplied):
        add(store, "u1", "m1", "a")
    assert store.count_memories("u1") == 1


def test_same_text_twice_is_duplicate_naming_the_existing_memory(store):
    add(store, "u1", "m1", "Likes tea")
    with pytest.raises(DuplicateMemory) as raised:
        add(store, "u1", "m2", "likes  TEA.")
    assert raised.value.memory_id == "m1"
    add(store, "u2", "m2", "Likes tea")  # per user
    assert store.count_memories("u1") == 1 and store.version("u1") == 1
    store.delete_memory("u1", "m1")
    add(store, "u1", "m3", "Likes tea")


def test_update_into_another_memorys_text_is_duplicate(store):
    add(store, "u1", "m1", "Likes tea")
    add(store, "u1", "m2", "Likes coffee")
    with pytest.raises(DuplicateMemory):
        store.apply("u1", UpdateMemory(record("m2", "Likes tea", revision=2), 1,
                                       text_hash("Likes coffee"),
                                       HistoryRecord("m2", "Likes tea", "UPDATE", now_iso())),
                    max_memories=10)
    assert store.get_memory("u1", "m2").text == "Likes coffee"


def test_idempotency_key_is_applied_once(store):
    add(store, "u1", "m1", "a", idempotency_key="job:1")
    with pytest.raises(AlreadyApplied):
        add(store, "u1", "m2", "b", idempotency_key="job:1")
    assert [r.id for r in store.load_memories("u1")] == ["m1"]
    assert store.version("u1") == 1


def test_update_and_remove_are_optimistic_and_keep_history(store):
    add(store, "u1", "m1", "Lives in Paris")
    updated = record("m1", "Lives in Berlin", revision=2)
    paris, berlin = text_hash("Lives in Paris"), text_hash("Lives in Berlin")
    store.apply("u1", UpdateMemory(updated, 1, paris, HistoryRecord(
        "m1", "Lives in Berlin", "UPDATE", now_iso(), "Lives in Paris")), max_memories=10)
    with pytest.raises(StaleMemory):  # a second writer with the old revision loses
        store.apply("u1", UpdateMemory(record("m1", "Lives in Rome", revision=2), 1, paris,
                                       HistoryRecord("m1", "Lives in Rome", "UPDATE", now_iso(),
                                                     "Lives in Paris")), max_memories=10)
    assert store.get_memory("u1", "m1").text == "Lives in Berlin"
    with pytest.raises(StaleMemory):
        store.apply("u1", RemoveMemory("m1", 1, berlin,
                                       HistoryRecord("m1", "x", "DELETE", now_iso())),
                    max_memories=10)
    store.apply("u1", RemoveMemory("m1", 2, berlin, HistoryRecord(
        "m1", "Lives in Berlin", "DELETE", now_iso(), "Lives in Berlin")), max_memories=10)
    add(store, "u1", "m9", "Lives in Berlin")  # the removed text is free again
    add(store, "u1", "m8", "lives in paris")  # and so is the text replaced by the update
    assert store.get_memory("u1", "m1") is None
    assert store.count_memories("u1") == 2
    assert [(h.event, h.memory, h.previous_memory) for h in store.history("u1", "m1")] == [
        ("ADD", "Lives in Paris", None),
        ("UPDATE", "Lives in Berlin", "Lives in Paris"),
        ("DELETE", "Lives in Berlin", "Lives in Berlin"),
    ]
    assert store.history("u2", "m1") == []


def test_user_delete_removes_memory_and_history_of_that_user_only(store):
    add(store, "u1", "m1", "a")
    add(store, "u2", "m1", "a")
    assert store.delete_memory("u1", "m1") is True
    assert store.delete_memory("u1", "m1") is False
    assert store.history("u1", "m1") == []
    assert store.get_memory("u2", "m1") is not None and store.history("u2", "m1")
    assert store.count_memories("u1") == 0


def test_list_pages_with_cursor_and_rejects_garbage(store):
    for i in range(5):
        add(store, "u1", f"m{i}", f"text {i}")
    page1, cursor = store.list_memories("u1", 2, None)
    page2, cursor2 = store.list_memories("u1", 2, cursor)
    page3, cursor3 = store.list_memories("u1", 2, cursor2)
    assert [r.id for r in page1 + page2 + page3] == [f"m{i}" for i in range(5)]
    assert cursor3 is None
    exact, none = store.list_memories("u1", 5, None)
    assert len(exact) == 5 and none is None
    with pytest.raises(ValueError):
        store.list_memories("u1", 2, "not-a-cursor")


def test_set_vectors_skips_changed_text(store):
    add(store, "u1", "m1", "a")
    store.set_vectors("u1", [VectorUpdate("m1", text_hash("a"), b"\x00" * 12, "new:8", 8),
                             VectorUpdate("m2", "nohash", b"\x00" * 12, "new:8", 8)])
    got = store.get_memory("u1", "m1")
    assert (got.embedder_id, got.dims, len(got.vector)) == ("new:8", 8, 12)
    store.set_vectors("u1", [VectorUpdate("m1", "stale-hash", b"\x01" * 12, "other:8", 8)])
    assert store.get_memory("u1", "m1").embedder_id == "new:8"


def test_jobs_round_trip_per_user(store):
    job = JobRecord(job_id="j1", status="queued", created_at=now_iso())
    store.put_job("u1", job)
    job.status = "done"
    job.results = [AddedMemory(id="m", memory="x", event="ADD")]
    job.plan = Plan(plan_id="p1", ops=[AddOp(id="m", text="x")])
    store.put_job("u1", job)
    got = store.get_job("u1", "j1")
    assert got == job and isinstance(got.plan.ops[0], AddOp)
    assert store.get_job("u2", "j1") is None


# A job body as the stores wrote it before the plan was a typed model (one op of each kind).
OLD_JOB_BODY = json.dumps({
    "job_id": "j-old", "status": "queued", "error": None, "attempts": 1,
    "created_at": "2026-11-01T10:00:00.000000Z", "updated_at": "2026-11-01T10:00:01.000000Z",
    "results": [{"id": "m-1", "memory": "Likes tea", "event": "ADD"}],
    "plan": {"plan_id": "abc123", "llm": "openai:gpt-4.1-mini", "facts": 3, "ops": [
        {"event": "ADD", "text": "Likes tea", "id": "m-1"},
        {"event": "UPDATE", "id": "m-2", "text": "Lives in Leeds", "revision": 2,
         "previous": "Lives in York", "metadata": {"topic": "home"},
         "created_at": "2026-10-01T09:00:00.000000Z", "hash": "h2"},
        {"event": "DELETE", "id": "m-3", "text": "Has a cat", "revision": 1,
         "previous": "Has a cat", "metadata": None,
         "created_at": "2026-10-02T09:00:00.000000Z", "hash": "h3"},
    ]},
})


def put_raw_job(store, user: str, job_id: str, body: str) -> None:
    """Writes a job body as stored bytes, bypassing `JobRecord` (an older writer's item)."""
    expires = int(time.time()) + 3600
    if isinstance(store, SqliteMemoryStore):
        with sqlite3.connect(store.path) as db:
            db.execute("INSERT INTO jobs (user_id, job_id, body, expires_at) VALUES (?, ?, ?, ?)",
                       (user, job_id, body, expires))
    else:  # inside the fixture's mock_aws: the same moto table
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.put_item(TableName=store.table_name, Item={
            "PK": {"S": f"USER#{user}"}, "SK": {"S": f"JOB#{job_id}"}, "body": {"S": body},
            "expires_at": {"N": str(expires)}})


def test_job_bodies_written_before_the_typed_plan_still_load(store):
    put_raw_job(store, "u1", "j-old", OLD_JOB_BODY)
    job = store.get_job("u1", "j-old")
    add_op, update_op, delete_op = job.plan.ops
    assert isinstance(add_op, AddOp) and add_op.id == "m-1"
    assert isinstance(update_op, UpdateOp) and (update_op.revision, update_op.previous,
                                                update_op.metadata) == (2, "Lives in York",
                                                                        {"topic": "home"})
    assert isinstance(delete_op, DeleteOp) and delete_op.hash == "h3"
    assert job.results == [AddedMemory(id="m-1", memory="Likes tea", event="ADD")]
    assert (job.attempts, job.plan.llm, job.plan.facts) == (1, "openai:gpt-4.1-mini", 3)
    # Written back by today's code, it reads the same.
    store.put_job("u1", job)
    assert store.get_job("u1", "j-old") == job


def test_a_job_body_with_an_unknown_op_does_not_load(store):
    # Positive control above; here the op kind is not one the worker can apply.
    body = json.loads(OLD_JOB_BODY)
    body["plan"]["ops"][0]["event"] = "MERGE"
    put_raw_job(store, "u1", "j-bad", json.dumps(body))
    with pytest.raises(StoreUnavailable) as raised:
        store.get_job("u1", "j-bad")
    assert not raised.value.retryable


def test_text_hash_ignores_case_spacing_and_final_dot():
    assert normalise_text("  Likes   GREEN tea. ") == "likes green tea"
    assert text_hash("Likes green tea") == text_hash("likes green  tea.")
    assert text_hash("Likes green tea") != text_hash("Likes black tea")


# --- DynamoDB specifics --------------------------------------------------------------------------


class _ConflictingClient:
    """Wraps a client; the first N transactions fail with TransactionConflict."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client = client
        self.conflicts = conflicts
        self.calls = 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.conflicts:
            self.conflicts -= 1
            reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}] + [
                {"Code": "None"}] * (len(kwargs["TransactItems"]) - 2)
            raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                         "Message": "conflict"},
                               "CancellationReasons": reasons}, "TransactWriteItems")
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_dynamodb_transaction_conflicts_are_retried():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "conflicts")
        wrapper = _ConflictingClient(client, conflicts=3)
        store = DynamoMemoryStore("conflicts", wrapper)
        add(store, "u1", "m1", "a")
        assert wrapper.calls == 4
        assert store.count_memories("u1") == 1


def test_dynamodb_endless_conflicts_become_store_unavailable():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "conflicts")
        store = DynamoMemoryStore("conflicts", _ConflictingClient(client, conflicts=100))
        with pytest.raises(StoreUnavailable):
            add(store, "u1", "m1", "a")
        assert store.load_memories("u1") == []


def test_dynamodb_items_stay_small_and_partitioned_by_user():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "layout")
        store = DynamoMemoryStore("layout", client)
        add(store, "sub-1", "m1", "Likes tea", idempotency_key="job:0")
        store.put_job("sub-1", JobRecord(job_id="j1", status="queued"))
        items = client.scan(TableName="layout")["Items"]
    keys = sorted(item["SK"]["S"].split("#")[0] for item in items)
    assert keys == ["DONE", "HASH", "HIST", "JOB", "MEM", "META"]
    assert {item["PK"]["S"] for item in items} == {"USER#sub-1"}
    memory = next(item for item in items if item["SK"]["S"].startswith("MEM#"))
    assert "B" in memory["vec"]
    ttl_items = [item for item in items if item["SK"]["S"].split("#")[0] in ("DONE", "JOB")]
    assert all("expires_at" in item for item in ttl_items)


# Items as the store wrote them before attribute values went through boto3's TypeSerializer,
# spelled out by hand: tables written then must still read, and writes must keep this shape.
_OLD_VECTOR = b"\x00\x00\x80\x3f" + b"\x01" * 4
_OLD_ITEMS: list[dict[str, Any]] = [
    {"PK": {"S": "USER#u1"}, "SK": {"S": "MEM#m1"}, "text": {"S": "Likes tea"},
     "created": {"S": "2025-01-02T03:04:05.000006Z"},
     "updated": {"S": "2025-01-03T03:04:05.000006Z"}, "vec": {"B": _OLD_VECTOR},
     "emb": {"S": "test:4"}, "dims": {"N": "4"}, "hash": {"S": text_hash("Likes tea")},
     "rev": {"N": "2"}, "meta": {"S": '{"source":"voice","n":0.1}'}},
    {"PK": {"S": "USER#u1"}, "SK": {"S": "MEM#m2"}, "text": {"S": "Lives in Lisbon"},
     "created": {"S": "2025-01-02T03:04:05.000006Z"},
     "updated": {"S": "2025-01-02T03:04:05.000006Z"}, "vec": {"B": _OLD_VECTOR},
     "emb": {"S": "test:4"}, "dims": {"N": "4"}, "hash": {"S": text_hash("Lives in Lisbon")},
     "rev": {"N": "1"}},
    {"PK": {"S": "USER#u1"}, "SK": {"S": "HIST#m1#2025-01-02T03:04:05.000006Z#a1b2c3"},
     "memory": {"S": "Likes coffee"}, "event": {"S": "ADD"},
     "at": {"S": "2025-01-02T03:04:05.000006Z"}},
    {"PK": {"S": "USER#u1"}, "SK": {"S": "HIST#m1#2025-01-03T03:04:05.000006Z#d4e5f6"},
     "memory": {"S": "Likes tea"}, "event": {"S": "UPDATE"},
     "at": {"S": "2025-01-03T03:04:05.000006Z"}, "prev": {"S": "Likes coffee"}},
    {"PK": {"S": "USER#u1"}, "SK": {"S": "HASH#" + text_hash("Likes tea")},
     "mem": {"S": "m1"}},
    {"PK": {"S": "USER#u1"}, "SK": {"S": "HASH#" + text_hash("Lives in Lisbon")},
     "mem": {"S": "m2"}},
    {"PK": {"S": "USER#u1"}, "SK": {"S": "META"}, "version": {"N": "3"}, "count": {"N": "2"},
     "L1": {"S": "1:A:m1"}, "L2": {"S": "2:A:m2"}, "L3": {"S": "3:U:m1"}},
]


def test_dynamodb_items_in_the_old_hand_written_shape_still_load():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "old-shape")
        for item in _OLD_ITEMS:
            client.put_item(TableName="old-shape", Item=item)
        store = DynamoMemoryStore("old-shape", client)

        m1 = store.get_memory("u1", "m1")
        assert m1 == MemoryRecord("m1", "Likes tea", {"source": "voice", "n": 0.1},
                                  "2025-01-02T03:04:05.000006Z", "2025-01-03T03:04:05.000006Z",
                                  _OLD_VECTOR, "test:4", 4, text_hash("Likes tea"), 2)
        assert [r.id for r in store.load_memories("u1")] == ["m1", "m2"]
        assert store.get_memory("u1", "m2").metadata is None
        assert store.version("u1") == 3 and store.count_memories("u1") == 2
        assert [(c.version, c.event, c.memory_id) for c in store.changes_since("u1", 0)] == [
            (1, "ADD", "m1"), (2, "ADD", "m2"), (3, "UPDATE", "m1")]
        history = [HistoryRecord("m1", "Likes coffee", "ADD", "2025-01-02T03:04:05.000006Z"),
                   HistoryRecord("m1", "Likes tea", "UPDATE", "2025-01-03T03:04:05.000006Z",
                                 "Likes coffee")]
        assert store.history("u1", "m1") == history
        assert store.histories("u1", ["m1", "m2"]) == {"m1": history}
        with pytest.raises(DuplicateMemory) as duplicate:  # the old hash guard still guards
            add(store, "u1", "m3", "Likes tea")
        assert duplicate.value.args[0] == "m1"


def test_dynamodb_writes_keep_the_old_item_shape():
    old_m1, old_m2, old_add, old_update = _OLD_ITEMS[:4]
    m1 = MemoryRecord("m1", "Likes tea", {"source": "voice", "n": 0.1},
                      "2025-01-02T03:04:05.000006Z", "2025-01-03T03:04:05.000006Z",
                      _OLD_VECTOR, "test:4", 4, text_hash("Likes tea"), 2)
    m2 = MemoryRecord("m2", "Lives in Lisbon", None, "2025-01-02T03:04:05.000006Z",
                      "2025-01-02T03:04:05.000006Z", _OLD_VECTOR, "test:4", 4,
                      text_hash("Lives in Lisbon"), 1)
    assert memory_item("u1", m1) == old_m1 and memory_item("u1", m2) == old_m2
    added = history_item("u1", HistoryRecord("m1", "Likes coffee", "ADD",
                                             "2025-01-02T03:04:05.000006Z"))
    updated = history_item("u1", HistoryRecord("m1", "Likes tea", "UPDATE",
                                               "2025-01-03T03:04:05.000006Z", "Likes coffee"))
    for new, old in ((added, old_add), (updated, old_update)):
        # The SK ends in a random suffix; everything else is the same to the letter.
        assert new["SK"]["S"].rsplit("#", 1)[0] == old["SK"]["S"].rsplit("#", 1)[0]
        assert {**new, "SK": old["SK"]} == old


# --- histories and forget_user ------------------------------------------------------------------


def test_histories_of_several_memories_in_one_read_oldest_first(store):
    for memory_id, text in (("m1", "Likes tea"), ("m2", "Likes coffee"), ("m3", "Likes milk")):
        add(store, "u1", memory_id, text)
    add(store, "u2", "m2", "Other user's memory")
    store.apply("u1", UpdateMemory(record("m2", "Loves coffee", revision=2), 1,
                                   text_hash("Likes coffee"),
                                   HistoryRecord("m2", "Loves coffee", "UPDATE", now_iso(),
                                                 previous_memory="Likes coffee")),
                max_memories=10)

    found = store.histories("u1", ["m2", "m3"])

    assert set(found) == {"m2", "m3"}  # m1 (between them in key order) is not asked for
    assert [(h.event, h.memory) for h in found["m2"]] == [("ADD", "Likes coffee"),
                                                          ("UPDATE", "Loves coffee")]
    assert found["m2"] == store.history("u1", "m2")
    assert store.histories("u1", []) == {}
    assert store.histories("u3", ["m2"]) == {}


def test_forget_user_removes_all_of_one_user_and_moves_the_version_on(store):
    for user in ("u1", "u2"):
        add(store, user, "m1", "Likes tea", idempotency_key="job:0")
        add(store, user, "m2", "Likes coffee")
        store.put_job(user, JobRecord(job_id="j1", status="done"))
    version = store.version("u1")

    store.forget_user("u1", budget_s=10)

    assert store.load_memories("u1") == [] and store.count_memories("u1") == 0
    assert store.history("u1", "m1") == [] and store.get_job("u1", "j1") is None
    assert store.version("u1") > version
    assert store.changes_since("u1", version) is None  # caches must reload, not catch up
    # The idempotency marker and the hash guard are gone: the same change applies again.
    add(store, "u1", "m1", "Likes tea", idempotency_key="job:0")
    # The other user is untouched.
    assert sorted(r.text for r in store.load_memories("u2")) == ["Likes coffee", "Likes tea"]
    assert store.get_job("u2", "j1") is not None and store.count_memories("u2") == 2


class _UnprocessingClient:
    """Leaves every delete of a BatchWriteItem unprocessed for the first ``failures`` calls."""

    def __init__(self, client: Any, failures: int) -> None:
        self._client = client
        self.failures = failures
        self.batch_calls = 0

    def batch_write_item(self, **kwargs: Any) -> Any:
        self.batch_calls += 1
        if self.failures:
            self.failures -= 1
            return {"UnprocessedItems": kwargs["RequestItems"]}
        return self._client.batch_write_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_dynamodb_forget_retries_unprocessed_items_in_batches_of_25():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "forget")
        wrapper = _UnprocessingClient(client, failures=2)
        store = DynamoMemoryStore("forget", wrapper)
        for i in range(20):  # 60 items: memory, history and hash guard each
            add(store, "u1", f"m{i:02d}", f"fact {i}")

        store.forget_user("u1", budget_s=10)

        assert wrapper.batch_calls == 3 + 2  # ceil(60 / 25) batches, two of them retried
        items = client.query(TableName="forget", KeyConditionExpression="PK = :pk",
                             ExpressionAttributeValues={":pk": {"S": "USER#u1"}})["Items"]
    assert [item["SK"]["S"] for item in items] == ["META"]
    assert items[0]["count"]["N"] == "0" and not any(k.startswith("L") for k in items[0])


def test_dynamodb_forget_that_keeps_failing_is_unavailable_and_a_retry_finishes():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "forget")
        wrapper = _UnprocessingClient(client, failures=1000)
        store = DynamoMemoryStore("forget", wrapper)
        for i in range(30):
            add(store, "u1", f"m{i:02d}", f"fact {i}")
        add(store, "u2", "m00", "fact 0")

        with pytest.raises(StoreUnavailable) as raised:
            store.forget_user("u1", budget_s=0.2)
        assert raised.value.retryable
        assert store.count_memories("u1") == 30  # META is reset last: the state says "not done"

        wrapper.failures = 0
        store.forget_user("u1", budget_s=10)

        assert store.load_memories("u1") == [] and store.count_memories("u1") == 0
        assert [r.text for r in store.load_memories("u2")] == ["fact 0"]


def test_sqlite_counts_a_file_written_before_the_counts_existed(tmp_path):
    # Given a store file whose users were never counted (its count table dropped, as in a
    # file of an earlier version), with memories of two users
    path = tmp_path / "memory.sqlite3"
    old = SqliteMemoryStore(path)
    for i in range(3):
        add(old, "u1", f"m{i}", f"fact {i}")
    add(old, "u2", "m0", "fact 0")
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE memory_counts")
    # When the store opens it again
    store = SqliteMemoryStore(path)
    # Then each user is counted once, and the limit and later writes keep the count
    assert (store.count_memories("u1"), store.count_memories("u2")) == (3, 1)
    with pytest.raises(MemoryLimitReached):
        add(store, "u1", "m9", "fact 9", limit=3)
    assert store.delete_memory("u1", "m0") and store.count_memories("u1") == 2
    add(store, "u1", "m9", "fact 9", limit=3)
    assert store.count_memories("u1") == 3
    # (control: opening again does not count anyone twice)
    assert SqliteMemoryStore(path).count_memories("u1") == 3
