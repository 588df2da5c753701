"""The sample events in events/ are real payload-2.0 shapes and match template.yaml's routes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from voice_agent import catalogue
from voice_agent_cli.template import Route, load_sam_app

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPO_ROOT / "events"
AUTHORIZER_EVENTS = ("authorizer_missing_token.json", "authorizer_bad_token.json",
                     "authorizer_cookie.json")
SQS_EVENTS = ("memory_worker_sqs.json",)
REQUEST_CONTEXT_KEYS = {"accountId", "apiId", "domainName", "http", "requestId", "routeKey",
                        "stage", "time", "timeEpoch"}
HTTP_KEYS = {"method", "path", "protocol", "sourceIp", "userAgent"}


def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def _http_event_names() -> list[str]:
    names = sorted(p.name for p in EVENTS_DIR.glob("*.json"))
    return [n for n in names if n not in AUTHORIZER_EVENTS + SQS_EVENTS]


def _routes() -> dict[str, Route]:
    return {route.route_key: route for route in load_sam_app(REPO_ROOT / "template.yaml").routes}


def _path_regex(route_path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route_path))
    return re.compile(f"^{pattern}$")


def test_every_template_route_has_an_event() -> None:
    # Given the routes of the template and the HTTP events on disk
    covered = {_load(name)["routeKey"] for name in _http_event_names()}

    # Then each route can be invoked with at least one real event
    assert set(_routes()) - covered == set()


@pytest.mark.parametrize("name", _http_event_names())
def test_http_event_matches_a_template_route_and_payload_v2(name: str) -> None:
    event = _load(name)
    routes = _routes()

    assert event["version"] == "2.0"
    assert event["routeKey"] in routes, f"{name}: {event['routeKey']} is not a template route"
    route = routes[event["routeKey"]]
    context = event["requestContext"]
    assert REQUEST_CONTEXT_KEYS <= set(context)
    assert HTTP_KEYS <= set(context["http"])
    assert context["routeKey"] == event["routeKey"]
    assert context["stage"] == "$default"
    assert context["http"]["method"] == route.method
    assert context["http"]["path"] == event["rawPath"]
    assert isinstance(context["timeEpoch"], int)
    assert event["isBase64Encoded"] is False
    assert isinstance(event["rawQueryString"], str)
    # API Gateway lower-cases header names in payload 2.0.
    assert all(key == key.lower() for key in event["headers"])

    # The raw path fits the route, and pathParameters are exactly the route's placeholders.
    match = _path_regex(route.path).match(event["rawPath"])
    assert match, f"{name}: {event['rawPath']} does not fit {route.path}"
    assert event.get("pathParameters", {}) == match.groupdict()

    if "body" in event:
        assert isinstance(event["body"], str)
        json.loads(event["body"])
        assert event["headers"]["content-type"] == "application/json"
    if event.get("queryStringParameters"):
        pairs = dict(p.split("=", 1) for p in event["rawQueryString"].split("&"))
        assert pairs == event["queryStringParameters"]


@pytest.mark.parametrize("name", _http_event_names())
def test_http_event_carries_authorizer_context_exactly_when_route_is_protected(name: str) -> None:
    event = _load(name)
    route = _routes()[event["routeKey"]]
    authorizer = event["requestContext"].get("authorizer")

    if route.authorized:
        # What API Gateway passes on from a simple-response Lambda authorizer's context.
        assert authorizer == {"lambda": {"sub": "user-123"}}
        assert event["headers"]["authorization"].startswith("Bearer ")
    else:
        assert authorizer is None
        assert "authorization" not in event["headers"]


def test_voice_agent_event_asks_for_a_known_model_and_voice() -> None:
    body = json.loads(_load("voice_agent.json")["body"])

    assert body["model"] in catalogue.accepted_model_names()
    assert body["voice"] in catalogue.VOICES


def test_memory_add_events_cover_both_infer_modes() -> None:
    inferred = json.loads(_load("memory_add.json")["body"])
    verbatim = json.loads(_load("memory_add_verbatim.json")["body"])

    assert inferred["infer"] is True
    assert verbatim["infer"] is False
    for body in (inferred, verbatim):
        assert all({"role", "content"} <= set(m) for m in body["messages"])
        assert "userId" not in body and "user_id" not in body


@pytest.mark.parametrize("name", AUTHORIZER_EVENTS)
def test_authorizer_event_is_a_payload_v2_request_authorizer_event(name: str) -> None:
    event = _load(name)
    routes = _routes()

    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeKey"] in routes and routes[event["routeKey"]].authorized
    method, path = event["routeKey"].split(" ", 1)
    assert re.fullmatch(
        rf"arn:aws:execute-api:[a-z0-9-]+:\d{{12}}:\w+/\$default/{method}{re.escape(path)}",
        event["routeArn"],
    )
    # No identity sources are configured, so the gateway sends none.
    assert event["identitySource"] == []
    assert REQUEST_CONTEXT_KEYS <= set(event["requestContext"])
    assert "authorizer" not in event["requestContext"]
    assert all(key == key.lower() for key in event["headers"])


def test_authorizer_events_differ_only_in_credentials() -> None:
    missing = _load("authorizer_missing_token.json")
    bad = _load("authorizer_bad_token.json")
    cookie = _load("authorizer_cookie.json")

    assert "authorization" not in missing["headers"] and "cookies" not in missing
    assert bad["headers"]["authorization"].startswith("Bearer ") and "cookies" not in bad
    assert "authorization" not in cookie["headers"]
    assert any(c.startswith("access_token=") for c in cookie["cookies"])


def test_sqs_event_body_is_a_memory_job_message() -> None:
    from voice_agent.memory.models import JobMessage

    event = _load("memory_worker_sqs.json")

    (record,) = event["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].startswith("arn:aws:sqs:")
    assert {"messageId", "receiptHandle", "body", "attributes", "md5OfBody"} <= set(record)
    message = JobMessage.model_validate_json(record["body"])
    assert message.user_id == "user-123"
    assert set(json.loads(record["body"])) == {"job_id", "user_id", "messages", "metadata"}
