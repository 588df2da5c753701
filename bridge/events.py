"""GA realtime server events: typed views of what the bridge receives.

Server events are parsed once, by :func:`parse_server_event`, into the pydantic models below (one
per event type the bridge acts on). The models ignore fields they do not name and treat ``null``
as absent, and an event type without a model parses to None, so a newer server's additions
never break the bridge. What the bridge sends is built in :mod:`bridge.client_events`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator


@dataclass(frozen=True)
class FunctionCall:
    """A function call the model made."""

    call_id: str
    name: str
    arguments: str
    response_id: str

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict.

        Raises:
            ValueError: not JSON, or not a JSON object.
        """
        if not self.arguments.strip():
            return {}
        try:
            value = json.loads(self.arguments)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the arguments are not valid JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise ValueError("the arguments must be a JSON object")
        return value


class _Model(BaseModel):
    """Tolerant base: unknown fields are ignored and ``null`` means "not given"."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class ErrorDetail(_Model):
    """The ``error`` object of an ``error`` event or of a failed response."""

    message: str | None = None
    type: str | None = None
    code: str | None = None
    event_id: str | None = None  # the client event it refers to, when there is one

    def describe(self) -> str:
        """The message, or the whole object when the server sent none."""
        return self.message if self.message is not None else str(self.model_dump())


class StatusDetails(_Model):
    """Why a response ended as it did."""

    error: ErrorDetail | None = None


class ResponseInfo(_Model):
    """The ``response`` object of ``response.created``/``response.done`` (the parts used)."""

    id: str = ""
    status: str | None = None
    metadata: dict[str, Any] | None = None
    status_details: StatusDetails | None = None

    def meta(self, key: str) -> str | None:
        """A metadata value the bridge set on its ``response.create``, or None."""
        value = (self.metadata or {}).get(key)
        return value if isinstance(value, str) else None


class OutputItem(_Model):
    """An item of a response's output; only function calls matter to the bridge."""

    type: str = ""
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None


class SessionCreated(_Model):
    """``session.created``."""

    TYPE: ClassVar[str] = "session.created"


class ServerError(_Model):
    """``error``: the server refused an event or failed."""

    TYPE: ClassVar[str] = "error"
    error: ErrorDetail = ErrorDetail()


class ResponseCreated(_Model):
    """``response.created``."""

    TYPE: ClassVar[str] = "response.created"
    response: ResponseInfo = ResponseInfo()


class ResponseDone(_Model):
    """``response.done``."""

    TYPE: ClassVar[str] = "response.done"
    response: ResponseInfo = ResponseInfo()


class OutputTextDone(_Model):
    """``response.output_text.done``: a complete text reply."""

    TYPE: ClassVar[str] = "response.output_text.done"
    text: str = ""


class AudioTranscriptDone(_Model):
    """``response.output_audio_transcript.done``: the words of a spoken reply."""

    TYPE: ClassVar[str] = "response.output_audio_transcript.done"
    transcript: str = ""


class AudioDelta(_Model):
    """``response.output_audio.delta``: base64 PCM16 of the reply being spoken."""

    TYPE: ClassVar[str] = "response.output_audio.delta"
    item_id: str = ""
    delta: str = ""

    def pcm(self) -> bytes:
        """The decoded audio (empty when the payload is not valid base64)."""
        try:
            return base64.b64decode(self.delta)
        except ValueError:
            return b""


class SpeechStarted(_Model):
    """``input_audio_buffer.speech_started``: the user began to speak (barge-in)."""

    TYPE: ClassVar[str] = "input_audio_buffer.speech_started"
    item_id: str = ""


class SpeechStopped(_Model):
    """``input_audio_buffer.speech_stopped``."""

    TYPE: ClassVar[str] = "input_audio_buffer.speech_stopped"
    item_id: str = ""


class TranscriptionCompleted(_Model):
    """``conversation.item.input_audio_transcription.completed``: what the user said."""

    TYPE: ClassVar[str] = "conversation.item.input_audio_transcription.completed"
    item_id: str = ""
    transcript: str = ""


class OutputItemDone(_Model):
    """``response.output_item.done``; carries a complete call when the item is one."""

    TYPE: ClassVar[str] = "response.output_item.done"
    response_id: str = ""
    item: OutputItem = OutputItem()

    def function_call(self) -> FunctionCall | None:
        """The call, or None for other item types or an incomplete call."""
        if self.item.type != "function_call":
            return None
        return _call(self.item.call_id, self.item.name, self.item.arguments, self.response_id)


class FunctionCallArgumentsDone(_Model):
    """``response.function_call_arguments.done`` (the name may only come with the item)."""

    TYPE: ClassVar[str] = "response.function_call_arguments.done"
    response_id: str = ""
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None

    def function_call(self) -> FunctionCall | None:
        """The call, or None while its name is not known."""
        return _call(self.call_id, self.name, self.arguments, self.response_id)


def _call(call_id: str | None, name: str | None, arguments: str | None,
          response_id: str) -> FunctionCall | None:
    if not call_id or not name:
        return None
    return FunctionCall(call_id=call_id, name=name, arguments=arguments or "",
                        response_id=response_id)


ServerEvent = (SessionCreated | ServerError | ResponseCreated | ResponseDone | OutputTextDone
               | AudioTranscriptDone | AudioDelta | SpeechStarted | SpeechStopped
               | TranscriptionCompleted | OutputItemDone | FunctionCallArgumentsDone)

# Keyed by each model's TYPE: the union above is the one list of the events the bridge parses.
SERVER_EVENT_MODELS: dict[str, type[ServerEvent]] = {
    model.TYPE: model for model in get_args(ServerEvent)}


def parse_server_event(raw: dict[str, Any]) -> ServerEvent | None:
    """The typed event, or None for a type the bridge does not act on or a malformed one.

    A malformed event of a known type is dropped rather than raised: one bad frame must not
    end the conversation.
    """
    model = SERVER_EVENT_MODELS.get(str(raw.get("type", "")))
    if model is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def function_call_from(event: dict[str, Any]) -> FunctionCall | None:
    """The complete call in a raw ``response.output_item.done`` or
    ``response.function_call_arguments.done`` event, or None (another item, no name yet)."""
    parsed = parse_server_event(event)
    if isinstance(parsed, OutputItemDone | FunctionCallArgumentsDone):
        return parsed.function_call()
    return None
