"""API Gateway HTTP API (payload 2.0) and SQS events for the memory functions, plus fixtures.

Test modules import the fixtures by their object names (``backend_fixture``,
``queue_fixture``) and use them as ``backend`` and ``queue``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.conftest import LambdaContext, load_function_module
from voice_agent.memory import wiring
from voice_agent.memory.wiring import MemoryDeps

TABLE = "memory-test"

_ROUTES = (  # (method, path prefix/suffix shape) → the API Gateway route key
    ("POST", "/api/memory/search", "POST /api/memory/search"),
    ("POST", "/api/memory", "POST /api/memory"),
    ("GET", "/api/memory", "GET /api/memory"),
    ("DELETE", "/api/memory", "DELETE /api/memory"),
    ("GET", "/api/memory/export", "GET /api/memory/export"),
)


def _route_key(method: str, path: str) -> tuple[str, dict[str, str]]:
    for route_method, route_path, key in _ROUTES:
        if method == route_method and path == route_path:
            return key, {}
    parts = path.strip("/").split("/")  # api, memory, ...
    if method == "GET" and parts[2:3] == ["jobs"] and len(parts) == 4:
        return "GET /api/memory/jobs/{job_id}", {"job_id": parts[3]}
    if method == "GET" and len(parts) == 4 and parts[3] == "history":
        return "GET /api/memory/{id}/history", {"id": parts[2]}
    if method == "DELETE" and len(parts) == 3:
        return "DELETE /api/memory/{id}", {"id": parts[2]}
    return f"{method} {path}", {}


def memory_event(method: str, path: str, body: Any = None, *, sub: str | None = "user-a",
                 query: str = "") -> dict[str, Any]:
    """A payload-2.0 event as API Gateway delivers it once the authorizer allowed ``sub``.

    ``body`` may be a JSON-able value or a raw string (to send malformed JSON).
    """
    route_key, path_parameters = _route_key(method, path)
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "api.test",
                    "user-agent": "pytest"},
        "requestContext": {
            "accountId": "000000000000", "apiId": "api", "domainName": "api.test",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "requestId": str(uuid.uuid4()), "routeKey": route_key, "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if sub is not None:
        event["requestContext"]["authorizer"] = {"lambda": {"sub": sub}}
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query))
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw_body is not None:
        event["body"] = raw_body
    return event


def call_memory(method: str, path: str, body: Any = None, *, sub: str | None = "user-a",
                query: str = "") -> tuple[int, Any, dict[str, str]]:
    """Calls ``functions/memory`` and returns (status, decoded JSON body or None, headers)."""
    response = load_function_module("memory").lambda_handler(
        memory_event(method, path, body, sub=sub, query=query), LambdaContext())
    raw = response.get("body")
    return response["statusCode"], json.loads(raw) if raw else None, response.get("headers", {})


def sqs_job_event(*messages: dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping delivers it."""
    records = []
    for message in messages:
        records.append({
            "messageId": str(uuid.uuid4()), "receiptHandle": "handle",
            "body": json.dumps(message),
            "attributes": {"ApproximateReceiveCount": str(receive_count),
                           "SentTimestamp": "0", "SenderId": "test",
                           "ApproximateFirstReceiveTimestamp": "0"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:memory-jobs",
            "awsRegion": "us-east-1",
        })
    return {"Records": records}


def call_worker(event: dict[str, Any]) -> dict[str, Any]:
    """Calls ``functions/memory_worker`` with an SQS event; returns the batch response."""
    result = load_function_module("memory_worker").lambda_handler(event, LambdaContext())
    assert isinstance(result, dict)
    return result


# --- fixtures ---------------------------------------------------------------------------------


class RecordingQueue:
    """A `JobQueue` that keeps the messages instead of sending them."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def deliver(self) -> dict[str, Any]:
        """Hands every recorded message to the worker as one SQS batch; clears the list."""
        event = sqs_job_event(*self.messages)
        self.messages.clear()
        return call_worker(event)


def _serialise_moto_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes moto's in-memory DynamoDB safe for threads.

    moto's backend is not thread-safe (a transaction deep-copies the table while another
    thread writes it). DynamoDB itself serialises writes per item, which is what our
    conditional writes and transactions rely on; one lock around each backend call stands in
    for that, so concurrency tests exercise our code rather than moto's races.
    """
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("transact_write_items", "put_item", "update_item", "delete_item",
                 "batch_write_item", "get_item", "query", "batch_get_item"):
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


@pytest.fixture(name="queue")
def queue_fixture() -> RecordingQueue:
    """The recording job queue the memory function sends to."""
    return RecordingQueue()


@pytest.fixture(name="backend", params=["sqlite", "dynamodb"])
def backend_fixture(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                    tmp_path: Any, queue: RecordingQueue) -> Iterator[str]:
    """Runs the test on the SQLite store and on DynamoDB (moto), with the hashing embedder."""
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    if request.param == "sqlite":
        monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
        wiring.reset_memory_deps(MemoryDeps(queue=queue))
        try:
            yield "sqlite"
        finally:
            wiring.reset_memory_deps()
        return
    import boto3
    from moto import mock_aws

    from voice_agent_cli.local_aws import create_memory_table

    _serialise_moto_dynamodb(monkeypatch)
    with mock_aws():
        monkeypatch.setenv("MEMORY_TABLE", TABLE)
        create_memory_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        wiring.reset_memory_deps(MemoryDeps(queue=queue))
        try:
            yield "dynamodb"
        finally:
            wiring.reset_memory_deps()
