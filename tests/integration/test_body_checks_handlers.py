"""The deployed path: each function's handler refuses bodies before any work, as on AWS.

API Gateway hands a form's multipart body to the function base64-encoded and a urlencoded or
``text/plain`` body as text; the handlers see exactly these events (no dev server in front).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conftest import body_of, http_event, unique_user

ROUTES = [("session", "/api/voice-agent"), ("memory", "/api/memory"),
          ("memory", "/api/memory/search"), ("search", "/api/search")]


def post(call_function: Any, function: str, path: str, body: str,
         content_type: str | None, *, base64_body: bool = False) -> dict[str, Any]:
    headers = {} if content_type is None else {"content-type": content_type}
    event = http_event("POST", path, body, sub=unique_user(), headers=headers)
    if content_type is None:
        event["headers"].pop("content-type", None)  # http_event adds JSON by default
    if base64_body:
        event["body"] = base64.b64encode(body.encode()).decode()
        event["isBase64Encoded"] = True
    return call_function(function, event)


@pytest.mark.parametrize(("function", "path"), ROUTES)
def test_form_text_and_untyped_bodies_are_415_at_the_handler(
        call_function: Any, function: str, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-called")
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-never-called")
    multipart = '--b\r\nContent-Disposition: form-data; name="messages"\r\n\r\nhi\r\n--b--\r\n'
    cases = [
        ("messages=hi&infer=false", "application/x-www-form-urlencoded", False),
        (multipart, "multipart/form-data; boundary=b", True),
        ('{"messages": "hi", "query": "hi"}', "text/plain", False),
        ('{"messages": "hi", "query": "hi"}', None, False),
    ]
    for body, content_type, encoded in cases:
        response = post(call_function, function, path, body, content_type, base64_body=encoded)
        assert response["statusCode"] == 415, (content_type, response)
        assert "application/json" in body_of(response)["error"]


@pytest.mark.parametrize(("function", "path"), ROUTES)
def test_deep_and_huge_number_json_is_422_at_the_handler(call_function: Any, function: str,
                                                        path: str) -> None:
    for body in ("[" * 30_000 + "]" * 30_000, '{"query": "x", "limit": ' + "9" * 5_000 + "}"):
        response = post(call_function, function, path, body, "application/json")
        assert response["statusCode"] == 422, response
        assert set(body_of(response)) == {"error"}


def test_json_body_passes_the_checks_at_the_handler(call_function: Any, openai: Any) -> None:
    response = post(call_function, "session", "/api/voice-agent", '{"voice": "coral"}',
                    "Application/JSON; charset=utf-8")
    assert response["statusCode"] == 200, response
    assert len(openai.requests) == 1
