"""One user can never reach another user's memories, on any memory route, over HTTP.

Alice stores memories (verbatim and through an extraction job) on a real ``voice-agent dev``;
Bob, with his own valid token, then tries every memory route against Alice's ids, texts,
job id and list cursor — and a body ``userId`` naming Alice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import JwtKit, unique_user
from tests.reliability.servers import DevServer, error_shape_problem

ALICE_FACTS = ["Alice's bank PIN hint is the cat's name",
               "Alice works at Acme as a data engineer"]


@dataclass
class AliceData:
    """What Alice stored, and two clients: hers and Bob's."""

    alice: httpx.Client
    bob: httpx.Client
    alice_user: str
    memory_ids: list[str]
    job_id: str
    job_memory_id: str
    cursor: str


def wait_for_job(client: httpx.Client, job_id: str, timeout_s: float = 20) -> dict:
    """Polls a job until it is no longer queued."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/memory/jobs/{job_id}").json()
        if job["status"] != "queued":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def alice_data(dev_server: DevServer, _jwt_keys: JwtKit) -> Iterator[AliceData]:
    """Alice's memories on the dev server, and clients for Alice and Bob."""
    alice_user, bob_user = unique_user(), unique_user()
    alice = httpx.Client(base_url=dev_server.base_url, timeout=20,
                         headers={"authorization": f"Bearer {_jwt_keys.token(alice_user)}"})
    bob = httpx.Client(base_url=dev_server.base_url, timeout=20,
                       headers={"authorization": f"Bearer {_jwt_keys.token(bob_user)}"})
    added = alice.post("/api/memory", json={
        "messages": [{"content": fact} for fact in ALICE_FACTS], "infer": False,
        "metadata": {"owner": "alice"}})
    assert added.status_code == 201, added.text
    queued = alice.post("/api/memory", json={"messages": "Alice's sister lives in Porto"})
    assert queued.status_code == 202, queued.text
    job = wait_for_job(alice, queued.json()["job_id"])
    assert job["status"] == "done", job
    page = alice.get("/api/memory", params={"limit": 1}).json()
    assert page["next_cursor"], page
    try:
        yield AliceData(alice, bob, alice_user, [r["id"] for r in added.json()["results"]],
                        queued.json()["job_id"], job["results"][0]["id"], page["next_cursor"])
    finally:
        alice.close()
        bob.close()


def alice_memories(data: AliceData) -> set[str]:
    """Alice's memory texts, as Alice sees them."""
    return {m["memory"] for m in data.alice.get("/api/memory", params={"limit": 100})
            .json()["results"]}


def test_search_never_returns_another_users_memories(alice_data: AliceData) -> None:
    for query in [*ALICE_FACTS, "Alice", "bank PIN", "sister Porto"]:
        body = {"query": query, "limit": 50, "userId": alice_data.alice_user}
        response = alice_data.bob.post("/api/memory/search", json=body)
        assert response.status_code == 200
        assert response.json()["results"] == []


def test_list_never_returns_another_users_memories(alice_data: AliceData) -> None:
    response = alice_data.bob.get("/api/memory", params={"limit": 100})
    assert response.status_code == 200 and response.json()["results"] == []


def test_another_users_list_cursor_stays_in_the_callers_partition(alice_data: AliceData
                                                                  ) -> None:
    response = alice_data.bob.get("/api/memory", params={"cursor": alice_data.cursor})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["results"] == []
    else:
        assert error_shape_problem(422, response.json()) is None


@pytest.mark.parametrize("which", ["verbatim", "from_job"])
def test_history_of_another_users_memory_is_404(alice_data: AliceData, which: str) -> None:
    memory_id = alice_data.memory_ids[0] if which == "verbatim" else alice_data.job_memory_id
    response = alice_data.bob.get(f"/api/memory/{memory_id}/history")
    assert response.status_code == 404
    assert response.json() == {"error": "memory not found"}


def test_delete_of_another_users_memory_is_404_and_deletes_nothing(alice_data: AliceData
                                                                   ) -> None:
    before = alice_memories(alice_data)
    for memory_id in [*alice_data.memory_ids, alice_data.job_memory_id]:
        response = alice_data.bob.delete(f"/api/memory/{memory_id}")
        assert response.status_code == 404
        assert error_shape_problem(404, response.json()) is None
    assert alice_memories(alice_data) == before
    history = alice_data.alice.get(f"/api/memory/{alice_data.memory_ids[0]}/history").json()
    assert [entry["event"] for entry in history["results"]] == ["ADD"]


def test_job_status_of_another_users_job_is_404(alice_data: AliceData) -> None:
    response = alice_data.bob.get(f"/api/memory/jobs/{alice_data.job_id}")
    assert response.status_code == 404
    assert response.json() == {"error": "job not found"}


def test_export_never_returns_another_users_memories(alice_data: AliceData) -> None:
    response = alice_data.bob.get("/api/memory/export",
                                  params={"userId": alice_data.alice_user})
    assert response.status_code == 200
    assert (response.json()["total"], response.json()["memories"]) == (0, [])
    # Alice's own cursor, replayed by Bob, pages Bob's (empty) partition only.
    replayed = alice_data.bob.get("/api/memory/export", params={"cursor": alice_data.cursor})
    assert replayed.status_code == 200 and replayed.json()["memories"] == []
    # Positive control: Alice exports her three memories.
    assert alice_data.alice.get("/api/memory/export").json()["total"] == 3


def test_filters_naming_another_users_metadata_find_nothing(alice_data: AliceData) -> None:
    search = alice_data.bob.post("/api/memory/search", json={
        "query": "Alice bank PIN", "limit": 50, "filters": {"owner": "alice"}})
    listing = alice_data.bob.get("/api/memory", params={"filters": '{"owner":"alice"}'})
    assert search.status_code == 200 and search.json()["results"] == []
    assert listing.status_code == 200 and listing.json()["results"] == []
    # Positive control: the same filter finds Alice's memories for Alice.
    own = alice_data.alice.get("/api/memory", params={"filters": '{"owner":"alice"}'})
    assert len(own.json()["results"]) == 2


def test_forget_deletes_only_the_callers_memories(alice_data: AliceData) -> None:
    before = alice_memories(alice_data)
    planted = alice_data.bob.post("/api/memory", json={"messages": "Bob's own fact",
                                                       "infer": False})
    assert planted.status_code == 201

    response = alice_data.bob.request("DELETE", "/api/memory",
                                      params={"userId": alice_data.alice_user})

    assert response.status_code == 204
    assert alice_data.bob.get("/api/memory").json()["results"] == []
    assert alice_memories(alice_data) == before
    job = alice_data.alice.get(f"/api/memory/jobs/{alice_data.job_id}")
    assert job.status_code == 200 and job.json()["status"] == "done"


def test_user_id_in_an_add_body_writes_to_the_caller_only(alice_data: AliceData) -> None:
    before = alice_memories(alice_data)
    response = alice_data.bob.post("/api/memory", json={
        "messages": "Planted into Alice's memories", "infer": False,
        "userId": alice_data.alice_user, "user_id": alice_data.alice_user})
    assert response.status_code == 201
    assert alice_memories(alice_data) == before
    bob_list = alice_data.bob.get("/api/memory").json()["results"]
    assert [m["memory"] for m in bob_list] == ["Planted into Alice's memories"]
    alice_data.bob.delete(f"/api/memory/{bob_list[0]['id']}")


def test_header_wins_over_another_users_cookie(alice_data: AliceData, dev_server: DevServer,
                                               _jwt_keys: JwtKit) -> None:
    alice_cookie = {"access_token": _jwt_keys.token(alice_data.alice_user)}
    with httpx.Client(base_url=dev_server.base_url, cookies=alice_cookie, timeout=10,
                      headers=dict(alice_data.bob.headers)) as mixed:
        listed = mixed.get("/api/memory").json()["results"]
    assert all(m["memory"] not in alice_memories(alice_data) for m in listed)
