"""Memory extraction over Converse with models that do not support a forced tool choice.

``MEMORY_LLM=bedrock:<model>`` forces the extraction tool with ``toolChoice: {"tool": …}``.
Models without that (Mistral, Llama …) are refused by Bedrock with a ValidationException; the
adapter then asks with ``{"any": {}}`` and, failing that, with no ``toolChoice``. Everything
goes through the loopback Bedrock fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.bedrock import FakeBedrock
from voice_agent.memory.extraction import ExtractionFailed, extract_facts, make_llm
from voice_agent.settings import get_settings

TURNS = [("user", "I moved to Porto and I work at Acme")]
FACTS = ["Lives in Porto", "Works at Acme"]


def _tool_answer(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "t1", "name": name, "input": arguments}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 5}}


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
        yield fake


def _llm_from_env() -> Any:
    """The extraction LLM as the memory wiring builds it from ``MEMORY_LLM``."""
    llm = make_llm(get_settings().memory_llm)
    assert llm is not None
    return llm


def _choices(fake: FakeBedrock) -> list[Any]:
    return [r.body["toolConfig"].get("toolChoice") for r in fake.requests]


def test_model_refusing_forced_tool_choice_falls_back_to_any(bedrock, monkeypatch):
    bedrock.tool_choices = {"any", "auto"}  # e.g. Mistral Large
    monkeypatch.setenv("MEMORY_LLM", "bedrock:mistral.mistral-large-2407-v1:0")
    llm = _llm_from_env()
    bedrock.converse_responses.extend([_tool_answer("record_facts", {"facts": FACTS})] * 2)

    assert extract_facts(llm, TURNS) == FACTS
    assert _choices(bedrock) == [{"tool": {"name": "record_facts"}}, {"any": {}}]
    # The working choice is kept: the next call needs one request, not two.
    assert extract_facts(llm, TURNS) == FACTS
    assert _choices(bedrock)[2:] == [{"any": {}}]
    assert {r.model_id for r in bedrock.requests} == {"mistral.mistral-large-2407-v1:0"}


def test_model_supporting_forced_tool_choice_is_asked_once(bedrock, monkeypatch):
    monkeypatch.setenv("MEMORY_LLM", "bedrock:amazon.nova-micro-v1:0")
    bedrock.converse_responses.append(_tool_answer("record_facts", {"facts": FACTS}))

    assert extract_facts(_llm_from_env(), TURNS) == FACTS
    assert _choices(bedrock) == [{"tool": {"name": "record_facts"}}]


def test_model_without_any_tool_choice_is_asked_with_none(bedrock, monkeypatch):
    bedrock.tool_choices = {"auto"}  # e.g. Llama: tools, but no forcing at all
    monkeypatch.setenv("MEMORY_LLM", "bedrock:meta.llama3-1-70b-instruct-v1:0")
    bedrock.converse_responses.append(_tool_answer("record_facts", {"facts": FACTS}))

    assert extract_facts(_llm_from_env(), TURNS) == FACTS
    assert _choices(bedrock) == [{"tool": {"name": "record_facts"}}, {"any": {}}, None]


def test_other_validation_errors_do_not_change_the_tool_choice(bedrock, monkeypatch):
    monkeypatch.setenv("MEMORY_LLM", "bedrock:amazon.nova-micro-v1:0")
    bedrock.fail_next(1, 400, "ValidationException", "The provided model identifier is invalid.")

    with pytest.raises(ExtractionFailed, match="ValidationException"):
        extract_facts(_llm_from_env(), TURNS)
    assert _choices(bedrock) == [{"tool": {"name": "record_facts"}}]
