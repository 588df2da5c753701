"""Request and response models of the ``/api/memory`` routes and of the worker's job message.

Bodies ignore unknown fields: a ``userId`` (or anything else) in a body never changes whose
data is touched — the user id comes from the authorizer only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_MEMORY_CHARS",
    "MAX_METADATA_BYTES",
    "AddMemoryRequest",
    "AddMemoryResponse",
    "AddedMemory",
    "ExportResponse",
    "ExportedMemory",
    "MetadataFilters",
    "HistoryEntry",
    "HistoryResponse",
    "JobMessage",
    "JobResponse",
    "ListMemoriesResponse",
    "Memory",
    "Message",
    "QueuedResponse",
    "SearchMemoriesRequest",
    "SearchMemoriesResponse",
    "SearchResult",
    "EXPORT_FORMAT",
    "MAX_FILTERS",
    "MEMORY_SOURCES",
    "FilterValue",
    "check_filters",
    "parse_created_at",
]

MAX_MEMORY_CHARS = 2000  # one memory is a short fact; longer text is a document, not a memory
MAX_MESSAGE_CHARS = 8000  # a message may be a long turn that extraction condenses into facts
MAX_MESSAGES = 50
MAX_QUERY_CHARS = 1000
MAX_METADATA_BYTES = 2048  # keeps every item small (DynamoDB reads are billed per 4 KB)
MAX_FILTERS = 10
MAX_FILTER_KEY_CHARS = 100
# A client clock slightly ahead of ours is not a date "in the future".
CLOCK_SKEW = timedelta(seconds=60)
# Who wrote a memory, as the clients record it in ``metadata.source`` (the panel shows it):
# the assistant through the add_memories tool, an import of exported or past data, or the user.
MEMORY_SOURCES = ("assistant", "import", "user")
EXPORT_FORMAT: Final = "voice-agent.memory-export.v1"

MemoryId = Annotated[str, Field(description="Memory id, unique within the user.")]
Timestamp = Annotated[
    str, Field(description="ISO 8601 UTC time, e.g. 2026-01-01T12:00:00.000000Z.")
]
Event = Literal["ADD", "UPDATE", "DELETE"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def parse_created_at(value: str, now: datetime | None = None) -> str:
    """An ISO 8601 time with a UTC offset, not in the future, as the stores write times.

    Args:
        value: E.g. ``2024-03-01T18:00:00+01:00`` or ``2024-03-01T17:00:00Z``.
        now: The reference time (default: the current time).

    Returns:
        The same instant in UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sorts lexically in time order).

    Raises:
        ValueError: Not ISO 8601, no offset, or later than now (plus a minute of clock skew).
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (ValueError, TypeError) as error:
        raise ValueError("must be an ISO 8601 date and time, e.g. "
                         "2024-03-01T18:00:00+01:00") from error
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("must include a UTC offset (e.g. +01:00 or Z)")
    instant = parsed.astimezone(UTC)
    if instant > (now or datetime.now(UTC)) + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


FilterValue = str | int | float | bool | None


def check_filters(value: dict[str, FilterValue] | None) -> dict[str, FilterValue] | None:
    """Bounds a metadata filter: at most `MAX_FILTERS` keys of 1 to 100 characters."""
    if value is None:
        return None
    if len(value) > MAX_FILTERS:
        raise ValueError(f"at most {MAX_FILTERS} keys")
    for key in value:
        if not key or len(key) > MAX_FILTER_KEY_CHARS:
            raise ValueError(f"keys must be 1 to {MAX_FILTER_KEY_CHARS} characters")
    return value


MetadataFilters = Annotated[
    dict[str, FilterValue] | None,
    Field(description="Only memories whose metadata has every one of these keys with exactly "
                      "this value (strings, numbers, booleans or null; at most "
                      f"{MAX_FILTERS} keys), e.g. {{\"source\": \"user\"}}. Applied before "
                      "ranking."),
]


class Message(_Body):
    """One conversation turn."""

    role: Annotated[
        Literal["user", "assistant", "system"],
        Field(description="Who spoke; facts are extracted from what the user said."),
    ] = "user"
    content: Annotated[
        str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="What was said.")
    ]

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SearchMemoriesRequest(_Body):
    """Body of ``POST /api/memory/search``."""

    query: Annotated[
        str,
        Field(min_length=1, max_length=MAX_QUERY_CHARS,
              description="What to look for, in natural language "
                          "(e.g. 'where does the user work')."),
    ]
    limit: Annotated[
        int, Field(ge=1, le=50, strict=True, description="Maximum number of results (1–50).")
    ] = 5
    filters: MetadataFilters = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("filters")
    @classmethod
    def _few_filters(cls, value: dict[str, FilterValue] | None) -> dict[str, FilterValue] | None:
        return check_filters(value)


class AddMemoryRequest(_Body):
    """Body of ``POST /api/memory``."""

    messages: Annotated[
        list[Message] | Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)],
        Field(description="The conversation to remember: a list of {role, content} turns, or one "
                          "string (taken as a user turn)."),
    ]
    metadata: Annotated[
        dict[str, Any] | None,
        Field(description="Any JSON object, stored with each memory and returned exactly as "
                          f"given (at most {MAX_METADATA_BYTES} bytes as JSON)."),
    ] = None
    infer: Annotated[
        bool,
        Field(strict=True, description="true (default): extract facts asynchronously and answer "
                                       "202 with a job id; false: store each message verbatim "
                                       "now and answer 201."),
    ] = True
    created_at: Annotated[
        str | None,
        Field(description="When this was said or learnt: ISO 8601 with a UTC offset, not in "
                          "the future (e.g. 2024-03-01T18:00:00+01:00). Dates what is stored "
                          "(for infer=true, the extracted facts), for importing past "
                          "conversations or an export; default now."),
    ] = None

    @field_validator("created_at")
    @classmethod
    def _past_time(cls, value: str | None) -> str | None:
        return None if value is None else parse_created_at(value)

    @field_validator("messages")
    @classmethod
    def _some_messages(cls, value: list[Message] | str) -> list[Message] | str:
        if isinstance(value, list) and not 1 <= len(value) <= MAX_MESSAGES:
            raise ValueError(f"must hold 1 to {MAX_MESSAGES} messages")
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
            if size > MAX_METADATA_BYTES:
                raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
        return value

    def turns(self) -> list[Message]:
        """The messages as a list (a plain string is one user turn)."""
        if isinstance(self.messages, str):
            return [Message(role="user", content=self.messages)]
        return list(self.messages)


class Memory(BaseModel):
    """A stored memory."""

    id: MemoryId
    memory: Annotated[str, Field(description="The remembered fact.")]
    metadata: Annotated[
        dict[str, Any] | None, Field(description="Metadata exactly as given when added.")
    ] = None
    created_at: Timestamp
    updated_at: Timestamp


class SearchResult(Memory):
    """A memory found by a search."""

    score: Annotated[
        float, Field(ge=0, le=1, description="Relevance, 0..1 (semantic + lexical), best first.")
    ]


class SearchMemoriesResponse(BaseModel):
    """Answer of ``POST /api/memory/search``."""

    results: list[SearchResult]


class ListMemoriesResponse(BaseModel):
    """Answer of ``GET /api/memory``."""

    results: list[Memory]
    next_cursor: Annotated[
        str | None, Field(description="Pass as ?cursor= for the next page; null on the last page.")
    ] = None


class AddedMemory(BaseModel):
    """A change made by an add."""

    id: MemoryId
    memory: Annotated[str, Field(description="The memory text after the change.")]
    event: Annotated[
        Literal["ADD", "UPDATE", "DELETE", "NONE"],
        Field(description="ADD new, UPDATE merged into an existing memory, DELETE removed a "
                          "contradicted one, NONE already known (nothing stored)."),
    ]


class AddMemoryResponse(BaseModel):
    """Answer of ``POST /api/memory`` with ``infer=false`` (201)."""

    results: list[AddedMemory]


class QueuedResponse(BaseModel):
    """Answer of ``POST /api/memory`` with ``infer=true`` (202)."""

    status: Literal["queued"] = "queued"
    job_id: Annotated[str, Field(description="Poll GET /api/memory/jobs/{job_id}.")]


class HistoryEntry(BaseModel):
    """One change of a memory."""

    memory: Annotated[str, Field(description="Text after the change (DELETE: the removed text).")]
    event: Event
    at: Timestamp
    previous_memory: Annotated[
        str | None, Field(description="Text before an UPDATE or DELETE.")
    ] = None


class HistoryResponse(BaseModel):
    """Answer of ``GET /api/memory/{id}/history``, oldest first."""

    results: list[HistoryEntry]


class ExportedMemory(Memory):
    """A memory as exported; ``POST /api/memory`` takes it back.

    Re-import: ``{"messages": memory, "metadata": metadata, "created_at": created_at,
    "infer": false}``. The import gets a new id and starts its history with one ADD.
    """

    history: Annotated[
        list[HistoryEntry], Field(description="Every change of the memory, oldest first.")
    ]


class ExportResponse(BaseModel):
    """Answer of ``GET /api/memory/export``: one page of the caller's memories."""

    format: Annotated[
        Literal["voice-agent.memory-export.v1"],
        Field(description="Names this shape, so an importer knows what it reads."),
    ] = EXPORT_FORMAT
    total: Annotated[int, Field(ge=0, description="How many memories the caller has in all.")]
    memories: list[ExportedMemory]
    next_cursor: Annotated[
        str | None, Field(description="Pass as ?cursor= for the next page; null on the last page.")
    ] = None


class JobResponse(BaseModel):
    """Answer of ``GET /api/memory/jobs/{job_id}``."""

    status: Literal["queued", "done", "failed"]
    results: list[AddedMemory] = Field(default_factory=list)
    error: Annotated[
        str | None, Field(description="Why the job failed (it may be retried).")
    ] = None


class JobMessage(_Body):
    """The SQS message the memory function sends to the worker.

    ``user_id`` was taken from the verified JWT by the memory function; the worker trusts only
    this field for whose memories it changes.
    """

    job_id: Annotated[str, Field(min_length=1)]
    user_id: Annotated[str, Field(min_length=1)]
    messages: list[Message]
    metadata: dict[str, Any] | None = None
    created_at: Annotated[
        str | None, Field(description="Dates the facts (UTC, as validated by the add route).")
    ] = None
    queued_at: Annotated[
        str | None,
        Field(description="When the memory function queued the job (it wrote the job record "
                          "first: a record gone since means the user forgot everything)."),
    ] = None
