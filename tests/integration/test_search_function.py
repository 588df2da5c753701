"""POST /api/search through the real handler against a loopback fake of Tavily."""

from __future__ import annotations

import pytest

from tests.conftest import TAVILY_TEST_KEY, body_of, http_event
from voice_agent.search.tavily import SNIPPET_CHARS, speakable


def search(call_function, body):
    return call_function("search", http_event("POST", "/api/search", body))


def test_search_returns_answer_and_compact_results(tavily, call_function):
    response = search(call_function, {"query": "weather in Lisbon", "max_results": 3})
    assert response["statusCode"] == 200
    result = body_of(response)
    assert result["query"] == "weather in Lisbon"
    assert result["answer"] == "It is sunny in Lisbon today, around 24 degrees."
    assert len(result["results"]) == 3
    first = result["results"][0]
    assert set(first) >= {"title", "url", "content", "score", "source"}
    assert first["source"] == "site0.example"
    assert len(first["content"]) <= SNIPPET_CHARS
    assert [r["score"] for r in result["results"]] == sorted(
        (r["score"] for r in result["results"]), reverse=True)
    sent = tavily.requests[0]
    assert sent.path == "/search"
    assert sent.headers["authorization"] == f"Bearer {TAVILY_TEST_KEY}"
    assert sent.json()["max_results"] == 3 and sent.json()["include_answer"] is True


@pytest.mark.parametrize("body, field", [
    ({}, "query"), ({"query": ""}, "query"), ({"query": "x", "max_results": 0}, "max_results"),
    ({"query": "x", "max_results": 11}, "max_results"), ({"query": 42}, "query"),
])
def test_invalid_search_body_is_422_naming_the_field(tavily, call_function, body, field):
    response = search(call_function, body)
    assert response["statusCode"] == 422
    assert body_of(response)["error"].startswith(f"{field}:")
    assert tavily.requests == []


def test_missing_tavily_key_is_500_naming_it(call_function):
    response = search(call_function, {"query": "x"})
    assert response["statusCode"] == 500
    assert body_of(response) == {"error": "TAVILY_API_KEY is not set"}


@pytest.mark.parametrize("status", [401, 429, 500])
def test_tavily_error_is_502_json(tavily, call_function, status):
    tavily.answer_next(status, {"detail": {"error": "bad"}})
    response = search(call_function, {"query": "x"})
    assert response["statusCode"] == 502
    assert body_of(response) == {"error": f"Tavily API error: {status}"}


def test_tavily_timeout_is_504_json(tavily, call_function, monkeypatch):
    monkeypatch.setenv("TAVILY_TIMEOUT_S", "0.3")
    tavily.answer_next(200, {}, delay_s=1.5)
    response = search(call_function, {"query": "x"})
    assert response["statusCode"] == 504
    assert "error" in body_of(response)


def test_speakable_strips_markdown_and_cuts_at_sentence():
    text = "**Bold** claim. " + "More words here. " * 40
    spoken = speakable(text, 100)
    assert "*" not in spoken and len(spoken) <= 100 and spoken.endswith(".")
