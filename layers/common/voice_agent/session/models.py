"""Request and response models of the session routes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from voice_agent import catalogue


class SessionRequest(BaseModel):
    """Body of ``POST /api/voice-agent``. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: Annotated[str | None, Field(
        description="Realtime model; one of the allowed models or an alias.",
        examples=[catalogue.DEFAULT_MODEL],
    )] = None
    voice: Annotated[str | None, Field(
        description="Output voice.", examples=[catalogue.DEFAULT_VOICE],
    )] = None

    @field_validator("model")
    @classmethod
    def _allowed_model(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return catalogue.resolve_model(value)
        except ValueError:
            allowed = ", ".join(catalogue.accepted_model_names())
            raise ValueError(f"must be one of: {allowed}") from None

    @field_validator("voice")
    @classmethod
    def _allowed_voice(cls, value: str | None) -> str | None:
        if value is not None and value not in catalogue.VOICES:
            raise ValueError(f"must be one of: {', '.join(catalogue.VOICES)}")
        return value


class ClientSecret(BaseModel):
    value: Annotated[str, Field(description="The ephemeral key (ek_…) used to connect.")]
    expires_at: Annotated[int, Field(description="Unix time after which the key cannot connect.")]


class RealtimeEndpoints(BaseModel):
    websocket_url: Annotated[str, Field(description="WebSocket URL (bearer: the ephemeral key).")]
    calls_url: Annotated[str, Field(description="WebRTC SDP exchange URL.")]


class SessionResponse(BaseModel):
    """The session object documented by the product (filled from the GA endpoint)."""

    id: str
    model: str
    expires_at: int
    client_secret: ClientSecret
    modalities: list[str]
    instructions: str
    voice: str
    input_audio_format: str
    output_audio_format: str
    input_audio_transcription: dict[str, Any]
    turn_detection: dict[str, Any] | None
    tools: list[dict[str, Any]]
    realtime: RealtimeEndpoints


class SessionOptions(BaseModel):
    """The allowed models and voices, from the catalogue."""

    models: list[str]
    default_model: str
    voices: list[str]
    default_voice: str
