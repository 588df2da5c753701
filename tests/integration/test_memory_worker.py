"""The extraction worker through its SQS handler: verbatim jobs, idempotency, concurrency, and
LLM extraction with scripted fakes (OpenAI chat completions and Bedrock Converse)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.conftest import unique_user
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.openai_chat import FakeOpenAIChat
from tests.integration.memory_events import (  # noqa: F401 - fixtures
    RecordingQueue,
    backend_fixture,
    call_memory,
    call_worker,
    queue_fixture,
    sqs_job_event,
)
from voice_agent.memory import use_cases, wiring, worker
from voice_agent.memory.extraction import OpenAIChatLLM
from voice_agent.memory.models import AddMemoryRequest, JobMessage
from voice_agent.memory.wiring import MemoryDeps
from voice_agent.observability import logger


def queue_add(user: str, messages: Any, metadata: dict | None = None) -> str:
    body: dict[str, Any] = {"messages": messages}
    if metadata is not None:
        body["metadata"] = metadata
    status, result, _ = call_memory("POST", "/api/memory", body, sub=user)
    assert status == 202, result
    return result["job_id"]


def job_of(user: str, job_id: str) -> dict:
    status, job, _ = call_memory("GET", f"/api/memory/jobs/{job_id}", sub=user)
    assert status == 200
    return job


def memories_of(user: str) -> list[str]:
    _, page, _ = call_memory("GET", "/api/memory", sub=user, query="limit=100")
    return sorted(m["memory"] for m in page["results"])


def add_verbatim(user: str, text: str) -> str:
    status, result, _ = call_memory("POST", "/api/memory", {"messages": text, "infer": False},
                                    sub=user)
    assert status == 201
    return result["results"][0]["id"]


def history_of(user: str, memory_id: str) -> list[tuple[str, str, str | None]]:
    status, history, _ = call_memory("GET", f"/api/memory/{memory_id}/history", sub=user)
    assert status == 200
    return [(h["event"], h["memory"], h["previous_memory"]) for h in history["results"]]


# --- MEMORY_LLM=none: verbatim ---------------------------------------------------------------


def test_worker_without_llm_stores_user_messages_verbatim(backend, queue: RecordingQueue):
    user = unique_user()
    job_id = queue_add(user, [{"role": "user", "content": "My sister is Ana"},
                              {"role": "assistant", "content": "Noted!"},
                              {"role": "user", "content": "my sister is ana."}])
    assert queue.deliver() == {"batchItemFailures": []}
    job = job_of(user, job_id)
    assert job["status"] == "done"
    # The second user message is the same fact: merged, not stored twice.
    assert [(r["memory"], r["event"]) for r in job["results"]] == [("My sister is Ana", "ADD")]
    assert memories_of(user) == ["My sister is Ana"]


def test_worker_logs_json_under_the_job_id_and_publishes_a_metric(
        backend, queue: RecordingQueue, caplog, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    user = unique_user()
    job_id = queue_add(user, "I water the plants on Sundays")
    capsys.readouterr()
    caplog.clear()
    assert queue.deliver() == {"batchItemFailures": []}
    # Each record as the Lambda log shows it: formatted by the Powertools logger.
    lines = [json.loads(logger.registered_formatter.format(record)) for record in caplog.records]
    finished = [line for line in lines if line.get("message") == "memory job finished"]
    assert len(finished) == 1
    assert finished[0]["correlation_id"] == job_id
    assert finished[0]["service"] == "voice-agent" and finished[0]["status"] == "done"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{") and "_aws" in line]
    metric_names = [metric["Name"] for line in emitted
                    for directive in line["_aws"]["CloudWatchMetrics"]
                    for metric in directive["Metrics"]]
    assert metric_names == ["MemoryJobsDone"]


def test_redelivered_message_never_duplicates(backend, queue: RecordingQueue):
    user = unique_user()
    job_id = queue_add(user, "I play the cello")
    message = queue.messages[0]
    for receive_count in (1, 2, 3):
        assert call_worker(sqs_job_event(message, receive_count=receive_count)) == {
            "batchItemFailures": []}
    assert memories_of(user) == ["I play the cello"]
    assert job_of(user, job_id)["status"] == "done"


def test_redelivery_after_crash_mid_job_applies_the_saved_plan_once(backend, queue):
    user = unique_user()
    job_id = queue_add(user, [{"role": "user", "content": "Likes hiking"},
                              {"role": "user", "content": "Owns a red bicycle"}])
    message = JobMessage.model_validate(queue.messages[0])
    deps = wiring.memory_deps()
    assert worker.run_job(message, deps).status == "done"
    # Simulate a crash after the writes but before the job was marked done.
    job = deps.store.get_job(user, job_id)
    job.status = "queued"
    deps.store.put_job(user, job)
    assert queue.deliver() == {"batchItemFailures": []}
    assert memories_of(user) == ["Likes hiking", "Owns a red bicycle"]


def test_worker_acts_only_for_the_user_in_the_message(backend, queue: RecordingQueue):
    alice, bob = unique_user(), unique_user()
    queue_add(alice, "Alice keeps bees")
    queue.messages[0]["metadata"] = {"userId": bob}  # noise in metadata never changes the owner
    queue.deliver()
    assert memories_of(alice) == ["Alice keeps bees"]
    assert memories_of(bob) == []


def test_malformed_job_message_is_reported_as_batch_failure(backend):
    event = sqs_job_event({"job_id": "x"})  # no user_id, no messages
    failures = call_worker(event)["batchItemFailures"]
    assert failures == [{"itemIdentifier": event["Records"][0]["messageId"]}]


# --- concurrency --------------------------------------------------------------------------------


def _run_threads(count: int, target) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_twenty_concurrent_adds_for_one_user_lose_nothing(backend):
    user = unique_user()
    deps = wiring.memory_deps()

    def add(i: int) -> None:
        use_cases.add_memories(user, AddMemoryRequest(messages=f"concurrent fact {i}",
                                                    infer=False), deps)

    assert _run_threads(20, add) == []
    assert memories_of(user) == sorted(f"concurrent fact {i}" for i in range(20))
    assert deps.store.count_memories(user) == 20
    assert deps.store.version(user) == 20


def test_twenty_concurrent_jobs_for_one_user_lose_nothing(backend):
    user = unique_user()
    deps = wiring.memory_deps()

    def run(i: int) -> None:
        message = JobMessage(job_id=f"job-{user}-{i}", user_id=user,
                             messages=[{"role": "user", "content": f"parallel job fact {i}"}])
        worker.run_job(message, deps)

    assert _run_threads(20, run) == []
    assert memories_of(user) == sorted(f"parallel job fact {i}" for i in range(20))


def test_concurrent_adds_respect_the_per_user_limit(backend, monkeypatch):
    monkeypatch.setenv("MEMORY_MAX_PER_USER", "5")
    user = unique_user()
    deps = wiring.memory_deps()

    def add(i: int) -> None:
        use_cases.add_memories(user, AddMemoryRequest(messages=f"limited fact {i}", infer=False),
                             deps)

    errors = _run_threads(12, add)
    assert deps.store.count_memories(user) == 5
    assert len(memories_of(user)) == 5
    assert len(errors) == 7 and all(getattr(e, "status", None) == 409 for e in errors)


# --- extraction with an LLM (OpenAI-compatible fake) ------------------------------------------


@pytest.fixture
def openai(monkeypatch) -> FakeOpenAIChat:
    with FakeOpenAIChat() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("MEMORY_LLM", "openai:gpt-fake")
        yield fake


def test_extraction_adds_facts(backend, queue, openai: FakeOpenAIChat):
    user = unique_user()
    openai.reply_with_tool("record_facts", {"facts": ["Name is Sam", "Works at Acme"]})
    job_id = queue_add(user, [{"role": "user", "content": "Hi, I'm Sam and I work at Acme"}],
                       metadata={"session": "s1"})
    assert queue.deliver() == {"batchItemFailures": []}
    job = job_of(user, job_id)
    assert job["status"] == "done"
    assert [(r["memory"], r["event"]) for r in job["results"]] == [
        ("Name is Sam", "ADD"), ("Works at Acme", "ADD")]
    assert memories_of(user) == ["Name is Sam", "Works at Acme"]
    sent = openai.requests[0].json()
    assert openai.requests[0].headers["authorization"] == "Bearer sk-test"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "record_facts"}}
    assert "Hi, I'm Sam" in sent["messages"][1]["content"]
    assert len(openai.requests) == 1  # no stored memories: no decision phase


def test_extraction_update_merges_and_keeps_history(backend, queue, openai):
    user = unique_user()
    memory_id = add_verbatim(user, "Lives in Paris")
    openai.reply_with_tool("record_facts", {"facts": ["Moved to Berlin"]})
    openai.reply_with_tool("decide_memory_updates", {"decisions": [
        {"fact": 0, "event": "UPDATE", "memory_id": 0, "text": "Lives in Berlin"}]})
    job_id = queue_add(user, "I moved to Berlin last month")
    assert queue.deliver() == {"batchItemFailures": []}
    assert job_of(user, job_id)["results"] == [
        {"id": memory_id, "memory": "Lives in Berlin", "event": "UPDATE"}]
    assert memories_of(user) == ["Lives in Berlin"]
    assert history_of(user, memory_id) == [
        ("ADD", "Lives in Paris", None), ("UPDATE", "Lives in Berlin", "Lives in Paris")]
    decision_prompt = openai.requests[1].json()["messages"][1]["content"]
    assert '"memory_id": 0' in decision_prompt and memory_id not in decision_prompt
    _, found, _ = call_memory("POST", "/api/memory/search", {"query": "Berlin"}, sub=user)
    assert found["results"][0]["memory"] == "Lives in Berlin"


def test_extraction_delete_removes_memory_and_keeps_history(backend, queue, openai):
    user = unique_user()
    memory_id = add_verbatim(user, "Has a cat named Tom")
    openai.reply_with_tool("record_facts", {"facts": ["No longer has a cat"]})
    openai.reply_with_tool("decide_memory_updates", {"decisions": [
        {"fact": 0, "event": "DELETE", "memory_id": 0}]})
    job_id = queue_add(user, "Tom ran away, I don't have a cat any more")
    assert queue.deliver() == {"batchItemFailures": []}
    assert job_of(user, job_id)["results"] == [
        {"id": memory_id, "memory": "Has a cat named Tom", "event": "DELETE"}]
    assert memories_of(user) == []
    assert history_of(user, memory_id) == [
        ("ADD", "Has a cat named Tom", None),
        ("DELETE", "Has a cat named Tom", "Has a cat named Tom")]


def test_extraction_none_changes_nothing(backend, queue, openai):
    user = unique_user()
    memory_id = add_verbatim(user, "Likes green tea")
    openai.reply_with_tool("record_facts", {"facts": ["Enjoys drinking green tea"]})
    openai.reply_with_tool("decide_memory_updates", {"decisions": [
        {"fact": 0, "event": "NONE", "memory_id": 0}]})
    job_id = queue_add(user, "I enjoy green tea")
    assert queue.deliver() == {"batchItemFailures": []}
    job = job_of(user, job_id)
    assert job == {"status": "done", "results": [], "error": None}
    assert memories_of(user) == ["Likes green tea"]
    assert history_of(user, memory_id) == [("ADD", "Likes green tea", None)]


def test_extraction_skips_llm_decision_for_exact_duplicates(backend, queue, openai):
    user = unique_user()
    add_verbatim(user, "Name is Sam")
    openai.reply_with_tool("record_facts", {"facts": ["name is sam."]})
    queue_add(user, "I'm Sam")
    assert queue.deliver() == {"batchItemFailures": []}
    assert memories_of(user) == ["Name is Sam"]
    assert len(openai.requests) == 1


def test_near_duplicates_are_not_stored_twice(backend, queue, openai):
    # Given a stored memory, and an extraction returning it reworded in punctuation only (a
    # different text, so the exact-duplicate guard does not see it) plus one fact twice
    user = unique_user()
    add_verbatim(user, "Lives in Lisbon, Portugal")
    openai.reply_with_tool("record_facts", {"facts": [
        "Lives in Lisbon - Portugal", "Works at Acme as a data engineer",
        "Works at Acme, as a data engineer"]})
    openai.reply_with_tool("decide_memory_updates", {"decisions": [
        {"fact": 0, "event": "ADD", "text": "Works at Acme as a data engineer"}]})

    # When the job runs
    queue_add(user, "I live in Lisbon and I'm a data engineer at Acme")
    assert queue.deliver() == {"batchItemFailures": []}

    # Then each fact is stored once (cosine >= 0.95 to a stored memory or to an earlier fact),
    # and the LLM was asked about the one new fact only
    assert sorted(memories_of(user)) == ["Lives in Lisbon, Portugal",
                                        "Works at Acme as a data engineer"]
    decision_prompt = openai.requests[1].json()["messages"][1]["content"]
    assert "data engineer" in decision_prompt
    assert "Lives in Lisbon - Portugal" not in decision_prompt


def test_malformed_output_is_retried_once_then_succeeds(backend, queue, openai):
    user = unique_user()
    openai.reply_with_text("Sure! Sam works at Acme.")
    openai.reply_with_tool("record_facts", {"facts": ["Works at Acme"]})
    queue_add(user, "I work at Acme")
    assert queue.deliver() == {"batchItemFailures": []}
    assert memories_of(user) == ["Works at Acme"]


@pytest.mark.parametrize("first, second", [
    ("text", "text"),
    ({"facts": "not a list"}, "{broken json"),
])
def test_malformed_output_twice_fails_job_and_stores_nothing(backend, queue, openai,
                                                             first, second):
    user = unique_user()
    for answer in (first, second):
        if answer == "text":
            openai.reply_with_text("no tool call here")
        else:
            openai.reply_with_tool("record_facts", answer)
    job_id = queue_add(user, "I work at Acme")
    message = queue.messages[0]
    event = sqs_job_event(message)
    result = call_worker(event)
    assert result == {"batchItemFailures": [{"itemIdentifier":
                                             event["Records"][0]["messageId"]}]}
    job = job_of(user, job_id)
    assert job["status"] == "failed" and "extraction failed" in job["error"]
    assert memories_of(user) == []
    assert len(openai.requests) == 2

    # SQS redelivers: this time the model behaves.
    openai.reply_with_tool("record_facts", {"facts": ["Works at Acme"]})
    assert call_worker(sqs_job_event(message, receive_count=2)) == {"batchItemFailures": []}
    assert job_of(user, job_id)["status"] == "done"
    assert memories_of(user) == ["Works at Acme"]


def test_decision_with_unknown_memory_number_is_malformed(backend, queue, openai):
    user = unique_user()
    add_verbatim(user, "Lives in Paris")
    openai.reply_with_tool("record_facts", {"facts": ["Lives in Rome"]})
    for _ in range(2):
        openai.reply_with_tool("decide_memory_updates", {"decisions": [
            {"fact": 0, "event": "UPDATE", "memory_id": 7, "text": "Lives in Rome"}]})
    job_id = queue_add(user, "I live in Rome now")
    assert len(queue.deliver()["batchItemFailures"]) == 1
    assert job_of(user, job_id)["status"] == "failed"
    assert memories_of(user) == ["Lives in Paris"]


def test_llm_timeout_fails_the_job(backend, queue, openai):
    user = unique_user()
    llm = OpenAIChatLLM("gpt-fake", openai.url, "sk-test", timeout_s=0.3)
    wiring.reset_memory_deps(MemoryDeps(queue=queue, llm=llm))
    openai.reply_with_tool("record_facts", {"facts": ["Too late"]}, delay_s=1.0)
    job_id = queue_add(user, "something slow")
    assert len(queue.deliver()["batchItemFailures"]) == 1
    job = job_of(user, job_id)
    assert job["status"] == "failed" and "extraction failed" in job["error"]
    assert memories_of(user) == []


def test_llm_error_status_fails_the_job(backend, queue, openai):
    user = unique_user()
    openai.answer_next(429, {"error": {"message": "rate limited"}})
    job_id = queue_add(user, "anything")
    assert len(queue.deliver()["batchItemFailures"]) == 1
    assert job_of(user, job_id)["status"] == "failed"


# --- extraction with Bedrock Converse (FakeBedrock) ---------------------------------------------


def _converse_tool(name: str, arguments: dict) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t1", "name": name, "input": arguments}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 5},
    }


def test_bedrock_converse_extraction_update(backend, queue, monkeypatch):
    user = unique_user()
    with FakeBedrock() as bedrock:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.url)
        monkeypatch.setenv("MEMORY_LLM", "bedrock:amazon.nova-micro-v1:0")
        memory_id = add_verbatim(user, "Favourite colour is blue")
        bedrock.converse_responses.append(
            _converse_tool("record_facts", {"facts": ["Favourite colour is green"]}))
        bedrock.converse_responses.append(_converse_tool("decide_memory_updates", {
            "decisions": [{"fact": 0, "event": "UPDATE", "memory_id": 0,
                           "text": "Favourite colour is green"}]}))
        job_id = queue_add(user, "Actually my favourite colour is green now")
        assert queue.deliver() == {"batchItemFailures": []}
        first = bedrock.requests[0]
        assert first.action == "converse" and first.model_id == "amazon.nova-micro-v1:0"
        assert first.body["toolConfig"]["toolChoice"] == {"tool": {"name": "record_facts"}}
    assert job_of(user, job_id)["results"][0]["event"] == "UPDATE"
    assert memories_of(user) == ["Favourite colour is green"]
    assert [h[0] for h in history_of(user, memory_id)] == ["ADD", "UPDATE"]


def test_misconfigured_llm_fails_the_job_visibly(backend, queue, monkeypatch):
    monkeypatch.setenv("MEMORY_LLM", "openai:gpt-fake")  # and no OPENAI_API_KEY
    user = unique_user()
    job_id = queue_add(user, "anything")
    assert len(queue.deliver()["batchItemFailures"]) == 1
    job = job_of(user, job_id)
    assert job["status"] == "failed" and job["error"].startswith("internal error (ConfigError)")
