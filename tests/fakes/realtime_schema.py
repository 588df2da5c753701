"""Client events checked against the ``openai`` SDK's GA realtime types, not our own reading.

The SDK's ``RealtimeClientEventParam`` union (``openai.types.realtime``) is generated from
OpenAI's published API schema. Each event is validated, by its ``type``, against the matching
TypedDict with unknown keys forbidden, so a beta field (``session.voice``), a misspelt key or a
wrong type anywhere in the event is a violation, as the real API answers it with an error.

A few rules are not shapes and stay here: a ``function_call_output`` must answer a call the
server made, audio must be base64, tool names must match OpenAI's name pattern, and images
must be ``data:`` URLs (the bridge never sends remote URLs).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any, get_args, get_type_hints

from openai.types.realtime import RealtimeClientEventParam
from pydantic import ConfigDict, TypeAdapter, ValidationError

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _event_type(param: type) -> str:
    (literal,) = get_args(get_type_hints(param)["type"])
    return str(literal)


# One adapter per client event type, built from the SDK's union; extra keys are forbidden
# everywhere in the event (the config reaches nested TypedDicts). pydantic takes a config only
# for a type that has none of its own, hence a one-element list around the TypedDict.
ADAPTERS: dict[str, TypeAdapter[Any]] = {
    _event_type(param): TypeAdapter(list[param], config=ConfigDict(extra="forbid"))
    for param in get_args(RealtimeClientEventParam)
}
CLIENT_EVENT_TYPES = frozenset(ADAPTERS)


def _drain(value: Any) -> None:
    """Consume every lazily validated ``Iterable`` field, so its items are validated too."""
    if isinstance(value, dict):
        for item in value.values():
            _drain(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _drain(item)
    elif isinstance(value, Iterator):
        for item in value:
            _drain(item)


def _member(error: Any) -> tuple[str, ...]:
    """The union members (TypedDict class names in the location) an error was found under."""
    return tuple(str(part) for part in error["loc"] if str(part)[:1].isupper())


def _describe(error: Any) -> str:
    path = ".".join(str(part) for part in error["loc"][1:] if not str(part)[:1].isupper())
    if error["type"] == "extra_forbidden":
        return f"Unknown parameter: '{path}'"
    return f"Invalid value for '{path}': {error['msg']}"


def shape_problems(event: dict[str, Any]) -> list[str]:
    """Differences between ``event`` and the SDK's type for its ``type`` (empty when none)."""
    adapter = ADAPTERS.get(str(event.get("type")))
    if adapter is None:
        return [f"unknown client event type {event.get('type')!r}"]
    try:
        _drain(adapter.validate_python([event]))
    except ValidationError as error:
        # Where a field is a union, pydantic reports every member's mismatch; the member with
        # the fewest is the one the client meant, and its errors are the ones worth reading.
        by_member: dict[tuple[str, ...], list[str]] = {}
        for detail in error.errors():
            by_member.setdefault(_member(detail), []).append(_describe(detail))
        return sorted(min(by_member.values(), key=len))
    return []


def rule_problems(event: dict[str, Any], known_calls: set[str]) -> list[str]:
    """The protocol rules that are not shapes (see the module docstring)."""
    problems: list[str] = []
    kind = event.get("type")
    if kind == "session.update":
        for tool in event.get("session", {}).get("tools", []) or []:
            if not TOOL_NAME.match(str(tool.get("name", ""))):
                problems.append(f"bad tool name {tool.get('name')!r}")
    elif kind == "conversation.item.create":
        item = event.get("item") or {}
        if item.get("type") == "function_call_output" and item.get("call_id") not in known_calls:
            problems.append(f"unknown call_id {item.get('call_id')!r}")
        for part in item.get("content", []) or []:
            if part.get("type") == "input_image" and not str(
                    part.get("image_url", "")).startswith("data:image/"):
                problems.append("input_image needs a data: URL")
    elif kind == "input_audio_buffer.append":
        try:
            base64.b64decode(event.get("audio", ""), validate=True)
        except (ValueError, TypeError):
            problems.append("audio is not base64")
    return problems


def validate_client_event(event: Any, known_calls: set[str]) -> list[str]:
    """Problems of one client event against the GA protocol (empty when valid)."""
    if not isinstance(event, dict):
        return ["event is not an object"]
    return shape_problems(event) or rule_problems(event, known_calls)
