"""Upstream failures and configuration: Bedrock throttling/outage, DynamoDB errors, the job
queues (SQS via moto, in-process), embedder switching and the warm index cache."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from tests.conftest import unique_user
from tests.fakes.bedrock import FakeBedrock
from tests.integration.memory_events import (  # noqa: F401 - fixtures
    TABLE,
    RecordingQueue,
    backend_fixture,
    call_memory,
    call_worker,
    queue_fixture,
)
from voice_agent.memory import embedding, index_cache, jobs, wiring
from voice_agent.memory.embedding import HashingEmbedder
from voice_agent.memory.wiring import MemoryDeps


@pytest.fixture
def sqlite_store(monkeypatch, tmp_path, queue: RecordingQueue):
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
    wiring.reset_memory_deps(MemoryDeps(queue=queue))
    yield
    wiring.reset_memory_deps()


@pytest.fixture
def bedrock(monkeypatch, sqlite_store):
    """Embeddings through Titan V2 on the loopback Bedrock fake."""
    with FakeBedrock() as fake:
        monkeypatch.setenv("EMBEDDINGS", "bedrock")
        monkeypatch.setenv("EMBEDDING_DIMENSIONS", "256")
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
        embedding.reset_embedder_cache()  # the cached client points at the previous fake
        yield fake
        embedding.reset_embedder_cache()


def listing(user: str) -> list[str]:
    return [m["memory"] for m in call_memory("GET", "/api/memory", sub=user)[1]["results"]]


# --- Bedrock ---------------------------------------------------------------------------------


def test_bedrock_embeddings_store_and_find(bedrock: FakeBedrock):
    user = unique_user()
    status, _, _ = call_memory("POST", "/api/memory",
                               {"messages": "Plays chess", "infer": False},
                               sub=user)
    assert status == 201
    status, found, _ = call_memory("POST", "/api/memory/search", {"query": "Plays chess"},
                                   sub=user)
    assert status == 200 and found["results"][0]["memory"] == "Plays chess"
    assert found["results"][0]["score"] > 0.5
    assert bedrock.embedding_requests()[0].body["dimensions"] == 256


def test_bedrock_throttling_during_add_is_429_and_nothing_written(bedrock: FakeBedrock):
    user = unique_user()
    bedrock.throttle_next(50)
    started = time.monotonic()
    status, body, headers = call_memory(
        "POST", "/api/memory", {"messages": "Lives in Porto", "infer": False},
        sub=user)
    assert time.monotonic() - started < 15
    assert status == 429
    assert body == {"error": "embedding service is busy, try again shortly"}
    assert int(headers["Retry-After"]) >= 1
    assert listing(user) == []


def test_bedrock_throttling_during_search_is_429(bedrock: FakeBedrock):
    bedrock.throttle_next(50)
    status, body, headers = call_memory("POST", "/api/memory/search", {"query": "x"},
                                        sub=unique_user())
    assert status == 429 and "Retry-After" in headers and "error" in body


def test_bedrock_unavailable_is_503(bedrock: FakeBedrock):
    bedrock.fail_next(1, 503, "ServiceUnavailableException", "down")
    status, body, _ = call_memory("POST", "/api/memory",
                                  {"messages": "x y", "infer": False}, sub=unique_user())
    assert status == 503 and body == {"error": "embedding service unavailable, try again"}


def test_bedrock_refusal_is_502(bedrock: FakeBedrock):
    bedrock.fail_next(1, 400, "AccessDeniedException", "no access")
    status, body, _ = call_memory("POST", "/api/memory/search", {"query": "x"},
                                  sub=unique_user())
    assert status == 502 and body == {"error": "embedding service error"}


# --- DynamoDB --------------------------------------------------------------------------------


def test_missing_dynamodb_table_is_json_502(monkeypatch, queue):
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    with mock_aws():
        monkeypatch.setenv("MEMORY_TABLE", "no-such-table")
        wiring.reset_memory_deps(MemoryDeps(queue=queue))
        status, body, _ = call_memory("POST", "/api/memory/search", {"query": "x"},
                                      sub=unique_user())
    wiring.reset_memory_deps()
    assert status == 502 and body == {"error": "memory store error"}


def test_unreachable_dynamodb_is_503_within_15_seconds(monkeypatch, queue):
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    monkeypatch.setenv("MEMORY_TABLE", TABLE)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")  # nothing listens
    wiring.reset_memory_deps(MemoryDeps(queue=queue))
    started = time.monotonic()
    status, body, headers = call_memory("POST", "/api/memory",
                                        {"messages": "x", "infer": False}, sub=unique_user())
    wiring.reset_memory_deps()
    assert time.monotonic() - started < 15
    assert status == 503 and body == {"error": "memory store unavailable, try again"}
    assert headers["Retry-After"]


def test_no_storage_configured_is_500_naming_both_settings(monkeypatch, queue):
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    wiring.reset_memory_deps(MemoryDeps(queue=queue))
    status, body, _ = call_memory("GET", "/api/memory", sub=unique_user())
    wiring.reset_memory_deps()
    assert status == 500
    assert "MEMORY_TABLE" in body["error"] and "VOICE_AGENT_DATA_DIR" in body["error"]


def test_table_is_created_from_template_key_schema():
    from voice_agent_cli.local_aws import create_memory_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "from-template")
        create_memory_table(client, "from-template")  # existing table: no error
        table = client.describe_table(TableName="from-template")["Table"]
        ttl = client.describe_time_to_live(TableName="from-template")
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        ("PK", "HASH"), ("SK", "RANGE")}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


# --- job queues ------------------------------------------------------------------------------


def test_sqs_queue_carries_the_jwt_user_to_the_worker(monkeypatch):
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    with mock_aws():
        from voice_agent_cli.local_aws import create_memory_table

        create_memory_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="memory-jobs")["QueueUrl"]
        monkeypatch.setenv("MEMORY_TABLE", TABLE)
        monkeypatch.setenv("MEMORY_QUEUE_URL", url)
        wiring.reset_memory_deps()
        jobs.reset_job_queues()
        user = unique_user()
        status, queued, _ = call_memory(
            "POST", "/api/memory", {"messages": "Speaks Portuguese", "userId": "someone-else"},
            sub=user)
        assert status == 202
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        body = json.loads(received[0]["Body"])
        assert body["user_id"] == user and body["job_id"] == queued["job_id"]
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:memory-jobs",
            "awsRegion": "us-east-1"} for m in received]}
        assert call_worker(event) == {"batchItemFailures": []}
        assert listing(user) == ["Speaks Portuguese"]
        assert listing("someone-else") == []
    wiring.reset_memory_deps()
    jobs.reset_job_queues()


def test_queue_failure_is_503_and_job_marked_failed(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
    queue = jobs.SqsJobQueue("http://127.0.0.1:9/000000000000/nothing",
                             client=boto3.client("sqs", region_name="us-east-1",
                                                 endpoint_url="http://127.0.0.1:9"))
    wiring.reset_memory_deps(MemoryDeps(queue=queue))
    status, body, _ = call_memory("POST", "/api/memory", {"messages": "x"}, sub=unique_user())
    wiring.reset_memory_deps()
    assert status == 503 and body == {"error": "memory job queue unavailable, try again"}


def test_in_process_dispatcher_runs_the_worker(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
    events: list[dict] = []

    def dispatch(event: dict) -> None:
        events.append(event)
        call_worker(event)

    jobs.set_local_dispatcher(dispatch)
    wiring.reset_memory_deps()
    try:
        user = unique_user()
        status, queued, _ = call_memory("POST", "/api/memory", {"messages": "Runs marathons"},
                                        sub=user)
        assert status == 202
        queue = wiring.memory_deps().queue
        assert isinstance(queue, jobs.InProcessJobQueue)
        queue.wait()
        assert events[0]["Records"][0]["eventSource"] == "aws:sqs"
        _, job, _ = call_memory("GET", f"/api/memory/jobs/{queued['job_id']}", sub=user)
        assert job["status"] == "done"
        assert listing(user) == ["Runs marathons"]
    finally:
        jobs.set_local_dispatcher(None)
        wiring.reset_memory_deps()


def test_no_queue_configured_is_500(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
    jobs.set_local_dispatcher(None)
    wiring.reset_memory_deps()
    status, body, _ = call_memory("POST", "/api/memory", {"messages": "x"}, sub=unique_user())
    wiring.reset_memory_deps()
    assert (status, body) == (500, {"error": "MEMORY_QUEUE_URL is not set"})


# --- embedder switch and the warm cache ------------------------------------------------------


def test_switching_embedders_re_embeds_lazily_in_bounded_batches(backend, queue, monkeypatch):
    user = unique_user()
    texts = [f"switch fact {i}" for i in range(5)]
    call_memory("POST", "/api/memory", {"messages": [{"content": t} for t in texts],
                                        "infer": False}, sub=user)
    store = wiring.memory_deps().store
    assert {r.embedder_id for r in store.load_memories(user)} == {"hashing:256"}

    monkeypatch.setattr(index_cache, "REEMBED_BATCH", 2)
    wiring.reset_memory_deps(MemoryDeps(store=store, embedder=HashingEmbedder(128),
                                         queue=queue))
    for expected_migrated in (2, 4, 5):
        status, found, _ = call_memory("POST", "/api/memory/search",
                                       {"query": "switch fact 3", "limit": 5}, sub=user)
        assert status == 200 and len(found["results"]) == 5
        ids = [r.embedder_id for r in store.load_memories(user)]
        assert ids.count("hashing:128") == expected_migrated
    records = store.load_memories(user)
    assert {(r.embedder_id, r.dims, len(r.vector)) for r in records} == {("hashing:128", 128, 132)}
    _, found, _ = call_memory("POST", "/api/memory/search", {"query": "switch fact 3"},
                              sub=user)
    assert found["results"][0]["memory"] == "switch fact 3"


def test_warm_index_is_reused_until_the_user_writes(backend, monkeypatch):
    user = unique_user()
    call_memory("POST", "/api/memory", {"messages": "Cached fact", "infer": False}, sub=user)
    store = wiring.memory_deps().store
    loads: list[str] = []
    original = store.load_memories

    def counting(user_id: str):
        loads.append(user_id)
        return original(user_id)

    monkeypatch.setattr(store, "load_memories", counting)
    for _ in range(3):
        call_memory("POST", "/api/memory/search", {"query": "cached"}, sub=user)
    assert len(loads) == 1
    call_memory("POST", "/api/memory", {"messages": "Second fact", "infer": False}, sub=user)
    _, found, _ = call_memory("POST", "/api/memory/search", {"query": "second"}, sub=user)
    assert found["results"][0]["memory"] == "Second fact"
    assert len(loads) == 1  # the add wrote: the next search catches up without a reload
