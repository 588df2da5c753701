"""GA realtime client events: builders for what the bridge sends.

Only GA shapes are built here (``session.type: "realtime"``, ``audio.input/output``,
``output_modalities``); beta-era fields are refused by the GA API, so no builder can emit them.
What the server sends back is parsed in :mod:`bridge.events`.
"""

from __future__ import annotations

import base64
from typing import Any

# Client event types the bridge may send (a subset of the GA client events).
CLIENT_EVENT_TYPES = frozenset({
    "session.update", "conversation.item.create", "conversation.item.truncate",
    "response.create", "response.cancel", "input_audio_buffer.append",
    "input_audio_buffer.commit", "input_audio_buffer.clear",
})


def session_update(*, tools: list[dict[str, Any]], text_only: bool,
                   instructions: str | None = None, voice: str | None = None,
                   transcription_model: str = "whisper-1") -> dict[str, Any]:
    """``session.update`` carrying the whole tool list (it replaces the session's list).

    Args:
        tools: GA function tools (flat shape).
        text_only: answer in text (``--text``) instead of audio.
        instructions: replace the session's instructions (rollover keeps the minted ones).
        voice: the output voice (audio mode).
        transcription_model: input transcription model, so the user's words are known (for
            confirmations and carry-over).
    """
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["text"] if text_only else ["audio"],
        "tools": tools,
        "tool_choice": "auto",
    }
    if instructions:
        session["instructions"] = instructions
    if not text_only:
        output: dict[str, Any] = {"format": {"type": "audio/pcm", "rate": 24000}}
        if voice:
            output["voice"] = voice
        session["audio"] = {
            "input": {"format": {"type": "audio/pcm", "rate": 24000},
                      "transcription": {"model": transcription_model},
                      "turn_detection": {"type": "server_vad"}},
            "output": output,
        }
    return {"type": "session.update", "session": session}


def user_text(text: str) -> dict[str, Any]:
    """A typed user message."""
    return item_create(message("user", text))


def message(role: str, text: str) -> dict[str, Any]:
    """A conversation message item (user/system: ``input_text``; assistant: ``output_text``)."""
    part_type = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": part_type, "text": text}]}


def item_create(item: dict[str, Any]) -> dict[str, Any]:
    """``conversation.item.create`` for one item."""
    return {"type": "conversation.item.create", "item": item}


def function_output(call_id: str, output: str) -> dict[str, Any]:
    """The one answer to a function call; ``output`` is always a string."""
    return item_create({"type": "function_call_output", "call_id": call_id,
                        "output": str(output)})


def user_image(mime_type: str, data_b64: str, note: str) -> dict[str, Any]:
    """A user message carrying a screenshot so the model can look at it."""
    return item_create({"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": note},
        {"type": "input_image", "image_url": f"data:{mime_type};base64,{data_b64}"},
    ]})


def response_create(*, instructions: str | None = None, out_of_band: bool = False,
                    metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """``response.create``; out-of-band responses are not added to the conversation.

    ``metadata`` comes back on the response (``response.created``/``done``), so the bridge can
    tell its own replies from the server's.
    """
    event: dict[str, Any] = {"type": "response.create"}
    response: dict[str, Any] = {}
    if instructions:
        response["instructions"] = instructions
    if metadata:
        response["metadata"] = metadata
    if out_of_band:
        response["conversation"] = "none"
        response["tool_choice"] = "none"
    if response:
        event["response"] = response
    return event


def audio_append(pcm16: bytes) -> dict[str, Any]:
    """Microphone audio (PCM16, 24 kHz, mono) for the input buffer."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm16).decode()}


def truncate(item_id: str, audio_end_ms: int) -> dict[str, Any]:
    """Tell the server how much of an assistant audio item the user actually heard."""
    return {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
            "audio_end_ms": max(0, int(audio_end_ms))}
