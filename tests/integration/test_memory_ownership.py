"""Memory that users own, through the real handler on SQLite and DynamoDB (moto): import with
dates (``created_at``), export, "forget me" and metadata filters, each checked across users."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unique_user
from tests.integration.memory_events import (  # noqa: F401 - fixtures
    TABLE,
    RecordingQueue,
    backend_fixture,
    call_memory,
    queue_fixture,
)
from voice_agent.memory import export, use_cases, wiring
from voice_agent.memory.models import ExportedMemory
from voice_agent.memory.store import encode_cursor


def add(sub: str, *texts: str, metadata: dict | None = None, created_at: str | None = None,
        ) -> list[dict]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": t} for t in texts],
                            "infer": False}
    if metadata is not None:
        body["metadata"] = metadata
    if created_at is not None:
        body["created_at"] = created_at
    status, result, _ = call_memory("POST", "/api/memory", body, sub=sub)
    assert status == 201, result
    return result["results"]


def search(sub: str, query: str, limit: int = 10, **extra: Any) -> list[dict]:
    status, result, _ = call_memory("POST", "/api/memory/search",
                                    {"query": query, "limit": limit, **extra}, sub=sub)
    assert status == 200, result
    return result["results"]


def export_all(sub: str, limit: int = 500) -> tuple[list[dict], int, int]:
    """Every exported memory of ``sub`` (following cursors), the total and the page count."""
    memories: list[dict] = []
    cursor, pages, total = None, 0, -1
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = call_memory("GET", "/api/memory/export", sub=sub, query=query)
        assert status == 200, page
        assert page["format"] == "voice-agent.memory-export.v1"
        memories += page["memories"]
        total, pages, cursor = page["total"], pages + 1, page["next_cursor"]
        if cursor is None:
            return memories, total, pages


def forget(sub: str) -> tuple[int, Any, dict[str, str]]:
    return call_memory("DELETE", "/api/memory", sub=sub)


def texts(results: list[dict]) -> list[str]:
    return [r["memory"] for r in results]


# --- created_at ---------------------------------------------------------------------------------


def test_add_with_created_at_dates_the_memory_and_its_history_in_utc(backend):
    user = unique_user()
    (added,) = add(user, "Moved to Lisbon", created_at="2023-05-08T13:56:00+02:00")

    _, listing, _ = call_memory("GET", "/api/memory", sub=user)
    (memory,) = listing["results"]
    assert memory["created_at"] == "2023-05-08T11:56:00.000000Z"
    assert memory["updated_at"] == memory["created_at"]
    _, history, _ = call_memory("GET", f"/api/memory/{added['id']}/history", sub=user)
    assert [(h["event"], h["at"]) for h in history["results"]] == [
        ("ADD", "2023-05-08T11:56:00.000000Z")]


@pytest.mark.parametrize("value", ["2999-01-01T00:00:00Z", "2023-05-08T13:56:00", "2023-05-08",
                                   "yesterday", "", 1683546960])
def test_add_with_invalid_created_at_is_422_naming_the_field_and_stores_nothing(backend, value):
    user = unique_user()
    status, result, _ = call_memory("POST", "/api/memory", {
        "messages": "Moved to Lisbon", "infer": False, "created_at": value}, sub=user)
    assert status == 422
    assert result["error"].startswith("created_at:")
    _, listing, _ = call_memory("GET", "/api/memory", sub=user)
    assert listing["results"] == []
    # Positive control: the same body dated in the past with an offset is stored.
    add(user, "Moved to Lisbon", created_at="2023-05-08T13:56:00Z")


def test_add_infer_with_created_at_dates_the_extracted_facts(backend, queue: RecordingQueue):
    user = unique_user()
    status, result, _ = call_memory("POST", "/api/memory", {
        "messages": [{"role": "user", "content": "I adopted a cat called Miso"}],
        "created_at": "2022-11-03T09:15:00-05:00"}, sub=user)
    assert status == 202, result
    assert queue.messages[0]["created_at"] == "2022-11-03T14:15:00.000000Z"

    assert queue.deliver() == {"batchItemFailures": []}

    _, listing, _ = call_memory("GET", "/api/memory", sub=user)
    assert [(m["memory"], m["created_at"]) for m in listing["results"]] == [
        ("I adopted a cat called Miso", "2022-11-03T14:15:00.000000Z")]


# --- export -------------------------------------------------------------------------------------


def test_export_returns_every_memory_with_metadata_dates_and_history(backend):
    user = unique_user()
    add(user, "Works at Acme", metadata={"source": "user", "n": 1.5},
        created_at="2024-01-02T10:00:00Z")
    add(user, "Likes green tea", "Has a dog called Rex", metadata={"source": "assistant"})

    memories, total, _ = export_all(user)

    assert total == 3
    assert sorted(texts(memories)) == ["Has a dog called Rex", "Likes green tea",
                                       "Works at Acme"]
    acme = next(m for m in memories if m["memory"] == "Works at Acme")
    assert set(acme) == {"id", "memory", "metadata", "created_at", "updated_at", "history"}
    assert acme["metadata"] == {"source": "user", "n": 1.5}
    assert acme["created_at"] == "2024-01-02T10:00:00.000000Z"
    assert acme["history"] == [{"memory": "Works at Acme", "event": "ADD",
                                "at": "2024-01-02T10:00:00.000000Z", "previous_memory": None}]
    assert all(len(m["history"]) == 1 for m in memories)


def test_export_pages_follow_the_cursor_and_stop_at_the_byte_budget(backend, monkeypatch):
    user = unique_user()
    add(user, *[f"fact number {i}" for i in range(7)])

    by_count, total, pages = export_all(user, limit=3)
    assert (total, pages, len(by_count)) == (7, 3, 7)

    # A page stops early once its JSON passes the budget; the cursor continues after it.
    monkeypatch.setattr(export, "EXPORT_PAGE_BYTES", 1)
    by_bytes, _, pages = export_all(user, limit=500)
    assert pages == 7
    assert texts(by_bytes) == texts(by_count)


def test_export_pages_measure_bytes_as_sent_for_non_ascii_text(backend, monkeypatch):
    user = unique_user()
    add(user, *[f"{i} " + "é" * 1500 for i in range(6)], metadata={"note": "ü" * 300})
    # As sent, a memory is ≈ 20 KB (text and history of 1500 é escaped as 6 bytes each), though
    # only ≈ 3.5 KB of characters: counted in characters, all six would fit in one page.
    monkeypatch.setattr(export, "EXPORT_PAGE_BYTES", 25_000)

    sizes, cursor = [], None
    while True:
        status, page, _ = call_memory("GET", "/api/memory/export", sub=user,
                                      query="limit=500" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        sizes.append(len(json.dumps(page, separators=(",", ":"))))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    one_memory = 21_000
    assert len(sizes) == 3  # two memories a page: the second passes the budget
    assert all(size <= 25_000 + one_memory for size in sizes)


def test_export_never_returns_another_users_memories(backend):
    alice, bob = unique_user(), unique_user()
    add(alice, "Alice likes opera")
    add(bob, "Bob likes jazz", "Bob lives in Oslo")

    alice_memories, alice_total, _ = export_all(alice)
    bob_memories, bob_total, _ = export_all(bob)

    assert (texts(alice_memories), alice_total) == (["Alice likes opera"], 1)
    assert (sorted(texts(bob_memories)), bob_total) == (["Bob likes jazz", "Bob lives in Oslo"], 2)
    # A cursor naming another user's memory only pages the caller's own partition.
    cursor = encode_cursor(bob_memories[0]["id"])
    _, page, _ = call_memory("GET", "/api/memory/export", sub=alice, query=f"cursor={cursor}")
    assert all(m["memory"].startswith("Alice") for m in page["memories"])


def test_export_with_garbage_cursor_is_422(backend):
    status, result, _ = call_memory("GET", "/api/memory/export", sub=unique_user(),
                                    query="cursor=not-a-cursor")
    assert status == 422 and result["error"].startswith("cursor:")
    # Positive control: without the cursor the export answers.
    assert call_memory("GET", "/api/memory/export", sub=unique_user())[0] == 200


# --- forget -------------------------------------------------------------------------------------


def _leftovers(backend: str, tmp_path: Path, user: str) -> list[str]:
    """What the store still holds for ``user``, read behind the service's back."""
    if backend == "sqlite":
        db = sqlite3.connect(tmp_path / "memory.sqlite3")
        rows = []
        for table in ("memories", "history", "jobs", "applied", "memory_log"):
            count = db.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?",
                               (user,)).fetchone()[0]
            rows += [table] * count
        return rows
    import boto3

    items = boto3.client("dynamodb", region_name="us-east-1").query(
        TableName=TABLE, KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USER#{user}"}})["Items"]
    leftovers = [item["SK"]["S"] for item in items if item["SK"]["S"] != "META"]
    meta = next((item for item in items if item["SK"]["S"] == "META"), {})
    leftovers += [name for name in meta if name.startswith("L")]  # change-log slots
    if meta and meta["count"]["N"] != "0":
        leftovers.append(f"count={meta['count']['N']}")
    return leftovers


def test_forget_deletes_everything_of_the_caller_and_nothing_of_others(
        backend, queue: RecordingQueue, tmp_path):
    alice, bob = unique_user(), unique_user()
    for user in (alice, bob):
        add(user, f"{user} likes opera", f"{user} lives in Oslo")
        status, job, _ = call_memory("POST", "/api/memory", {"messages": "I own a red bike"},
                                     sub=user)
        assert status == 202
    assert queue.deliver() == {"batchItemFailures": []}
    assert search(alice, "opera")  # warms alice's index
    _, alice_list, _ = call_memory("GET", "/api/memory", sub=alice)
    alice_id = alice_list["results"][0]["id"]
    bob_before = export_all(bob)[0]

    status, body, _ = forget(alice)

    assert (status, body) == (204, None)
    assert _leftovers(backend, tmp_path, alice) == []
    assert call_memory("GET", "/api/memory", sub=alice)[1]["results"] == []
    assert search(alice, "opera") == []
    assert export_all(alice)[1] == 0
    assert call_memory("GET", f"/api/memory/{alice_id}/history", sub=alice)[0] == 404
    # Bob keeps everything: memories, histories, his job.
    assert export_all(bob)[0] == bob_before
    assert texts(search(bob, "opera"))[0] == f"{bob} likes opera"
    assert call_memory("GET", f"/api/memory/jobs/{job['job_id']}", sub=bob)[1]["status"] == "done"
    # Hash guards are gone too: the same text is a new memory again, not a duplicate.
    assert [r["event"] for r in add(alice, f"{alice} likes opera")] == ["ADD"]
    assert texts(search(alice, "opera")) == [f"{alice} likes opera"]


def test_forget_removes_the_callers_jobs_and_drops_a_job_still_queued(
        backend, queue: RecordingQueue):
    user = unique_user()
    status, result, _ = call_memory("POST", "/api/memory", {"messages": "I speak Finnish"},
                                    sub=user)
    assert status == 202

    assert forget(user)[0] == 204
    assert call_memory("GET", f"/api/memory/jobs/{result['job_id']}", sub=user)[0] == 404
    # The message queued before the forget arrives afterwards: it must not bring memories back.
    assert queue.deliver() == {"batchItemFailures": []}
    assert call_memory("GET", "/api/memory", sub=user)[1]["results"] == []

    # Positive control: a job queued after the forget runs.
    call_memory("POST", "/api/memory", {"messages": "I speak Finnish"}, sub=user)
    assert queue.deliver() == {"batchItemFailures": []}
    assert texts(call_memory("GET", "/api/memory", sub=user)[1]["results"]) == [
        "I speak Finnish"]


def test_forget_without_memories_is_204(backend):
    assert forget(unique_user())[0] == 204


# --- the round trip -----------------------------------------------------------------------------


def _comparable(results: list[dict]) -> list[tuple[Any, ...]]:
    # Equal scores are ordered by position in the index, i.e. by memory id, and imported
    # memories get new ids: ties are compared by text.
    return sorted((-r["score"], r["memory"], json.dumps(r["metadata"], sort_keys=True),
                    r["created_at"], r["updated_at"]) for r in results)


def test_export_forget_import_round_trip_gives_identical_search_results(backend):
    user = unique_user()
    add(user, "Caroline went to a support group", "It was powerful and moving",
        metadata={"source": "import", "session": 1}, created_at="2023-05-08T13:56:00Z")
    add(user, "Melanie painted a sunrise", "She ran a charity race",
        metadata={"source": "import", "session": 2}, created_at="2023-05-25T13:14:00Z")
    add(user, "Caroline wants to study counseling", metadata={"source": "user"})
    queries = ["What did Caroline do on 8 May 2023?", "painting", "counseling career"]
    before = [_comparable(search(user, q)) for q in queries]
    exported, total, _ = export_all(user, limit=2)

    assert forget(user)[0] == 204
    assert export_all(user)[1] == 0
    for memory in exported:
        body = export.import_request(ExportedMemory.model_validate(memory))
        status, result, _ = call_memory("POST", "/api/memory",
                                        body.model_dump(exclude_none=True), sub=user)
        assert status == 201 and result["results"][0]["event"] == "ADD"

    after = [_comparable(search(user, q)) for q in queries]
    assert after == before
    reimported, total_after, _ = export_all(user)
    assert total_after == total == 5
    key = lambda m: m["memory"]  # noqa: E731 - ids are new, everything else is the same
    assert [(m["memory"], m["metadata"], m["created_at"])
            for m in sorted(reimported, key=key)] == [
        (m["memory"], m["metadata"], m["created_at"]) for m in sorted(exported, key=key)]


# --- ranking of imported memories ---------------------------------------------------------------


def _rank(results: list[dict], text: str) -> int:
    return texts(results).index(text) if text in texts(results) else len(results)


def test_imported_memories_of_one_conversation_lift_each_other_as_live_ones_do(
        backend, monkeypatch):
    # Given the same two conversations stored live (stamped by the clock) and imported (dated
    # by created_at); the answer to the question shares no word with it, only its episode mate.
    conversation_1 = ("Caroline went to an adoption agency meeting on Friday",
                      "The kids there made her smile all evening")
    conversation_2 = ("Caroline thought about the meeting at work",
                      "Melanie made pottery with the kids",
                      "The weather was grey and cold")
    days = ("2023-06-02T18:00:00", "2023-06-20T18:00:00")
    live, imported, control = unique_user(), unique_user(), unique_user()
    for day, facts in zip(days, (conversation_1, conversation_2), strict=True):
        with monkeypatch.context() as clock:
            clock.setattr(use_cases, "now_iso", lambda day=day: f"{day}.000000Z")
            add(live, *facts)
        add(imported, *facts, created_at=f"{day}+00:00")
    # The control imports the mate a month away from its conversation: no episode to share.
    add(control, conversation_1[0], *conversation_2, created_at=f"{days[0]}+00:00")
    add(control, conversation_1[1], created_at="2023-07-30T18:00:00+00:00")

    question = "How did Caroline feel after the adoption agency meeting?"
    mate = conversation_1[1]

    # Then the episode mate ranks the same for live and imported memories, and the boost is
    # what lifts it (the control ranks it lower)
    live_results, imported_results = search(live, question), search(imported, question)
    assert texts(imported_results) == texts(live_results)
    control_results = search(control, question)
    assert _rank(control_results, mate) > _rank(imported_results, mate)
    score = {r["memory"]: r["score"] for r in imported_results}
    assert score[mate] > {r["memory"]: r["score"] for r in control_results}[mate]
    # Lifted above a memory of the other conversation that the question does not reach either.
    assert score[mate] > score["Melanie made pottery with the kids"]


# --- filters ------------------------------------------------------------------------------------


def test_search_filters_only_rank_memories_with_every_pair(backend):
    user, other = unique_user(), unique_user()
    add(user, "Runs every morning before work", metadata={"category": "health",
                                                           "source": "user"})
    add(user, "Runs the team standup at work", metadata={"category": "work",
                                                         "source": "assistant"})
    add(user, "Work starts at nine", metadata={"category": "work", "source": "user"})
    add(other, "Other runs to work", metadata={"category": "work", "source": "user"})

    work = search(user, "runs at work", filters={"category": "work"})
    both = search(user, "runs at work", filters={"category": "work", "source": "user"})
    unfiltered = search(user, "runs at work")

    assert sorted(texts(work)) == ["Runs the team standup at work", "Work starts at nine"]
    assert texts(both) == ["Work starts at nine"]
    assert len(unfiltered) == 3  # positive control: without filters all three rank
    # Another user's metadata never brings their memories in.
    assert search(user, "Other runs", filters={"category": "work"})[0]["memory"] != \
        "Other runs to work"
    assert search(user, "runs", filters={"category": "sport"}) == []


def test_search_filters_compare_types_strictly(backend):
    user = unique_user()
    add(user, "Flag memory", metadata={"flag": True, "n": 1, "none": None})

    assert texts(search(user, "flag", filters={"flag": True})) == ["Flag memory"]
    assert texts(search(user, "flag", filters={"n": 1.0, "none": None})) == ["Flag memory"]
    assert search(user, "flag", filters={"flag": 1}) == []
    assert search(user, "flag", filters={"n": "1"}) == []
    assert search(user, "flag", filters={"missing": None}) == []


@pytest.mark.parametrize("filters", [{"k": {"nested": 1}}, {"k": [1]}, "source=user",
                                     {f"k{i}": 1 for i in range(11)}, {"": 1}])
def test_invalid_search_filters_are_422_naming_the_field(backend, filters):
    status, result, _ = call_memory("POST", "/api/memory/search",
                                    {"query": "x", "filters": filters}, sub=unique_user())
    assert status == 422 and result["error"].startswith("filters"), result
    # Positive control
    assert call_memory("POST", "/api/memory/search", {"query": "x", "filters": {"k": 1}},
                       sub=unique_user())[0] == 200


def test_list_filters_page_only_matching_memories_of_the_caller(backend):
    user, other = unique_user(), unique_user()
    add(user, *[f"work fact {i}" for i in range(5)], metadata={"category": "work"})
    add(user, "home fact", metadata={"category": "home"})
    add(other, "other work fact", metadata={"category": "work"})
    query = "filters=" + json.dumps({"category": "work"}).replace(" ", "")

    seen, cursor, pages = [], None, 0
    while True:
        status, page, _ = call_memory("GET", "/api/memory", sub=user,
                                      query=f"{query}&limit=2" + (f"&cursor={cursor}"
                                                                  if cursor else ""))
        assert status == 200, page
        seen += texts(page["results"])
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == [f"work fact {i}" for i in range(5)]
    assert pages == 3
    _, everything, _ = call_memory("GET", "/api/memory", sub=user)
    assert len(everything["results"]) == 6  # positive control: unfiltered lists all


@pytest.mark.parametrize("raw", ["not-json", "[1]", '{"k":{"a":1}}', '{"k":[1]}'])
def test_invalid_list_filters_are_422(backend, raw):
    from urllib.parse import quote

    status, result, _ = call_memory("GET", "/api/memory", sub=unique_user(),
                                    query=f"filters={quote(raw)}")
    assert status == 422 and result["error"].startswith("filters"), result


def test_forget_on_a_throttled_table_is_503_and_a_retry_finishes(monkeypatch, tmp_path):
    import boto3
    from moto import mock_aws

    from tests.unit.test_memory_store import _UnprocessingClient
    from voice_agent.memory import forget as forget_module
    from voice_agent.memory.store_dynamodb import DynamoMemoryStore
    from voice_agent.memory.wiring import MemoryDeps
    from voice_agent_cli.local_aws import create_memory_table

    monkeypatch.setenv("EMBEDDINGS", "hashing")
    default_budget = forget_module.FORGET_BUDGET_S
    monkeypatch.setattr(forget_module, "FORGET_BUDGET_S", 0.2)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, TABLE)
        throttled = _UnprocessingClient(client, failures=0)
        wiring.reset_memory_deps(MemoryDeps(store=DynamoMemoryStore(TABLE, client=throttled)))
        try:
            user, other = unique_user(), unique_user()
            add(user, *[f"fact {i}" for i in range(30)])
            add(other, "fact 0")
            throttled.failures = 1000

            status, body, headers = forget(user)

            assert status == 503 and "try again" in body["error"]
            assert headers.get("Retry-After")
            throttled.failures = 0
            # The retry gets the normal budget: on a loaded machine 0.2 s can be too short
            # for 60 deletes against moto, and finishing is what this step checks.
            monkeypatch.setattr(forget_module, "FORGET_BUDGET_S", default_budget)
            assert forget(user)[0] == 204
            assert export_all(user)[1] == 0
            assert texts(export_all(other)[0]) == ["fact 0"]
        finally:
            wiring.reset_memory_deps()


class _RetriedWrites:
    """A store whose adds land but answer as a retried call does: "already applied"."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def apply(self, user_id: str, change: Any, **kwargs: Any) -> None:
        from voice_agent.memory.store import AlreadyApplied

        self._inner.apply(user_id, change, **kwargs)
        raise AlreadyApplied(change.record.id)


def test_add_whose_write_landed_on_a_retry_is_an_add_not_a_500(tmp_path, monkeypatch):
    from voice_agent.memory.store_sqlite import SqliteMemoryStore
    from voice_agent.memory.wiring import MemoryDeps

    monkeypatch.setenv("EMBEDDINGS", "hashing")
    store = SqliteMemoryStore(tmp_path / "memory.sqlite3")
    wiring.reset_memory_deps(MemoryDeps(store=_RetriedWrites(store)))
    try:
        user = unique_user()
        (added,) = add(user, "Imported fact", created_at="2022-01-01T00:00:00Z")
        assert added["event"] == "ADD"
        assert [r.text for r in store.load_memories(user)] == ["Imported fact"]
    finally:
        wiring.reset_memory_deps()
