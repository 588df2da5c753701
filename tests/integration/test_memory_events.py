"""The committed ``events/memory_*.json`` (used with ``sam local invoke``/``voice-agent invoke``)
run through the real handlers."""

from __future__ import annotations

import json

from tests.conftest import REPO_ROOT, LambdaContext, load_function_module
from tests.integration.memory_events import (  # noqa: F401 - fixtures
    RecordingQueue,
    backend_fixture,
    queue_fixture,
)


def load_event(name: str) -> dict:
    return json.loads((REPO_ROOT / "events" / name).read_text())


def invoke(function: str, event: dict) -> dict:
    return load_function_module(function).lambda_handler(event, LambdaContext())


def test_memory_events_run_through_the_handlers(backend, queue: RecordingQueue):
    expected = {"memory_add.json": 202, "memory_add_verbatim.json": 201,
                "memory_search.json": 200, "memory_list.json": 200,
                "memory_history.json": 404, "memory_job.json": 404, "memory_delete.json": 404}
    for name, status in expected.items():
        response = invoke("memory", load_event(name))
        assert response["statusCode"] == status, (name, response)
        assert response["headers"]["Content-Type"] == "application/json"

    verbatim = load_event("memory_add_verbatim.json")
    sub = verbatim["requestContext"]["authorizer"]["lambda"]["sub"]
    listing = json.loads(invoke("memory", load_event("memory_list.json"))["body"])
    assert listing["results"], "the list event reads the same user the add event wrote"
    assert queue.messages[0]["user_id"] == load_event("memory_add.json")[
        "requestContext"]["authorizer"]["lambda"]["sub"]
    assert sub

    exported = invoke("memory", load_event("memory_export.json"))
    assert exported["statusCode"] == 200, exported
    assert [m["memory"] for m in json.loads(exported["body"])["memories"]] == [
        r["memory"] for r in listing["results"]]
    forgotten = invoke("memory", load_event("memory_forget.json"))
    assert forgotten["statusCode"] == 204, forgotten
    assert json.loads(invoke("memory", load_event("memory_list.json"))["body"])["results"] == []


def test_memory_worker_event_is_processed(backend):
    assert invoke("memory_worker", load_event("memory_worker_sqs.json")) == {
        "batchItemFailures": []}
