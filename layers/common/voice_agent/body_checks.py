"""Checks on a request body before anything parses it: media type, size, encoding, JSON shape.

Every HTTP function runs them first (see :func:`voice_agent.api.lambda_entry`), on AWS and on
the dev server alike, so no body can make a handler do work or fail unexpectedly:

* a body that is not ``application/json`` is a 415: a plain HTML form (urlencoded or
  multipart) or a ``text/plain`` / untyped ``fetch`` from another site can never write;
* a body over :data:`MAX_BODY_BYTES` is a 413, bytes that are not UTF-8 a 422;
* JSON nested deeper than :data:`MAX_JSON_DEPTH` or with a number longer than
  :data:`MAX_NUMBER_DIGITS` digits is a 422 — found by a linear scan, before the parser
  (which would otherwise recurse until ``RecursionError``, or refuse a 5,000-digit integer
  with a ``ValueError``);
* ``NaN``/``Infinity`` (not JSON, though Python's parser takes them) and numbers out of
  range (``1e999999``) are a 422, as is a string with an unpaired surrogate escape
  (``"\\ud800"``): it parses, but no store can encode it.

A body that passes carries ``Content-Type: application/json`` exactly, since the resolver
compares the media type case-sensitively (``Application/JSON`` is the same type).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 64 * 1024  # largest legitimate body is a few memory messages
MAX_JSON_DEPTH = 32  # the deepest request model (messages → message → metadata) needs 4
MAX_NUMBER_DIGITS = 64  # the largest number in any request model is a small limit
JSON_MEDIA_TYPE = "application/json"

# JSON strings (escapes included); replaced by "" so the brackets and digits inside them do not
# count. Linear: no alternative can match the same text two ways.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_LONG_DIGITS = re.compile(rf"\d{{{MAX_NUMBER_DIGITS + 1},}}")


@dataclass(frozen=True)
class BodyRejection:
    """Why a body is refused: the status and the message of the ``{"error"}`` answer."""

    status: int
    message: str


def media_type(headers: dict[str, Any] | None) -> str:
    """The request's media type (``Content-Type`` without parameters, lower case), or ""."""
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            return str(value or "").split(";", 1)[0].strip().lower()
    return ""


def check_body(event: dict[str, Any]) -> BodyRejection | None:
    """Refuse the body of a payload-2.0 event before any parsing, or return None.

    A body the resolver can parse is left in ``event["body"]`` as text (a base64 body is
    decoded in place, as API Gateway does for textual bodies).
    """
    body = event.get("body")
    if not body:
        return None  # nothing to parse: routes with an optional body take none
    kind = media_type(event.get("headers"))
    if kind != JSON_MEDIA_TYPE:
        shown = kind or "none"
        return BodyRejection(415, f"request body must be {JSON_MEDIA_TYPE} (got {shown})")
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:  # cheap bound before decoding anything
        return BodyRejection(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    raw = body.encode("utf-8", "surrogatepass")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return BodyRejection(422, "body: invalid base64 encoding")
    if len(raw) > MAX_BODY_BYTES:
        return BodyRejection(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return BodyRejection(422, "body: invalid JSON (not UTF-8 text)")
    if event.get("isBase64Encoded"):
        event["body"], event["isBase64Encoded"] = text, False
    headers = event.setdefault("headers", {})
    for name in [name for name in headers if name.lower() == "content-type"]:
        del headers[name]
    headers["content-type"] = JSON_MEDIA_TYPE
    return check_json_shape(text)


class _NotJson(ValueError):
    """A value Python's parser takes that JSON does not have."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson("body: number out of range")
    return value


def _no_constant(name: str) -> None:
    raise _NotJson(f"body: invalid JSON ({name} is not JSON)")


def check_json_shape(text: str) -> BodyRejection | None:
    """Refuse JSON too deep, with too long a number, or with an unpaired surrogate.

    Text that is not JSON at all passes: the resolver answers it with its own 422.
    """
    outside_strings = _STRING.sub('""', text)
    depth = deepest = 0
    for match in _BRACKET.finditer(outside_strings):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                return BodyRejection(422, f"body: JSON nested deeper than {MAX_JSON_DEPTH}")
    if _LONG_DIGITS.search(outside_strings):
        return BodyRejection(422, f"body: number longer than {MAX_NUMBER_DIGITS} digits")
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except _NotJson as exc:
        return BodyRejection(422, str(exc))
    except ValueError:
        return None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return BodyRejection(422, "body: invalid JSON (unpaired surrogate in a string)")
    return None
