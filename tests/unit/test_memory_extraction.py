"""Extraction phases with a scripted in-process model, LLM configuration, request models and
the job queue factory."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from voice_agent.errors import ConfigError
from voice_agent.memory import jobs
from voice_agent.memory.extraction import (
    BedrockConverseLLM,
    ExtractionFailed,
    LLMUnavailable,
    MalformedOutput,
    OpenAIChatLLM,
    decide_updates,
    extract_facts,
    llm_configured,
    make_llm,
)
from voice_agent.memory.models import AddMemoryRequest, SearchMemoriesRequest
from voice_agent.memory.prompts import (
    DECISIONS_TOOL,
    FACTS_TOOL,
    MAX_FACTS,
    DecisionsAnswer,
    FactsAnswer,
    ToolSpec,
)


class ScriptedLLM:
    """Answers each call with the next scripted value (an exception is raised)."""

    id = "scripted:test"

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, str]] = []

    def call_tool(self, system: str, user: str, tool: ToolSpec) -> dict[str, Any]:
        self.calls.append((system, user, tool.name))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_extract_facts_strips_and_drops_blank_facts():
    llm = ScriptedLLM({"facts": [" Name is Sam ", "Works at Acme"]})
    assert extract_facts(llm, [("user", "I'm Sam from Acme")]) == ["Name is Sam", "Works at Acme"]
    system, user, tool = llm.calls[0]
    assert tool == FACTS_TOOL.name and "user: I'm Sam from Acme" in user


def test_extract_facts_retries_once_on_malformed_output():
    llm = ScriptedLLM(MalformedOutput("no tool call"), {"facts": ["Likes tea"]})
    assert extract_facts(llm, [("user", "tea!")]) == ["Likes tea"]
    assert len(llm.calls) == 2


@pytest.mark.parametrize("bad", [{"facts": "x"}, {"facts": [1, 2]}, {}, {"facts": ["x" * 2001]},
                                 {"facts": ["f"] * 21}])
def test_extract_facts_fails_after_two_malformed_answers(bad):
    llm = ScriptedLLM(bad, bad)
    with pytest.raises(ExtractionFailed, match="malformed twice"):
        extract_facts(llm, [("user", "x")])


def test_llm_unavailable_fails_without_retry():
    llm = ScriptedLLM(LLMUnavailable("timeout"))
    with pytest.raises(ExtractionFailed, match="timeout"):
        extract_facts(llm, [("user", "x")])
    assert len(llm.calls) == 1


def test_decide_updates_maps_small_ids_and_adds_skipped_facts():
    llm = ScriptedLLM({"decisions": [
        {"fact": 0, "event": "UPDATE", "memory_id": 1, "text": "Lives in Berlin"}]})
    decisions = decide_updates(llm, ["Moved to Berlin", "Has a dog"],
                               ["Likes tea", "Lives in Paris"])
    assert [(d.fact, d.event, d.memory_id, d.text) for d in decisions] == [
        (0, "UPDATE", 1, "Lives in Berlin"), (1, "ADD", None, "Has a dog")]
    _, prompt, tool = llm.calls[0]
    assert tool == DECISIONS_TOOL.name
    assert '"memory_id": 1' in prompt and "Lives in Paris" in prompt


@pytest.mark.parametrize("decision", [
    {"fact": 5, "event": "ADD", "text": "x"},
    {"fact": 0, "event": "UPDATE", "memory_id": 9, "text": "x"},
    {"fact": 0, "event": "UPDATE", "text": "x"},
    {"fact": 0, "event": "UPDATE", "memory_id": 0},
    {"fact": 0, "event": "DELETE"},
    {"fact": 0, "event": "MERGE", "memory_id": 0},
])
def test_invalid_decisions_are_malformed(decision):
    llm = ScriptedLLM({"decisions": [decision]}, {"decisions": [decision]})
    with pytest.raises(ExtractionFailed):
        decide_updates(llm, ["fact"], ["memory"])
    assert len(llm.calls) == 2


def test_make_llm_parses_memory_llm(monkeypatch):
    assert make_llm(None) is None
    assert make_llm("none") is None
    assert make_llm("") is None
    llm = make_llm("bedrock:anthropic.claude-3-5-haiku-20241022-v1:0")
    assert isinstance(llm, BedrockConverseLLM)
    assert llm.id == "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0"
    monkeypatch.setenv("MEMORY_LLM_MODEL_ID", "amazon.nova-lite-v1:0")
    assert make_llm("bedrock").id == "bedrock:amazon.nova-lite-v1:0"
    monkeypatch.delenv("MEMORY_LLM_MODEL_ID")
    assert make_llm("bedrock").id == "bedrock:amazon.nova-micro-v1:0"
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        make_llm("openai:gpt-4.1-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert isinstance(make_llm("openai:gpt-4.1-mini"), OpenAIChatLLM)
    with pytest.raises(ConfigError, match="MEMORY_LLM"):
        make_llm("llama:7b")
    with pytest.raises(ConfigError, match="MEMORY_LLM"):
        make_llm("openai")


@pytest.mark.parametrize("spec", [None, "", " ", "none", "NONE", " None ", "none:anything"])
def test_an_unset_or_none_memory_llm_is_not_configured_and_builds_nothing(spec):
    assert llm_configured(spec) is False
    assert make_llm(spec) is None


@pytest.mark.parametrize("spec", ["bedrock", "Bedrock:amazon.nova-micro-v1:0",
                                  "openai:gpt-4.1-mini", "llama:7b"])
def test_any_other_memory_llm_counts_as_configured(spec):
    # A wrong spec counts too: the job path then builds it and reports its ConfigError.
    assert llm_configured(spec) is True


# --- request models --------------------------------------------------------------------------


def test_add_request_ignores_unknown_fields_and_defaults_to_infer():
    request = AddMemoryRequest.model_validate({"messages": "hi", "userId": "someone"})
    assert request.infer is True
    assert not hasattr(request, "userId")
    assert [(t.role, t.content) for t in request.turns()] == [("user", "hi")]


def test_search_request_limits():
    assert SearchMemoriesRequest(query="x").limit == 5
    for limit in (0, 51, "5", True):
        with pytest.raises(ValidationError):
            SearchMemoriesRequest.model_validate({"query": "x", "limit": limit})


def test_openapi_schema_describes_fields():
    schema = AddMemoryRequest.model_json_schema()
    assert "description" in schema["properties"]["infer"]
    assert "description" in schema["properties"]["messages"]


# --- job queue factory ------------------------------------------------------------------------


def test_make_job_queue_prefers_sqs_then_dispatcher_else_config_error(monkeypatch):
    jobs.set_local_dispatcher(None)
    with pytest.raises(ConfigError, match="MEMORY_QUEUE_URL is not set"):
        jobs.make_job_queue()
    received: list[dict] = []
    jobs.set_local_dispatcher(received.append)
    try:
        queue = jobs.make_job_queue()
        assert isinstance(queue, jobs.InProcessJobQueue)
        queue.send({"job_id": "j"})
        queue.wait()
        assert received[0]["Records"][0]["body"] == '{"job_id": "j"}'
        monkeypatch.setenv("MEMORY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q")
        assert isinstance(jobs.make_job_queue(), jobs.SqsJobQueue)
    finally:
        jobs.set_local_dispatcher(None)


def test_malformed_answers_are_logged_without_their_text(caplog):
    bad = {"facts": ["SECRET-PIN-1234", 7]}
    llm = ScriptedLLM(bad, bad)
    with caplog.at_level("WARNING"), pytest.raises(ExtractionFailed):
        extract_facts(llm, [("user", "my pin is SECRET-PIN-1234")])
    assert "malformed record_facts" in caplog.text
    assert "SECRET-PIN" not in caplog.text


# --- tool schemas come from the answer models ----------------------------------------------


@pytest.mark.parametrize(("tool", "model", "answer"), [
    (FACTS_TOOL, FactsAnswer, {"facts": ["Name is Sam"]}),
    (DECISIONS_TOOL, DecisionsAnswer,
     {"decisions": [{"fact": 0, "event": "UPDATE", "memory_id": 1, "text": "Lives in Berlin"}]}),
])
def test_tool_schema_and_answer_model_accept_the_same_valid_answer(tool, model, answer):
    jsonschema.validate(answer, tool.parameters)
    model.model_validate(answer)


@pytest.mark.parametrize(("tool", "model", "answer"), [
    (FACTS_TOOL, FactsAnswer, {"facts": ["fact"] * (MAX_FACTS + 1)}),
    (FACTS_TOOL, FactsAnswer, {"facts": [""]}),
    (DECISIONS_TOOL, DecisionsAnswer, {"decisions": [{"fact": 0, "event": "MERGE"}]}),
    (DECISIONS_TOOL, DecisionsAnswer, {"decisions": [{"event": "ADD"}]}),
])
def test_tool_schema_and_answer_model_reject_the_same_invalid_answer(tool, model, answer):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer, tool.parameters)
    with pytest.raises(ValidationError):
        model.model_validate(answer)


def test_tool_schemas_are_self_contained():
    for tool in (FACTS_TOOL, DECISIONS_TOOL):
        text = json.dumps(tool.parameters)
        assert "$ref" not in text and "$defs" not in text and '"title"' not in text
        assert tool.parameters["type"] == "object"
