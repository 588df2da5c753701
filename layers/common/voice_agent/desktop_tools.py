"""Windows-MCP's desktop tools as the realtime model sees them, from one recorded source.

``windows_mcp_tools.json`` (next to this module) is the ``list_tools`` answer of Windows-MCP
0.8.8: names, descriptions, input schemas and annotations exactly as the server reports them.
The catalogue's desktop part (minted into a session before the bridge connects, and used by the
web client without a bridge), the bridge's view of a live server and the tests' fake server all
come from it, so a change of the server shows up as one changed file and a failing drift test.

The server's schemas carry workarounds for other clients: every list, number and flag also
accepts a JSON string (``{"anyOf": [{"type": "array"}, {"type": "string"}, {"type": "null"}]}``)
because some clients strip ``anyOf`` and send lists as text. :func:`function_tool` folds those
alternatives into the one real type so the model is asked for plain values.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any, Final

RECORDING: Final = "windows_mcp_tools.json"
DESCRIPTION_MAX_CHARS: Final = 1024  # longer function descriptions are cut, at a sentence


@cache
def _recording() -> dict[str, Any]:
    text = resources.files("voice_agent").joinpath(RECORDING).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def recorded_version() -> str:
    """The Windows-MCP release the recording was taken from (``"0.8.8"``)."""
    return str(_recording()["version"])


def recorded_tools() -> list[dict[str, Any]]:
    """The recorded MCP tools (``name``, ``title``, ``description``, ``inputSchema``,
    ``annotations``), fresh copies in the server's order."""
    return copy.deepcopy(_recording()["tools"])


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """One property's schema without the string/null alternatives other clients need."""
    alternatives = schema.get("anyOf")
    if not alternatives:
        return dict(schema)
    real = [alt for alt in alternatives if alt.get("type") != "null"]
    if len(real) > 1:
        # A string beside a list, number or flag is the "send it as JSON text" workaround.
        real = [alt for alt in real if alt.get("type") != "string"] or real
    if {alt.get("type") for alt in real} == {"number", "integer"}:
        real = [{"type": "number"}]
    out = {k: v for k, v in schema.items() if k != "anyOf"}
    if len(real) == 1:
        out.update(real[0])
    else:
        out["anyOf"] = real
    if out.get("default", 0) is None:
        del out["default"]
    return out


def model_parameters(input_schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema a realtime function tool gets for an MCP ``inputSchema``."""
    properties = {name: _plain(prop)
                  for name, prop in (input_schema.get("properties") or {}).items()}
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if input_schema.get("required"):
        parameters["required"] = list(input_schema["required"])
    if "additionalProperties" in input_schema:
        parameters["additionalProperties"] = input_schema["additionalProperties"]
    return parameters


def short_description(text: str, limit: int = DESCRIPTION_MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters at the last full sentence that fits."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = head.rfind(". ")
    return head[: end + 1] if end > 0 else head


def function_tool(name: str, description: str | None,
                  input_schema: dict[str, Any] | None) -> dict[str, Any]:
    """A GA realtime function tool (flat, no ``strict``) for one MCP tool."""
    return {"type": "function", "name": name,
            "description": short_description(description or name),
            "parameters": model_parameters(input_schema or {})}


def session_desktop_tools() -> tuple[dict[str, Any], ...]:
    """Every recorded tool as a realtime function tool, in the server's order."""
    return tuple(function_tool(t["name"], t.get("description"), t.get("inputSchema"))
                 for t in recorded_tools())


def tool_annotations() -> dict[str, dict[str, Any]]:
    """Tool name → the MCP annotations the server declares (``readOnlyHint`` …)."""
    return {t["name"]: dict(t.get("annotations") or {}) for t in recorded_tools()}
