"""Fault injection: upstream failures become clear JSON errors, and no memory write is lost
or duplicated.

Faults come from loopback fakes (OpenAI, Tavily, Bedrock answering 5xx/429/slowly), from a
fault-injecting wrapper around a moto DynamoDB client (throttling before a write, a response
lost after the write), and from a wrapper around the memory store that throttles or kills
the worker mid-job. The memory tests COUNT: after the faults, the memories stored equal the
memories acknowledged (201 results, finished jobs), each exactly once.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.conftest import body_of, http_event, unique_user
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.openai_realtime_api import FakeOpenAI
from tests.fakes.silent_server import SilentServer
from tests.fakes.tavily import FakeTavily
from tests.integration.memory_events import (  # noqa: F401 - fixtures
    TABLE,
    RecordingQueue,
    backend_fixture,
    call_memory,
    call_worker,
    queue_fixture,
    sqs_job_event,
)
from tests.reliability.servers import error_shape_problem

CLIENT_ATTEMPTS = 10  # a well-behaved caller retries 429/503 this often before giving up


@pytest.fixture(scope="module")
def fault_tally() -> Iterator[Counter[str]]:
    """Faults injected and writes acknowledged/stored/lost/duplicated (printed with ``-s``)."""
    tally: Counter[str] = Counter()
    yield tally
    print(f"\nfault injection: {tally['faults']} faults injected; "
          f"{tally['acknowledged']} memory writes acknowledged, {tally['stored']} stored, "
          f"{tally['lost']} lost, {tally['duplicated']} duplicated; "
          f"{tally['conditional_failures']} DynamoDB conditional-check failures absorbed")


def assert_clean_error(response: dict[str, Any], *statuses: int) -> dict[str, Any]:
    """A handler response with one of ``statuses`` and a JSON ``{"error"}`` body."""
    assert response["statusCode"] in statuses, response
    body = body_of(response)
    assert error_shape_problem(response["statusCode"], body) is None, body
    return body


# --- OpenAI (session minting) ----------------------------------------------------------------


@pytest.fixture
def openai(openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The shared OpenAI fake, with a short minting timeout."""
    monkeypatch.setenv("OPENAI_TIMEOUT_S", "1")
    return openai


def mint(call_function: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """``POST /api/voice-agent`` through the session function as a fresh user."""
    return call_function("session", http_event("POST", "/api/voice-agent", {},
                                               sub=unique_user()))


@pytest.mark.parametrize("upstream_status", [500, 502, 503, 429, 401, 400])
def test_openai_error_is_our_502_and_the_mint_is_not_retried(
        openai: FakeOpenAI, call_function: Any, upstream_status: int,
        fault_tally: Counter[str]) -> None:
    openai.answer_next(upstream_status, {"error": {"message": "boom", "type": "server_error"}})
    fault_tally["faults"] += 1
    body = assert_clean_error(mint(call_function), 502)
    assert body == {"error": f"OpenAI API error: {upstream_status}"}
    assert len(openai.requests) == 1  # creating a secret is not retried behind the caller


def test_openai_slower_than_the_timeout_is_504_in_time(openai: FakeOpenAI, call_function: Any,
                                                      fault_tally: Counter[str]) -> None:
    openai.answer_next(200, {"value": "ek_late"}, delay_s=3)
    fault_tally["faults"] += 1
    started = time.monotonic()
    body = assert_clean_error(mint(call_function), 504)
    assert time.monotonic() - started < 4  # 1 s timeout, plus a loaded machine
    assert "timeout" in body["error"].lower()


def test_openai_unreachable_is_504(monkeypatch: pytest.MonkeyPatch, call_function: Any,
                                   fault_tally: Counter[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-faults")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens
    fault_tally["faults"] += 1
    assert_clean_error(mint(call_function), 504)


def test_openai_garbage_answer_is_502(openai: FakeOpenAI, call_function: Any,
                                     fault_tally: Counter[str]) -> None:
    openai.answer_next(200, b"<html>proxy error</html>")
    fault_tally["faults"] += 1
    assert assert_clean_error(mint(call_function), 502) == {
        "error": "OpenAI API error: invalid response"}


def test_slow_dynamodb_on_minting_is_json_503_within_the_function_timeout(
        openai: FakeOpenAI, call_function: Any, monkeypatch: pytest.MonkeyPatch,
        fault_tally: Counter[str]) -> None:
    from voice_agent.aws import CallBudget
    from voice_agent.ratelimit import get_rate_limiter
    from voice_agent_cli.template import load_sam_app

    with SilentServer() as dynamodb:
        monkeypatch.setenv("MEMORY_TABLE", "voice-agent-slow")
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        monkeypatch.setenv("SESSION_RATE_LIMIT", "20")
        fault_tally["faults"] += 1
        # Warm the function first (imports), so the figure printed is the call's own time.
        call_function("session", http_event("GET", "/api/voice-agent/options"))
        started = time.monotonic()
        body = assert_clean_error(mint(call_function), 503)
        elapsed_s = time.monotonic() - started
        attempts = dynamodb.connections

    config = get_rate_limiter("voice-agent-slow")._client.meta.config  # type: ignore[attr-defined]
    budget = CallBudget(config.connect_timeout, config.read_timeout,
                        config.retries["total_max_attempts"])
    timeout_s = load_sam_app().functions["SessionFunction"].timeout_s
    print(f"\nslow DynamoDB on minting: JSON 503 after {elapsed_s:.1f} s and {attempts} "
          f"attempts (worst case {budget.worst_case_s:g} s, function timeout {timeout_s:g} s)")
    assert "rate limit store unavailable" in body["error"]
    assert attempts == budget.max_attempts == 2  # standard retries, not botocore's legacy 5
    assert budget.worst_case_s < timeout_s  # a slow store can never become a Lambda timeout
    assert openai.requests == []  # nothing minted while the limit could not be checked


# --- Tavily (web search) ---------------------------------------------------------------------


@pytest.fixture
def tavily(tavily: FakeTavily, monkeypatch: pytest.MonkeyPatch) -> FakeTavily:
    """The shared Tavily fake, with a short timeout."""
    monkeypatch.setenv("TAVILY_TIMEOUT_S", "1")
    return tavily


def search(call_function: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """``POST /api/search`` through the search function."""
    return call_function("search", http_event("POST", "/api/search", {"query": "lisbon"},
                                              sub=unique_user()))


@pytest.mark.parametrize("upstream_status", [500, 503, 429, 432, 401])
def test_tavily_error_is_our_502(tavily: FakeTavily, call_function: Any, upstream_status: int,
                                 fault_tally: Counter[str]) -> None:
    tavily.answer_next(upstream_status, {"detail": {"error": "nope"}})
    fault_tally["faults"] += 1
    assert assert_clean_error(search(call_function), 502) == {
        "error": f"Tavily API error: {upstream_status}"}
    assert len(tavily.requests) == 1


def test_tavily_timeout_and_garbage(tavily: FakeTavily, call_function: Any,
                                    fault_tally: Counter[str]) -> None:
    tavily.answer_next(200, {"results": []}, delay_s=3)
    assert_clean_error(search(call_function), 504)
    tavily.answer_next(200, b"not json")
    assert_clean_error(search(call_function), 502)
    fault_tally["faults"] += 2
    assert search(call_function)["statusCode"] == 200  # and it recovers


# --- counting memory writes ------------------------------------------------------------------


def add_until_acknowledged(text: str, user: str) -> tuple[dict[str, Any] | None, list[int]]:
    """Adds one verbatim memory, retrying 429/503 like a client; (201 result, statuses seen)."""
    statuses = []
    for _ in range(CLIENT_ATTEMPTS):
        status, body, headers = call_memory("POST", "/api/memory",
                                            {"messages": text, "infer": False}, sub=user)
        statuses.append(status)
        if status == 201:
            return body["results"][0], statuses
        assert status in (429, 503), (status, body)
        assert error_shape_problem(status, body) is None
        assert int(headers["Retry-After"]) >= 1
    return None, statuses


def count_outcome(acknowledged: dict[str, str], stored: list[tuple[str, str]],
                  tally: Counter[str]) -> None:
    """Compares acknowledged {text: id} with stored [(id, text)]; records and asserts."""
    stored_texts = Counter(text for _, text in stored)
    lost = [t for t in acknowledged if t not in stored_texts]
    duplicated = [t for t, n in stored_texts.items() if n > 1]
    unacknowledged = [t for t in stored_texts if t not in acknowledged]
    tally["acknowledged"] += len(acknowledged)
    tally["stored"] += len(stored)
    tally["lost"] += len(lost)
    tally["duplicated"] += len(duplicated)
    assert not lost, f"acknowledged but not stored: {lost}"
    assert not duplicated, f"stored more than once: {duplicated}"
    assert not unacknowledged, f"stored but never acknowledged: {unacknowledged}"
    assert {text: memory_id for memory_id, text in stored} == acknowledged


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
            queue: RecordingQueue) -> Iterator[FakeBedrock]:
    """Embeddings through Titan V2 on the Bedrock fake, memories in SQLite."""
    from voice_agent.memory import embedding, wiring
    from voice_agent.memory.wiring import MemoryDeps

    with FakeBedrock() as fake:
        monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("EMBEDDINGS", "bedrock")
        monkeypatch.setenv("EMBEDDING_DIMENSIONS", "256")
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
        embedding.reset_embedder_cache()
        wiring.reset_memory_deps(MemoryDeps(queue=queue))
        yield fake
        wiring.reset_memory_deps()
        embedding.reset_embedder_cache()


def test_bedrock_throttling_loses_and_duplicates_no_memory(bedrock: FakeBedrock,
                                                           fault_tally: Counter[str]) -> None:
    user = unique_user()
    rng = random.Random(11)
    acknowledged: dict[str, str] = {}
    for i in range(10):
        throttled = rng.choice([0, 0, 1, 2, 4, 6])
        bedrock.throttle_next(throttled)
        fault_tally["faults"] += throttled
        before = len(bedrock.embedding_requests())
        result, statuses = add_until_acknowledged(f"throttled fact number {i}", user)
        assert result is not None and result["event"] == "ADD", statuses
        acknowledged[result["memory"]] = result["id"]
        # Bounded retries: at most 4 Bedrock calls per text per request.
        assert len(bedrock.embedding_requests()) - before <= 4 * len(statuses)
    from voice_agent.memory import wiring

    stored = [(r.id, r.text) for r in wiring.memory_deps().store.load_memories(user)]
    count_outcome(acknowledged, stored, fault_tally)


# --- DynamoDB faults --------------------------------------------------------------------------


class FaultyDynamoClient:
    """A boto3 DynamoDB client whose calls sometimes fail, as DynamoDB and networks do.

    ``throttle_rate``: the call is refused with ProvisionedThroughputExceededException before
    it reaches the table. ``lost_response_rate`` (writes only): the call reaches the table and
    is applied, then the answer is lost (a read timeout) — the caller cannot know it worked.
    ``conflict_rate`` (transactions only): the transaction is cancelled with a
    ``TransactionConflict`` reason, as when another write of the same items is in flight.
    """

    WRITES = frozenset({"transact_write_items", "put_item", "update_item", "delete_item"})

    def __init__(self, client: Any, *, seed: int, throttle_rate: float,
                 lost_response_rate: float, tally: Counter[str],
                 conflict_rate: float = 0.0) -> None:
        self._client = client
        self._conflict_rate = conflict_rate
        self._rng = random.Random(seed)
        self._throttle_rate = throttle_rate
        self._lost_rate = lost_response_rate
        self._tally = tally
        self.enabled = True

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name in ("meta",):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.enabled and self._rng.random() < self._throttle_rate:
                self._tally["faults"] += 1
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                             "Message": "injected throttling"}}, name)
            if (self.enabled and name == "transact_write_items"
                    and self._rng.random() < self._conflict_rate):
                self._tally["faults"] += 1
                items = kwargs.get("TransactItems", [])
                reasons = [{"Code": "None"}] * max(0, len(items) - 1) + [
                    {"Code": "TransactionConflict", "Message": "injected conflict"}]
                raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                             "Message": "injected conflict"},
                                   "CancellationReasons": reasons}, name)
            try:
                result = attribute(*args, **kwargs)
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons or error.response["Error"].get(
                        "Code") == "ConditionalCheckFailedException":
                    self._tally["conditional_failures"] += 1
                raise
            if self.enabled and name in self.WRITES and self._rng.random() < self._lost_rate:
                self._tally["faults"] += 1
                raise ReadTimeoutError(endpoint_url="http://dynamodb.injected")
            return result

        return call


@pytest.fixture
def faulty_dynamodb(monkeypatch: pytest.MonkeyPatch, queue: RecordingQueue,
                    fault_tally: Counter[str]) -> Iterator[FaultyDynamoClient]:
    """A moto table behind `FaultyDynamoClient`, used by the memory function."""
    import boto3
    from moto import mock_aws

    from voice_agent.memory import wiring
    from voice_agent.memory.store_dynamodb import DynamoMemoryStore
    from voice_agent.memory.wiring import MemoryDeps
    from voice_agent_cli.local_aws import create_memory_table

    monkeypatch.setenv("EMBEDDINGS", "hashing")
    monkeypatch.setenv("MEMORY_TABLE", TABLE)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, TABLE)
        faulty = FaultyDynamoClient(client, seed=5, throttle_rate=0.15, lost_response_rate=0.2,
                                    conflict_rate=0.15, tally=fault_tally)
        wiring.reset_memory_deps(MemoryDeps(store=DynamoMemoryStore(TABLE, client=faulty),
                                             queue=queue))
        yield faulty
        wiring.reset_memory_deps()


def test_dynamodb_throttling_conflicts_and_lost_responses_lose_and_duplicate_no_memory(
        faulty_dynamodb: FaultyDynamoClient, fault_tally: Counter[str]) -> None:
    from voice_agent.memory import wiring

    user = unique_user()
    acknowledged: dict[str, str] = {}
    for i in range(30):
        result, statuses = add_until_acknowledged(f"dynamo fact number {i}", user)
        assert result is not None, f"fact {i} never acknowledged: {statuses}"
        assert result["event"] in ("ADD", "NONE")  # NONE: a lost answer, then the retry
        acknowledged[result["memory"]] = result["id"]
    faulty_dynamodb.enabled = False
    store = wiring.memory_deps().store
    stored = [(r.id, r.text) for r in store.load_memories(user)]
    count_outcome(acknowledged, stored, fault_tally)
    assert store.count_memories(user) == len(stored)  # the META counter agrees


# --- the worker: crashes, store faults, redelivery -------------------------------------------


class ProcessKilled(BaseException):
    """The Lambda process died (timeout, out of memory): nothing in it can catch this."""


class FaultyStore:
    """A `MemoryStore` wrapper that throttles or kills the worker around its writes."""

    def __init__(self, inner: Any, *, seed: int, tally: Counter[str]) -> None:
        self._inner = inner
        self._rng = random.Random(seed)
        self._tally = tally
        self.enabled = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def apply(self, *args: Any, **kwargs: Any) -> Any:
        from voice_agent.memory.store import StoreUnavailable

        roll = self._rng.random() if self.enabled else 1.0
        if roll < 0.15:
            self._tally["faults"] += 1
            raise StoreUnavailable("injected throttling", retryable=True)
        result = self._inner.apply(*args, **kwargs)
        if roll < 0.35:
            self._tally["faults"] += 1
            raise ProcessKilled("worker died right after a write")
        return result

    def load_memories(self, user_id: str) -> Any:
        from voice_agent.memory.store import StoreUnavailable

        if self.enabled and self._rng.random() < 0.1:
            self._tally["faults"] += 1
            raise StoreUnavailable("injected read failure", retryable=True)
        return self._inner.load_memories(user_id)


def deliver_until_done(event: dict[str, Any], store: FaultyStore, user: str,
                       job_id: str) -> int:
    """Delivers one SQS event until its job is done, as SQS redelivers; returns deliveries."""
    for delivery in range(1, 30):
        store.enabled = True
        try:
            call_worker(event)
        except ProcessKilled:
            pass  # SQS makes the message visible again after the visibility timeout
        finally:
            store.enabled = False
        job = store.get_job(user, job_id)
        if job is not None and job.status == "done":
            return delivery
    raise AssertionError(f"job {job_id} never finished")


def test_worker_crashes_and_redelivery_lose_and_duplicate_no_memory(
        backend: str, queue: RecordingQueue, fault_tally: Counter[str]) -> None:
    from voice_agent.memory import wiring
    from voice_agent.memory.wiring import MemoryDeps

    store = FaultyStore(wiring.memory_deps().store, seed=3, tally=fault_tally)
    wiring.reset_memory_deps(MemoryDeps(store=store, queue=queue))
    user = unique_user()
    rng = random.Random(8)
    acknowledged: dict[str, str] = {}
    for _job_number in range(8):
        # Unrelated texts: the planner drops near-duplicates (cosine ≥ 0.95) by design.
        facts = [f"fact {rng.getrandbits(64):016x} {rng.getrandbits(64):016x}" for _ in range(3)]
        status, queued, _ = call_memory("POST", "/api/memory", {
            "messages": [{"role": "user", "content": f} for f in facts]}, sub=user)
        assert status == 202
        event = sqs_job_event(queue.messages.pop())
        deliver_until_done(event, store, user, queued["job_id"])
        call_worker(event)  # one more at-least-once duplicate, after the job is done
        status, job, _ = call_memory("GET", f"/api/memory/jobs/{queued['job_id']}", sub=user)
        assert status == 200 and job["status"] == "done"
        assert sorted(r["memory"] for r in job["results"]) == sorted(facts)
        acknowledged.update({r["memory"]: r["id"] for r in job["results"]})
    stored = [(r.id, r.text) for r in store.load_memories(user)]
    count_outcome(acknowledged, stored, fault_tally)


def test_job_results_after_a_crash_list_every_memory_the_job_stored(
        backend: str, queue: RecordingQueue) -> None:
    from voice_agent.memory import wiring
    from voice_agent.memory.wiring import MemoryDeps

    inner = wiring.memory_deps().store
    applies = []

    class CrashAfterFirstWrite(FaultyStore):
        def apply(self, *args: Any, **kwargs: Any) -> Any:
            result = inner.apply(*args, **kwargs)
            applies.append(1)
            if len(applies) == 1:
                raise ProcessKilled("worker died right after its first write")
            return result

    store = CrashAfterFirstWrite(inner, seed=0, tally=Counter())
    wiring.reset_memory_deps(MemoryDeps(store=store, queue=queue))
    user = unique_user()
    facts = ["Keeps bees on the roof", "Drives a green tractor", "Speaks fluent Basque"]
    status, queued, _ = call_memory("POST", "/api/memory", {
        "messages": [{"content": f} for f in facts]}, sub=user)
    event = sqs_job_event(queue.messages.pop())
    with pytest.raises(ProcessKilled):
        call_worker(event)
    assert call_worker(event) == {"batchItemFailures": []}
    assert sorted(r.text for r in inner.load_memories(user)) == sorted(facts)
    _, job, _ = call_memory("GET", f"/api/memory/jobs/{queued['job_id']}", sub=user)
    assert job["status"] == "done"
    assert sorted(r["memory"] for r in job["results"]) == sorted(facts)


def test_same_message_twice_in_one_batch_is_applied_once(backend: str, queue: RecordingQueue,
                                                         fault_tally: Counter[str]) -> None:
    from voice_agent.memory import wiring

    user = unique_user()
    status, queued, _ = call_memory("POST", "/api/memory", {
        "messages": "Twice delivered fact"}, sub=user)
    assert status == 202
    message = queue.messages.pop()
    assert call_worker(sqs_job_event(message, message)) == {"batchItemFailures": []}
    assert call_worker(sqs_job_event(message, receive_count=2)) == {"batchItemFailures": []}
    stored = [(r.id, r.text) for r in wiring.memory_deps().store.load_memories(user)]
    _, job, _ = call_memory("GET", f"/api/memory/jobs/{queued['job_id']}", sub=user)
    count_outcome({r["memory"]: r["id"] for r in job["results"]}, stored, fault_tally)
    fault_tally["faults"] += 2  # two redeliveries


def test_worker_reports_a_store_failure_as_a_batch_item_failure(
        backend: str, queue: RecordingQueue) -> None:
    from voice_agent.memory import wiring
    from voice_agent.memory.wiring import MemoryDeps

    store = FaultyStore(wiring.memory_deps().store, seed=0, tally=Counter())
    wiring.reset_memory_deps(MemoryDeps(store=store, queue=queue))
    user = unique_user()
    call_memory("POST", "/api/memory", {"messages": "Fails first"}, sub=user)
    message = queue.messages.pop()
    original_apply = store._inner.apply

    def throttled(*_args: Any, **_kwargs: Any) -> None:
        from voice_agent.memory.store import StoreUnavailable

        raise StoreUnavailable("throttled", retryable=True)

    store._inner.apply = throttled
    event = sqs_job_event(message)
    result = call_worker(event)
    assert result == {"batchItemFailures": [
        {"itemIdentifier": event["Records"][0]["messageId"]}]}
    job = store.get_job(user, json.loads(event["Records"][0]["body"])["job_id"])
    assert job.status == "failed" and "retried" in job.error
    store._inner.apply = original_apply
    assert call_worker(event) == {"batchItemFailures": []}
    assert [r.text for r in store.load_memories(user)] == ["Fails first"]
