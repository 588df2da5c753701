"""Build the GA client-secrets request and shape its answer as the product's session object."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from voice_agent import catalogue
from voice_agent.session.models import SessionOptions, SessionRequest, SessionResponse
from voice_agent.session.openai_client import SessionMinter
from voice_agent.settings import Settings

INSTRUCTIONS_FILE = Path(__file__).with_name("instructions.md")
# GA format objects back to the product's audio-format vocabulary.
_FORMAT_NAMES = {fmt["type"]: name for name, fmt in catalogue.AUDIO_FORMATS.items()}


@cache
def base_instructions() -> str:
    """The assistant's instructions, kept in one editable file."""
    return INSTRUCTIONS_FILE.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class SessionConfig:
    """What a session is minted with, after defaults are applied."""

    model: str
    voice: str
    instructions: str
    transcription_model: str
    ttl_s: int
    tools: list[dict[str, Any]]


def resolve_config(request: SessionRequest, settings: Settings,
                   profile: str | None = None) -> SessionConfig:
    """Apply defaults to a validated request; ``profile`` is prefetched user context."""
    instructions = base_instructions()
    if profile:
        instructions += "\n\n# What you already know about the user\n" + profile
    return SessionConfig(
        model=request.model or catalogue.DEFAULT_MODEL,
        voice=request.voice or catalogue.DEFAULT_VOICE,
        instructions=instructions,
        transcription_model=settings.transcription_model,
        ttl_s=settings.session_ttl_s,
        tools=catalogue.tools_to_mint(),
    )


def build_client_secret_body(config: SessionConfig) -> dict[str, Any]:
    """The GA ``POST /v1/realtime/client_secrets`` body: only fields the GA API knows."""
    audio_format = catalogue.AUDIO_FORMATS[catalogue.DEFAULT_AUDIO_FORMAT]
    return {
        "expires_after": {"anchor": "created_at", "seconds": config.ttl_s},
        "session": {
            "type": "realtime",
            "model": config.model,
            "instructions": config.instructions,
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": dict(audio_format),
                    "transcription": {"model": config.transcription_model},
                    "turn_detection": {"type": "server_vad"},
                },
                "output": {"format": dict(audio_format), "voice": config.voice},
            },
            "tools": config.tools,
            "tool_choice": "auto",
        },
    }


def _object_at(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _format_name(fmt: Any, default: str) -> str:
    if isinstance(fmt, dict):
        return _FORMAT_NAMES.get(str(fmt.get("type")), default)
    return default


def shape_session_response(minted: dict[str, Any], config: SessionConfig,
                           settings: Settings) -> SessionResponse:
    """Turn the GA answer into the product's session object.

    Values come from OpenAI's answer where it has them and from what we asked for otherwise.
    """
    session = _object_at(minted, "session")
    audio = _object_at(session, "audio")
    audio_in = _object_at(audio, "input")
    audio_out = _object_at(audio, "output")
    expires_at = int(minted.get("expires_at") or time.time() + config.ttl_s)
    model = str(session.get("model") or config.model)
    transcription = audio_in.get("transcription") or {"model": config.transcription_model}
    turn_detection = audio_in.get("turn_detection", {"type": "server_vad"})
    base = settings.openai_base_url.rstrip("/")
    return SessionResponse(
        id=str(session.get("id") or minted.get("id") or ""),
        model=model,
        expires_at=expires_at,
        client_secret={"value": minted["value"], "expires_at": expires_at},
        modalities=list(session.get("output_modalities") or ["audio"]),
        instructions=str(session.get("instructions") or config.instructions),
        voice=str(audio_out.get("voice") or config.voice),
        input_audio_format=_format_name(audio_in.get("format"), catalogue.DEFAULT_AUDIO_FORMAT),
        output_audio_format=_format_name(audio_out.get("format"),
                                         catalogue.DEFAULT_AUDIO_FORMAT),
        input_audio_transcription=transcription,
        turn_detection=turn_detection,
        tools=session.get("tools") or config.tools,
        realtime={
            "websocket_url": f"{settings.realtime_websocket_base}?model={quote(model)}",
            "calls_url": f"{base}/realtime/calls",
        },
    )


def mint_session(request: SessionRequest, settings: Settings, minter: SessionMinter,
                 profile: str | None = None) -> SessionResponse:
    """Mint an ephemeral key for the caller's session and return the session object."""
    config = resolve_config(request, settings, profile)
    minted = minter.create_client_secret(build_client_secret_body(config))
    return shape_session_response(minted, config, settings)


def session_options() -> SessionOptions:
    """The model and voice pickers' content."""
    return SessionOptions(
        models=list(catalogue.REALTIME_MODELS),
        default_model=catalogue.DEFAULT_MODEL,
        voices=list(catalogue.VOICES),
        default_voice=catalogue.DEFAULT_VOICE,
    )
