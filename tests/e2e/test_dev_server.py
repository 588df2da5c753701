"""`voice-agent dev` as a user runs it: a subprocess, used over HTTP only."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.devserver import cli, running_dev_server
from tests.fakes.openai_realtime_api import FakeOpenAI
from tests.fakes.tavily import FakeTavily

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fakes():
    with FakeOpenAI() as openai, FakeTavily() as tavily:
        yield openai, tavily


@pytest.fixture(scope="module")
def dev(tmp_path_factory, fakes):
    openai, tavily = fakes
    data_dir = tmp_path_factory.mktemp("dev-data")
    env = {"OPENAI_API_KEY": "sk-e2e", "OPENAI_BASE_URL": openai.base_url,
           "TAVILY_API_KEY": "tvly-e2e", "TAVILY_BASE_URL": tavily.url,
           "EMBEDDINGS": "hashing"}
    with running_dev_server(data_dir, env) as base:
        yield base, data_dir


def token_for(data_dir: Path, user: str) -> str:
    result = cli("token", "--user", user, "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for_job(client: httpx.Client, base: str, job_id: str, headers) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"{base}/api/memory/jobs/{job_id}", headers=headers).json()
        if job["status"] != "queued":
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_health_openapi_and_web_root_are_served(dev):
    base, _ = dev
    assert httpx.get(f"{base}/api/health").json() == {"status": "ok"}
    spec = httpx.get(f"{base}/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/voice-agent" in spec["paths"]
    root = httpx.get(f"{base}/")
    assert root.status_code == 200 and "<html" in root.text.lower()


def test_protected_routes_need_a_token(dev):
    base, _ = dev
    for method, path in [("POST", "/api/voice-agent"), ("GET", "/api/memory"),
                         ("POST", "/api/search"), ("GET", "/api/memory/x/history")]:
        response = httpx.request(method, f"{base}{path}", json={})
        assert response.status_code == 401, (method, path)
        assert "error" in response.json()
    bad = httpx.get(f"{base}/api/memory", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_dev_token_endpoint_and_cookie_sign_in(dev):
    base, _ = dev
    token = httpx.post(f"{base}/dev/token", json={"user": "cookie-user"}).json()["token"]
    response = httpx.get(f"{base}/api/memory", cookies={"access_token": token})
    assert response.status_code == 200
    assert httpx.post(f"{base}/dev/token", json={}).status_code == 422


def test_session_minting_through_the_local_api(dev, fakes):
    base, data_dir = dev
    openai, _ = fakes
    response = httpx.post(f"{base}/api/voice-agent", json={"voice": "coral"},
                          headers=auth(token_for(data_dir, "sam")))
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["client_secret"]["value"].startswith("ek_")
    assert session["voice"] == "coral"
    assert openai.requests[-1].json()["session"]["audio"]["output"]["voice"] == "coral"
    unknown = httpx.post(f"{base}/api/voice-agent", json={"model": "gpt-9"},
                         headers=auth(token_for(data_dir, "sam")))
    assert unknown.status_code == 422


def test_search_through_the_local_api(dev):
    base, data_dir = dev
    response = httpx.post(f"{base}/api/search", json={"query": "lisbon weather"},
                          headers=auth(token_for(data_dir, "sam")))
    assert response.status_code == 200
    assert response.json()["answer"]


def test_memory_round_trip_and_isolation_between_users(dev):
    base, data_dir = dev
    alice, bob = auth(token_for(data_dir, "alice")), auth(token_for(data_dir, "bob"))
    with httpx.Client(timeout=30) as client:
        added = client.post(f"{base}/api/memory", headers=alice, json={
            "messages": "My name is Alice and I work at Acme as a data engineer",
            "infer": False, "metadata": {"source": "e2e"}, "userId": "bob"})
        assert added.status_code == 201, added.text
        memory_id = added.json()["results"][0]["id"]
        queued = client.post(f"{base}/api/memory", headers=alice, json={
            "messages": [{"role": "user", "content": "I walk my dog Rex every morning"}]})
        assert queued.status_code == 202
        job = wait_for_job(client, base, queued.json()["job_id"], alice)
        assert job["status"] == "done"

        found = client.post(f"{base}/api/memory/search", headers=alice,
                            json={"query": "where does Alice work?"}).json()["results"]
        assert found and found[0]["id"] == memory_id
        assert found[0]["metadata"] == {"source": "e2e"}

        assert client.post(f"{base}/api/memory/search", headers=bob,
                           json={"query": "Alice Acme"}).json()["results"] == []
        assert client.get(f"{base}/api/memory", headers=bob).json()["results"] == []
        assert client.get(f"{base}/api/memory/{memory_id}/history",
                          headers=bob).status_code == 404
        assert client.delete(f"{base}/api/memory/{memory_id}", headers=bob).status_code == 404
        assert client.get(f"{base}/api/memory/jobs/{queued.json()['job_id']}",
                          headers=bob).status_code == 404

        listed = client.get(f"{base}/api/memory", headers=alice).json()["results"]
        assert {item["memory"] for item in listed} >= {
            "My name is Alice and I work at Acme as a data engineer"}
        assert client.delete(f"{base}/api/memory/{memory_id}", headers=alice).status_code == 204
        assert client.delete(f"{base}/api/memory/{memory_id}", headers=alice).status_code == 404


def test_bad_input_on_every_route_is_4xx_json(dev):
    base, data_dir = dev
    headers = {**auth(token_for(data_dir, "fuzzer")), "content-type": "application/json"}
    cases = [("POST", "/api/voice-agent"), ("POST", "/api/memory/search"),
             ("POST", "/api/memory"), ("POST", "/api/search")]
    for method, path in cases:
        for body in [b"{not json", b"[]", b'{"query": 5, "messages": 7, "model": []}',
                     b"x" * 1_000_000]:
            response = httpx.request(method, f"{base}{path}", headers=headers, content=body)
            assert 400 <= response.status_code < 500, (path, body[:20], response.text)
            assert "error" in response.json()
    for query in ["limit=0", "limit=101", "limit=abc"]:
        response = httpx.get(f"{base}/api/memory?{query}", headers=headers)
        assert response.status_code == 422 and "limit" in response.json()["error"]


def test_memories_survive_a_restart(tmp_path, fakes):
    env = {"EMBEDDINGS": "hashing"}
    with running_dev_server(tmp_path, env) as base:
        headers = auth(token_for(tmp_path, "dora"))
        assert httpx.post(f"{base}/api/memory", headers=headers,
                          json={"messages": "I like tea", "infer": False}).status_code == 201
    with running_dev_server(tmp_path, env) as base:
        listed = httpx.get(f"{base}/api/memory", headers=auth(token_for(tmp_path, "dora")))
        assert [m["memory"] for m in listed.json()["results"]] == ["I like tea"]


def test_dev_server_uses_a_dynamodb_table_when_memory_table_is_set(tmp_path):
    """The AWS code path locally: DynamoDB (moto's server mode) instead of the SQLite file."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = {"EMBEDDINGS": "hashing", "MEMORY_TABLE": "voice-agent-e2e",
               "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        with running_dev_server(tmp_path, env) as base:
            headers = auth(token_for(tmp_path, "erin"))
            added = httpx.post(f"{base}/api/memory", headers=headers,
                               json={"messages": "Erin plays the cello", "infer": False})
            assert added.status_code == 201, added.text
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        items = client.query(TableName="voice-agent-e2e",
                             KeyConditionExpression="PK = :pk",
                             ExpressionAttributeValues={":pk": {"S": "USER#erin"}})["Items"]
        texts = [item.get("text", {}).get("S") for item in items]
        assert "Erin plays the cello" in texts
        assert not (tmp_path / "memory.sqlite3").exists()
    finally:
        server.stop()


def test_health_is_not_held_up_by_a_slow_mint_in_the_same_function(dev, fakes):
    """Like Lambda, concurrent events get their own instance of a function."""
    import threading

    base, data_dir = dev
    openai, _ = fakes
    headers = auth(token_for(data_dir, "patient"))
    openai.answer_next(200, {}, delay_s=3.0)  # the next mint hangs for 3 s upstream
    minting = threading.Thread(target=lambda: httpx.post(
        f"{base}/api/voice-agent", json={}, headers=headers, timeout=30))
    minting.start()
    time.sleep(0.5)  # the mint is now waiting on OpenAI inside SessionFunction
    started = time.monotonic()
    assert httpx.get(f"{base}/api/health", timeout=10).status_code == 200
    assert time.monotonic() - started < 2.0
    minting.join()
