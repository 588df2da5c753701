"""Every /api/memory route through the real handler, on SQLite and on DynamoDB (moto)."""

from __future__ import annotations

import pytest

from tests.conftest import unique_user
from tests.integration.memory_events import (  # noqa: F401 - fixtures
    RecordingQueue,
    backend_fixture,
    call_memory,
    queue_fixture,
)
from voice_agent.memory import use_cases


def add_verbatim(sub: str, *texts: str, metadata: dict | None = None) -> list[dict]:
    body = {"messages": [{"role": "user", "content": t} for t in texts], "infer": False}
    if metadata is not None:
        body["metadata"] = metadata
    status, result, _ = call_memory("POST", "/api/memory", body, sub=sub)
    assert status == 201, result
    return result["results"]


# --- happy paths -------------------------------------------------------------------------------


def test_add_verbatim_then_search_returns_metadata_exactly_best_first(backend):
    user = unique_user()
    metadata = {"source": "voice", "n": 1.5, "tags": ["a", {"b": None}], "big": 12345678901234}
    added = add_verbatim(user, "My name is Sam", "I work at Acme as a data engineer",
                         "I have a dog called Rex", metadata=metadata)
    assert [r["event"] for r in added] == ["ADD", "ADD", "ADD"]
    assert added[0]["memory"] == "My name is Sam"

    status, result, _ = call_memory("POST", "/api/memory/search",
                                    {"query": "where does the user work", "limit": 2}, sub=user)
    assert status == 200
    results = result["results"]
    assert len(results) == 2
    assert results[0]["memory"] == "I work at Acme as a data engineer"
    assert results[0]["metadata"] == metadata
    assert set(results[0]) == {"id", "memory", "score", "metadata", "created_at", "updated_at"}
    assert 0 <= results[1]["score"] <= results[0]["score"] <= 1


def test_search_naming_a_day_puts_that_days_memory_first(backend, monkeypatch):
    # Given three cinema visits stored on three days (the clock the use cases stamp with)
    user = unique_user()
    with monkeypatch.context() as clock:
        for day, text in (("2024-03-01", "Went to the cinema with Ana"),
                          ("2024-03-03", "Went to the cinema with Ana and Luis"),
                          ("2024-03-20", "Went to the cinema")):
            clock.setattr(use_cases, "now_iso", lambda day=day: f"{day}T18:00:00.000000Z")
            add_verbatim(user, text)

    # When the user asks about one of the days, and then without a date
    def first(query: str) -> dict:
        status, result, _ = call_memory("POST", "/api/memory/search", {"query": query}, sub=user)
        assert status == 200, result
        return result["results"][0]

    # Then that day's memory comes first, with its creation time
    dated = first("What did I do on 3 March 2024?")
    assert dated["memory"] == "Went to the cinema with Ana and Luis"
    assert dated["created_at"].startswith("2024-03-03T18:00:00")
    assert first("Did I go to the cinema?")["memory"] == "Went to the cinema"


def test_add_string_message_stores_one_memory(backend):
    user = unique_user()
    status, result, _ = call_memory("POST", "/api/memory",
                                    {"messages": "Likes green tea", "infer": False}, sub=user)
    assert status == 201
    assert result["results"][0]["memory"] == "Likes green tea"
    assert result["results"][0]["event"] == "ADD"


def test_add_exact_duplicate_is_not_stored_twice(backend):
    user = unique_user()
    first = add_verbatim(user, "Likes green tea")
    second = add_verbatim(user, "likes  green tea.")
    assert second[0] == {"id": first[0]["id"], "memory": "Likes green tea", "event": "NONE"}
    _, listing, _ = call_memory("GET", "/api/memory", sub=user)
    assert len(listing["results"]) == 1


def test_add_infer_returns_202_job_that_worker_completes(backend, queue: RecordingQueue):
    user = unique_user()
    status, result, _ = call_memory(
        "POST", "/api/memory",
        {"messages": [{"role": "user", "content": "I live in Lisbon"},
                      {"role": "assistant", "content": "Nice city!"}],
         "metadata": {"k": "v"}}, sub=user)
    assert status == 202
    assert result["status"] == "queued"
    job_id = result["job_id"]
    assert call_memory("GET", f"/api/memory/jobs/{job_id}", sub=user)[1]["status"] == "queued"

    assert queue.messages[0]["user_id"] == user
    assert queue.deliver() == {"batchItemFailures": []}

    status, job, _ = call_memory("GET", f"/api/memory/jobs/{job_id}", sub=user)
    assert status == 200
    assert job["status"] == "done"
    assert [(r["memory"], r["event"]) for r in job["results"]] == [("I live in Lisbon", "ADD")]
    _, listing, _ = call_memory("GET", "/api/memory", sub=user)
    assert [(m["memory"], m["metadata"]) for m in listing["results"]] == [
        ("I live in Lisbon", {"k": "v"})]


def test_list_paginates_with_opaque_cursor(backend):
    user = unique_user()
    add_verbatim(user, *[f"fact number {i}" for i in range(7)])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = call_memory("GET", "/api/memory", sub=user, query=query)
        assert status == 200
        seen += [m["memory"] for m in page["results"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(f"fact number {i}" for i in range(7))


def test_list_defaults_to_twenty(backend):
    user = unique_user()
    add_verbatim(user, *[f"memory {i}" for i in range(21)])
    _, page, _ = call_memory("GET", "/api/memory", sub=user)
    assert len(page["results"]) == 20 and page["next_cursor"]


def test_delete_removes_memory_and_history(backend):
    user = unique_user()
    memory_id = add_verbatim(user, "Has a cat")[0]["id"]
    status, history, _ = call_memory("GET", f"/api/memory/{memory_id}/history", sub=user)
    assert status == 200
    assert [(h["memory"], h["event"]) for h in history["results"]] == [("Has a cat", "ADD")]

    status, body, _ = call_memory("DELETE", f"/api/memory/{memory_id}", sub=user)
    assert (status, body) == (204, None)
    assert call_memory("GET", f"/api/memory/{memory_id}/history", sub=user)[0] == 404
    assert call_memory("DELETE", f"/api/memory/{memory_id}", sub=user)[0] == 404
    _, search, _ = call_memory("POST", "/api/memory/search", {"query": "cat"}, sub=user)
    assert search["results"] == []


def test_unknown_job_is_404(backend):
    status, body, _ = call_memory("GET", "/api/memory/jobs/nope", sub=unique_user())
    assert status == 404 and body == {"error": "job not found"}


# --- isolation -----------------------------------------------------------------------------------


def test_users_never_see_each_other_on_any_route(backend, queue: RecordingQueue):
    alice, bob = unique_user(), unique_user()
    alice_id = add_verbatim(alice, "Alice's secret is the blue door")[0]["id"]
    _, queued, _ = call_memory("POST", "/api/memory", {"messages": "Alice likes opera"},
                               sub=alice)
    queue.deliver()

    # Bob adds with Alice's id in the body: it still lands in Bob's memories.
    status, result, _ = call_memory(
        "POST", "/api/memory",
        {"messages": "Bob likes jazz", "infer": False, "userId": alice, "user_id": alice},
        sub=bob)
    assert status == 201
    bob_id = result["results"][0]["id"]

    _, search, _ = call_memory("POST", "/api/memory/search",
                               {"query": "secret blue door opera", "userId": alice}, sub=bob)
    assert [r["memory"] for r in search["results"]] == ["Bob likes jazz"]
    _, listing, _ = call_memory("GET", "/api/memory", sub=bob, query=f"userId={alice}")
    assert [m["id"] for m in listing["results"]] == [bob_id]
    assert call_memory("GET", f"/api/memory/{alice_id}/history", sub=bob)[0] == 404
    assert call_memory("GET", f"/api/memory/jobs/{queued['job_id']}", sub=bob)[0] == 404
    assert call_memory("DELETE", f"/api/memory/{alice_id}", sub=bob)[0] == 404

    # Alice's data is untouched.
    _, alice_list, _ = call_memory("GET", "/api/memory", sub=alice)
    assert sorted(m["memory"] for m in alice_list["results"]) == [
        "Alice likes opera", "Alice's secret is the blue door"]
    assert call_memory("GET", f"/api/memory/{alice_id}/history", sub=alice)[0] == 200


def test_cursor_from_another_user_only_pages_own_memories(backend):
    alice, bob = unique_user(), unique_user()
    add_verbatim(alice, *[f"alice fact {i}" for i in range(4)])
    add_verbatim(bob, "bob fact")
    _, page, _ = call_memory("GET", "/api/memory", sub=alice, query="limit=1")
    _, bob_page, _ = call_memory("GET", "/api/memory", sub=bob,
                                 query=f"cursor={page['next_cursor']}")
    assert all(m["memory"].startswith("bob") for m in bob_page["results"])


def test_missing_authorizer_context_is_401(backend):
    status, body, _ = call_memory("GET", "/api/memory", sub=None)
    assert status == 401 and body == {"error": "unauthorized"}


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({}, "query"),
    ({"query": ""}, "query"),
    ({"query": "   "}, "query"),
    ({"query": 42}, "query"),
    ({"query": "x", "limit": 0}, "limit"),
    ({"query": "x", "limit": 51}, "limit"),
    ({"query": "x", "limit": "5"}, "limit"),
    ({"query": "x", "limit": 2.5}, "limit"),
])
def test_invalid_search_is_422_naming_the_field(backend, body, field):
    status, result, _ = call_memory("POST", "/api/memory/search", body, sub=unique_user())
    assert status == 422, result
    assert result["error"].startswith(f"{field}:"), result


def test_non_json_body_is_422(backend):
    status, result, _ = call_memory("POST", "/api/memory/search", "{not json",
                                    sub=unique_user())
    assert status == 422
    assert "invalid JSON" in result["error"]


@pytest.mark.parametrize("body, field", [
    ({}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": ""}, "messages"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages"),
    ({"messages": [{"role": "user"}]}, "messages"),
    ({"messages": "x", "infer": "yes"}, "infer"),
    ({"messages": "x", "metadata": "not an object"}, "metadata"),
    ({"messages": "x", "metadata": {"blob": "y" * 3000}}, "metadata"),
])
def test_invalid_add_is_422_naming_the_field(backend, body, field):
    status, result, _ = call_memory("POST", "/api/memory", body, sub=unique_user())
    assert status == 422, result
    assert result["error"].startswith(field), result


def test_memory_longer_than_2000_chars_is_422_and_not_stored(backend):
    user = unique_user()
    status, result, _ = call_memory(
        "POST", "/api/memory",
        {"messages": [{"role": "user", "content": "ok"},
                      {"role": "user", "content": "x" * 2001}], "infer": False}, sub=user)
    assert status == 422
    assert result["error"].startswith("messages.1.content:")
    assert call_memory("GET", "/api/memory", sub=user)[1]["results"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc"])
def test_invalid_list_limit_is_422(backend, query):
    status, result, _ = call_memory("GET", "/api/memory", sub=unique_user(), query=query)
    assert status == 422 and result["error"].startswith("limit:")


def test_garbage_cursor_is_422(backend):
    status, result, _ = call_memory("GET", "/api/memory", sub=unique_user(),
                                    query="cursor=%%%garbage")
    assert status == 422 and result["error"].startswith("cursor:")


def test_per_user_limit_is_409_with_clear_message(backend, monkeypatch):
    monkeypatch.setenv("MEMORY_MAX_PER_USER", "2")
    user = unique_user()
    add_verbatim(user, "one", "two")
    status, result, _ = call_memory("POST", "/api/memory",
                                    {"messages": "three", "infer": False}, sub=user)
    assert status == 409
    assert "at most 2 memories" in result["error"]
    assert len(call_memory("GET", "/api/memory", sub=user)[1]["results"]) == 2


def test_re_adding_a_known_text_at_the_limit_is_none_not_409(backend, monkeypatch):
    monkeypatch.setenv("MEMORY_MAX_PER_USER", "2")
    user = unique_user()
    first = add_verbatim(user, "one", "two")
    again = add_verbatim(user, "One.", "two")
    assert [(r["id"], r["event"]) for r in again] == [(r["id"], "NONE") for r in first]
    status, _, _ = call_memory("POST", "/api/memory",
                               {"messages": [{"content": "one"}, {"content": "three"}],
                                "infer": False}, sub=user)
    assert status == 409


@pytest.mark.parametrize("path", ["/api/memory/m1%23x/history", "/api/memory/jobs/a%23b",
                                  "/api/memory/" + "a" * 65])
def test_malformed_ids_are_404(backend, path):
    method = "DELETE" if path.count("/") == 3 and "jobs" not in path else "GET"
    status, body, _ = call_memory(method, path, sub=unique_user())
    assert status == 404 and "error" in body
