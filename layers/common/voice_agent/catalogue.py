"""The one home of every list the product exposes: models, voices, tools.

The session function, the OpenAPI document, the bridge, the web client's pickers and the
template checks all read from here, so a model or a tool is added in exactly one place.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

import pydantic_core

from voice_agent import desktop_tools

# --- Realtime models and voices -------------------------------------------------------------

REALTIME_MODELS: Final[tuple[str, ...]] = (
    "gpt-realtime",
    "gpt-realtime-mini",
    "gpt-realtime-1.5",
    "gpt-realtime-2",
    "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini",
)
DEFAULT_MODEL: Final = "gpt-realtime-mini"
# Names documented by the original product that map onto a current model.
MODEL_ALIASES: Final[dict[str, str]] = {"gpt-4-realtime": "gpt-realtime"}

VOICES: Final[tuple[str, ...]] = (
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
)
DEFAULT_VOICE: Final = "ash"

TRANSCRIPTION_MODELS: Final[tuple[str, ...]] = (
    "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-transcribe",
)
DEFAULT_TRANSCRIPTION_MODEL: Final = "whisper-1"

# Audio formats: the product's (beta-era) vocabulary and the GA format object it stands for.
AUDIO_FORMATS: Final[dict[str, dict[str, Any]]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
DEFAULT_AUDIO_FORMAT: Final = "pcm16"


def resolve_model(name: str) -> str:
    """Return the canonical model for ``name`` (aliases resolved); ValueError if unknown."""
    canonical = MODEL_ALIASES.get(name, name)
    if canonical not in REALTIME_MODELS:
        raise ValueError(name)
    return canonical


def accepted_model_names() -> tuple[str, ...]:
    """Every model name a client may send: the models and their aliases."""
    return REALTIME_MODELS + tuple(MODEL_ALIASES)


# --- Embedding models (memory) --------------------------------------------------------------

EMBEDDER_KINDS: Final[tuple[str, ...]] = ("local", "bedrock", "hashing")
DEFAULT_TITAN_MODEL_ID: Final = "amazon.titan-embed-text-v2:0"
TITAN_DIMENSIONS: Final[tuple[int, ...]] = (256, 512, 1024)
# 512, not Titan's own default of 1024: Amazon measures 99 % of the 1024-dim retrieval accuracy
# at 512, and an int8 vector then takes 516 B instead of 1028 B (the budget is 1 KB per
# memory), which also halves the reads of a cold load and the ranking work.
DEFAULT_TITAN_DIMENSIONS: Final = 512


# --- Tools ----------------------------------------------------------------------------------
# GA function tools are flat: {"type": "function", "name", "description", "parameters"}.

def _tool(name: str, description: str, properties: dict[str, Any] | None = None,
          required: tuple[str, ...] = ()) -> dict[str, Any]:
    parameters: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        parameters["required"] = list(required)
    return {"type": "function", "name": name, "description": description,
            "parameters": parameters}


# ``metadata.source`` the clients give what the add_memories tool stores: memories the model
# wrote stay recognisable (and deletable) in the memory panel.
ASSISTANT_MEMORY_SOURCE: Final = "assistant"

# Executed through our HTTP API (bridge or web client, with the user's JWT).
API_TOOLS: Final[tuple[dict[str, Any], ...]] = (
    _tool(
        "search_memories",
        "Search the user's long-term memories. Call it at the start of every conversation "
        "(e.g. query 'user name, job, preferences, routines') and whenever the user refers to "
        "something personal or past.",
        {"query": {"type": "string",
                   "description": "What to look for. Name a date when the user asks about one "
                                  "('3 March 2024', 'July 2024', 'yesterday'): memories from "
                                  "that day rank first."},
         "limit": {"type": "integer", "minimum": 1, "maximum": 50,
                   "description": "How many memories to return (default 5)."},
         "filters": {"type": "object",
                     "additionalProperties": {"type": ["string", "number", "boolean"]},
                     "description": "Optional: only memories whose metadata has all these "
                                    "values, e.g. {\"source\": \"user\"} for what the user "
                                    "said themselves or {\"category\": \"work\"}."}},
        ("query",),
    ),
    _tool(
        "add_memories",
        "Store personal facts about the user: name, job, preferences, projects, people, "
        "routines. Pass what the user said; facts are extracted in the background, so this "
        "returns at once. What you store is marked as added by the assistant, and the user "
        "can review and delete it.",
        {"messages": {"type": "string",
                      "description": "The user's words (or a short fact) to remember."}},
        ("messages",),
    ),
    _tool("get_all_memories", "List everything remembered about the user."),
    _tool(
        "web_search",
        "Search the web for current information (news, weather, facts you are unsure of). "
        "Returns a short answer and a few sources to read out briefly.",
        {"query": {"type": "string", "description": "The search query."}},
        ("query",),
    ),
)

# Handled by the client itself (the original product's DEFAULT_VOICE_TOOLS).
VOICE_TOOLS: Final[tuple[dict[str, Any], ...]] = (
    _tool(
        "changeBrowserTheme",
        "Switch the client's colour theme.",
        {"theme": {"type": "string", "enum": ["light", "dark"]}},
        ("theme",),
    ),
    _tool("endConversation", "End the conversation when the user says goodbye or asks to stop."),
    _tool(
        "executeAppAction",
        "Run an action of the client application (for example open the memory panel).",
        {"intent": {"type": "string", "description": "The action to run."},
         "params": {"type": "object", "description": "Arguments of the action."}},
        ("intent",),
    ),
)

# Windows-MCP tools under their current names, as minted into the session: derived from the
# recorded list_tools answer of Windows-MCP 0.8.8 (voice_agent/windows_mcp_tools.json). The
# bridge replaces them with exactly what the running server offers.
DESKTOP_TOOLS: Final[tuple[dict[str, Any], ...]] = desktop_tools.session_desktop_tools()

TOOL_EXECUTORS: Final[dict[str, str]] = {
    **{tool["name"]: "api" for tool in API_TOOLS},
    **{tool["name"]: "client" for tool in VOICE_TOOLS},
    **{tool["name"]: "desktop" for tool in DESKTOP_TOOLS},
}


@functools.cache
def _tools_to_mint_json() -> str:
    return json.dumps([*API_TOOLS, *DESKTOP_TOOLS, *VOICE_TOOLS])


def tools_to_mint() -> list[dict[str, Any]]:
    """The whole catalogue a realtime session is minted with (fresh copies).

    Parsed from one cached JSON text: a fresh copy the caller may change, at a tenth of the
    cost of ``copy.deepcopy`` (which took about 1 ms of every mint); pydantic's Rust parser
    takes 61 µs where ``json.loads`` takes 85.
    """
    tools: list[dict[str, Any]] = pydantic_core.from_json(_tools_to_mint_json())
    return tools
