"""Every limit answers a clear JSON 4xx over HTTP (``voice-agent dev``).

Request body over 64 KB → 413; memory text over 2000 characters → 422; more than
``MEMORY_MAX_PER_USER`` memories → 409 (and a job at the limit fails visibly); more than
``SESSION_RATE_LIMIT`` minted sessions in the window → 429 with ``Retry-After``.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import JwtKit, unique_user
from tests.reliability.conftest import MAX_MEMORIES_PER_USER, MINT_LIMIT
from tests.reliability.servers import DevServer, error_shape_problem


@pytest.fixture
def client(dev_server: DevServer, _jwt_keys: JwtKit) -> httpx.Client:
    """A client of a fresh user on the shared dev server."""
    token = _jwt_keys.token(unique_user())
    return httpx.Client(base_url=dev_server.base_url, timeout=20,
                        headers={"authorization": f"Bearer {token}"})


def assert_json_error(response: httpx.Response, status: int, *fragments: str) -> None:
    """The response is ``status`` with ``{"error"}`` mentioning every fragment."""
    assert response.status_code == status, response.text
    body = response.json()
    assert error_shape_problem(status, body) is None, body
    for fragment in fragments:
        assert fragment in body["error"], body


OVERSIZED_VALID_BODIES = {
    "/api/memory": {"messages": [{"content": "w" * 7000}] * 10, "infer": False},
    "/api/memory/search": {"query": "cats", "pad": "x" * (64 * 1024)},
    "/api/search": {"query": "cats", "pad": "x" * (64 * 1024)},
    "/api/voice-agent": {"pad": "x" * (64 * 1024)},
}


@pytest.mark.parametrize("path", sorted(OVERSIZED_VALID_BODIES))
def test_well_formed_body_over_64_kb_is_413(client: httpx.Client, path: str) -> None:
    response = client.post(path, json=OVERSIZED_VALID_BODIES[path])
    assert_json_error(response, 413, "65536")


@pytest.mark.parametrize("path", ["/api/memory", "/api/memory/search", "/api/search"])
def test_invalid_body_over_64_kb_is_413_not_422(client: httpx.Client, path: str) -> None:
    body = '{"query": "' + "x" * (64 * 1024) + '"}'
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert_json_error(response, 413, "65536")


def test_body_just_under_64_kb_is_not_413(client: httpx.Client) -> None:
    body = '{"query": "cats", "pad": "' + "x" * (60 * 1024) + '"}'
    response = client.post("/api/memory/search", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 200


def test_memory_text_over_2000_characters_is_422(client: httpx.Client) -> None:
    response = client.post("/api/memory", json={"messages": "y" * 2001, "infer": False})
    assert_json_error(response, 422, "messages", "2000")
    response = client.post("/api/memory", json={"messages": "y " * 1000, "infer": False})
    assert response.status_code == 201


def test_message_over_8000_characters_is_422(client: httpx.Client) -> None:
    response = client.post("/api/memory", json={"messages": [{"content": "z" * 8001}]})
    assert_json_error(response, 422, "messages")


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/memory/search", {"query": "q" * 1001}, "query"),
    ("/api/memory/search", {"query": "q", "limit": 51}, "limit"),
    ("/api/memory", {"messages": [{"content": "m"}] * 51}, "messages"),
    ("/api/memory", {"messages": "m", "metadata": {"k": "v" * 2100}}, "metadata"),
    ("/api/search", {"query": "q", "max_results": 11}, "max_results"),
])
def test_field_limits_are_422_naming_the_field(client: httpx.Client, path: str, body: dict,
                                               field: str) -> None:
    assert_json_error(client.post(path, json=body), 422, field)


def test_memory_count_limit_is_409_and_nothing_beyond_it_is_stored(client: httpx.Client
                                                                   ) -> None:
    facts = [f"limit fact number {i}" for i in range(MAX_MEMORIES_PER_USER)]
    added = client.post("/api/memory", json={"messages": [{"content": f} for f in facts],
                                             "infer": False})
    assert added.status_code == 201
    over = client.post("/api/memory", json={"messages": "one too many", "infer": False})
    assert_json_error(over, 409, "limit", str(MAX_MEMORIES_PER_USER))
    queued = client.post("/api/memory", json={"messages": "one too many, via a job"})
    assert queued.status_code == 202
    deadline = time.monotonic() + 20
    while (job := client.get(f"/api/memory/jobs/{queued.json()['job_id']}").json())[
            "status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job["status"] == "failed" and "limit" in job["error"]
    listed = client.get("/api/memory", params={"limit": 100}).json()["results"]
    assert sorted(m["memory"] for m in listed) == sorted(facts)
    client.delete(f"/api/memory/{listed[0]['id']}")
    again = client.post("/api/memory", json={"messages": "room again", "infer": False})
    assert again.status_code == 201


def test_minting_rate_limit_is_429_with_retry_after(client: httpx.Client, dev_server: DevServer,
                                                     _jwt_keys: JwtKit) -> None:
    statuses = [client.post("/api/voice-agent", json={}).status_code for _ in range(MINT_LIMIT)]
    assert statuses == [200] * MINT_LIMIT
    limited = client.post("/api/voice-agent", json={})
    assert_json_error(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 600
    other = httpx.post(f"{dev_server.base_url}/api/voice-agent", json={}, timeout=20,
                       headers={"authorization": f"Bearer {_jwt_keys.token(unique_user())}"})
    assert other.status_code == 200
