"""The `MemoryStore` port and the records it stores, shared by the DynamoDB and SQLite adapters.

Everything of a user lives under that user's id and every method takes the user id first:
an adapter never reads or writes across users, which is the isolation boundary of the feature.

Writes go through `MemoryStore.apply`, one `Change` at a time. Each change is atomic: the
memory, its history entry, the per-user version counter (which invalidates warm search caches),
a change-log entry naming the version and the memory changed (so a warm cache can catch up by
reading only the changed memories, `MemoryStore.changes_since`) and, for the worker, an
idempotency marker are written together or not at all. Texts are
unique per user after normalisation (`normalise_text`): adding a text the user already has
raises `DuplicateMemory` instead of storing it twice, even when two adds race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from voice_agent.memory.plan import JobRecord
from voice_agent.memory.store_values import (
    decode_cursor,
    encode_cursor,
    normalise_text,
    now_iso,
    text_hash,
)

__all__ = [
    "AddMemory",
    "AlreadyApplied",
    "Change",
    "DuplicateMemory",
    "HistoryRecord",
    "JobRecord",
    "LoggedChange",
    "MemoryLimitReached",
    "MemoryRecord",
    "MemoryStore",
    "RemoveMemory",
    "StaleMemory",
    "StoreUnavailable",
    "UpdateMemory",
    "VectorUpdate",
    "decode_cursor",
    "encode_cursor",
    "normalise_text",
    "now_iso",
    "read_job",
    "text_hash",
]

Event = Literal["ADD", "UPDATE", "DELETE"]

JOB_TTL_S = 7 * 24 * 3600  # job records and idempotency markers expire after a week


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One stored memory.

    Attributes:
        id: Memory id (unique within the user).
        text: The memory text, as stored.
        metadata: The caller's metadata, returned exactly as given (None if none).
        created_at: ISO 8601 UTC.
        updated_at: ISO 8601 UTC.
        vector: Embedding encoded by `voice_agent.memory.vectors.encode_vector`.
        embedder_id: Id of the embedder that produced ``vector``.
        dims: Vector dimension.
        hash: `text_hash` of ``text``.
        revision: Starts at 1, +1 per update (optimistic concurrency).
    """

    id: str
    text: str
    metadata: dict[str, Any] | None
    created_at: str
    updated_at: str
    vector: bytes
    embedder_id: str
    dims: int
    hash: str
    revision: int = 1


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One change of a memory.

    Attributes:
        memory_id: The memory changed.
        memory: Its text after the change (for DELETE: the text that was removed).
        event: ADD, UPDATE or DELETE.
        at: ISO 8601 UTC time of the change.
        previous_memory: Text before an UPDATE or DELETE (None for ADD).
    """

    memory_id: str
    memory: str
    event: Event
    at: str
    previous_memory: str | None = None


@dataclass(frozen=True, slots=True)
class AddMemory:
    """Store a new memory (fails with `MemoryLimitReached` at the per-user limit)."""

    record: MemoryRecord
    history: HistoryRecord


@dataclass(frozen=True, slots=True)
class UpdateMemory:
    """Replace a memory whose revision is still ``expected_revision`` (else `StaleMemory`).

    ``previous_hash`` is the text hash being replaced (its uniqueness guard is released).
    """

    record: MemoryRecord
    expected_revision: int
    previous_hash: str
    history: HistoryRecord


@dataclass(frozen=True, slots=True)
class RemoveMemory:
    """Delete a memory whose revision is still ``expected_revision``, keeping a history entry.

    ``hash`` is the removed memory's text hash (its uniqueness guard is released).
    """

    memory_id: str
    expected_revision: int
    hash: str
    history: HistoryRecord


Change = AddMemory | UpdateMemory | RemoveMemory


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """One entry of a user's change log: the write that took the version counter to ``version``.

    Attributes:
        version: The user's version after the write.
        event: ADD, UPDATE or DELETE (a user's final delete is a DELETE too).
        memory_id: The memory written.
    """

    version: int
    event: Event
    memory_id: str


@dataclass(frozen=True, slots=True)
class VectorUpdate:
    """A re-embedded vector for a memory whose text hash is still ``hash``."""

    memory_id: str
    hash: str
    vector: bytes
    embedder_id: str
    dims: int


class StoreUnavailable(Exception):
    """The database failed or throttled; ``retryable`` when trying again later may work."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def read_job(body: str | bytes) -> JobRecord:
    """A stored job body as a `JobRecord` (bodies of older writers load too).

    Raises:
        StoreUnavailable: The body is not a job record this code can read (not retryable).
    """
    try:
        return JobRecord.from_json(body)
    except ValidationError as error:
        raise StoreUnavailable(f"unreadable job record: {error.error_count()} errors",
                               retryable=False) from error


class MemoryLimitReached(Exception):
    """The user already has the maximum number of memories."""


class DuplicateMemory(Exception):
    """The user already has a memory with the same normalised text (``memory_id``)."""

    def __init__(self, memory_id: str) -> None:
        super().__init__(memory_id)
        self.memory_id = memory_id


class StaleMemory(Exception):
    """The memory changed or vanished since it was read (optimistic concurrency)."""


class AlreadyApplied(Exception):
    """The change's idempotency key was used before: a redelivered job already applied it."""


class MemoryStore(Protocol):
    """Persistence of memories, their history, jobs and the per-user version counter."""

    def version(self, user_id: str) -> int:
        """The user's version counter (0 before the first write); it grows on every write."""
        ...

    def load_memories(self, user_id: str) -> list[MemoryRecord]:
        """Every memory of the user (with vectors), for building the search index."""
        ...

    def changes_since(self, user_id: str, version: int) -> list[LoggedChange] | None:
        """The writes after ``version``, oldest first, numbered ``version + 1, version + 2, …``.

        Every write that bumps the version logs itself in the same atomic write; the log keeps
        only the most recent writes. The list may run past the version read just before (a
        write landed meanwhile).

        Returns:
            The changes (empty if the version is still ``version``), or None when the log
            cannot cover the gap (too many writes, or writes without a log entry): the caller
            must reload everything.
        """
        ...

    def get_memory(self, user_id: str, memory_id: str) -> MemoryRecord | None:
        """One memory of the user, or None if the user has no memory with that id."""
        ...

    def list_memories(
        self, user_id: str, limit: int, cursor: str | None
    ) -> tuple[list[MemoryRecord], str | None]:
        """A page of the user's memories and the opaque cursor of the next page (or None).

        Raises:
            ValueError: The cursor is not one this store handed out.
        """
        ...

    def count_memories(self, user_id: str) -> int:
        """How many memories the user has."""
        ...

    def apply(
        self, user_id: str, change: Change, *, max_memories: int,
        idempotency_key: str | None = None,
    ) -> None:
        """Write one change atomically with its history and a version bump.

        Raises:
            MemoryLimitReached: An add would exceed ``max_memories``.
            DuplicateMemory: The (new) text equals another memory of the user.
            StaleMemory: The memory of an update/remove changed or is gone.
            AlreadyApplied: ``idempotency_key`` was used before (nothing written).
            StoreUnavailable: The database failed.
        """
        ...

    def set_vectors(self, user_id: str, updates: Sequence[VectorUpdate]) -> None:
        """Write back re-embedded vectors, skipping memories whose text changed meanwhile."""
        ...

    def delete_memory(self, user_id: str, memory_id: str) -> bool:
        """The user's final delete: the memory and all its history. False if not found."""
        ...

    def history(self, user_id: str, memory_id: str) -> list[HistoryRecord]:
        """History of one memory of the user, oldest first (empty if none)."""
        ...

    def histories(self, user_id: str,
                  memory_ids: Sequence[str]) -> dict[str, list[HistoryRecord]]:
        """Histories of several memories of the user (one read where the store allows).

        Returns:
            memory id → its history, oldest first; ids without history are left out.
        """
        ...

    def forget_user(self, user_id: str, budget_s: float) -> None:
        """Deletes every memory, history entry, job, hash guard, idempotency marker and
        change-log entry of the user ("forget me"); other users are untouched.

        The version counter stays (a bare number) and moves on, so a warm index anywhere
        sees that everything changed; it never restarts at a version a cache already knows.

        Args:
            budget_s: Time to spend; past it the deletion stops where it is.

        Raises:
            StoreUnavailable: The database failed or the budget ran out before everything was
                gone (retryable: calling again continues where this call stopped).
        """
        ...

    def put_job(self, user_id: str, job: JobRecord) -> None:
        """Create or replace a job record (it expires after a week)."""
        ...

    def get_job(self, user_id: str, job_id: str) -> JobRecord | None:
        """The user's job, or None."""
        ...
