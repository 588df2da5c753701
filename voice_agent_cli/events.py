"""API Gateway HTTP API (payload 2.0) events, built the way API Gateway builds them.

The local runner turns each HTTP request into these events so that the very same
``lambda_handler`` functions run locally and on AWS.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT_ID = "000000000000"
API_ID = "local"
REGION = "us-east-1"


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an incoming request the events need."""

    method: str
    path: str
    query_string: str
    headers: Iterable[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    host: str = "localhost"


def _path_regex(template_path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)",
                     re.escape(template_path))
    return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class RouteMatcher:
    """Matches a request to the most specific route, as API Gateway does."""

    method: str
    path: str
    regex: re.Pattern[str]
    literal_segments: int

    @classmethod
    def of(cls, method: str, path: str) -> RouteMatcher:
        literal = sum(1 for seg in path.split("/") if seg and not seg.startswith("{"))
        return cls(method.upper(), path, _path_regex(path), literal)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method and self.method != "ANY":
            return None
        found = self.regex.match(path)
        return found.groupdict() if found else None


def _headers_and_cookies(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # API Gateway joins repeated headers with commas.
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers, cookies


def _query_parameters(raw: str) -> dict[str, str] | None:
    from urllib.parse import parse_qsl

    params: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params or None


def _request_context(request: HttpRequest, route_key: str) -> dict[str, Any]:
    now = time.time()
    headers, _ = _headers_and_cookies(request.headers)
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0],
        "http": {
            "method": request.method.upper(),
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }


def _text_or_base64(body: bytes, content_type: str) -> tuple[str | None, bool]:
    if not body:
        return None, False
    textual = (not content_type or content_type.startswith("text/")
               or "json" in content_type or "xml" in content_type
               or "x-www-form-urlencoded" in content_type)
    if textual:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def authorizer_event(request: HttpRequest, route_key: str,
                     path_parameters: Mapping[str, str]) -> dict[str, Any]:
    """A payload-2.0 REQUEST authorizer event (no identity sources configured)."""
    headers, cookies = _headers_and_cookies(request.headers)
    method, _, path = route_key.partition(" ")
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": (f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/$default/"
                     f"{method}{path}"),
        "identitySource": [],
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string,
        "headers": headers,
        "requestContext": _request_context(request, route_key),
    }
    if cookies:
        event["cookies"] = cookies
    if (params := _query_parameters(request.query_string)) is not None:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


def proxy_event(request: HttpRequest, route_key: str, path_parameters: Mapping[str, str],
                authorizer_context: Mapping[str, Any] | None) -> dict[str, Any]:
    """A payload-2.0 proxy integration event, with the authorizer's context when there is one."""
    headers, cookies = _headers_and_cookies(request.headers)
    body, is_base64 = _text_or_base64(request.body, headers.get("content-type", ""))
    context = _request_context(request, route_key)
    if authorizer_context is not None:
        context["authorizer"] = {"lambda": dict(authorizer_context)}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if (params := _query_parameters(request.query_string)) is not None:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None:
        event["body"] = body
    return event
