"""Memory use cases: plain functions from request models to response models.

The HTTP function (``functions/memory``) only parses, calls one function here and shapes the
answer. Every function takes the verified user id first and touches nothing outside that
user's data.

Writes are embedded before anything is stored, so an embedding failure (Bedrock throttling,
outage) leaves nothing half-written and becomes a JSON 429/503/502.
"""

from __future__ import annotations

import re
import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from voice_agent.errors import ApiError, NotFound, Unprocessable
from voice_agent.memory.embedding import Embedder
from voice_agent.memory.filters import matches
from voice_agent.memory.index_cache import load_index
from voice_agent.memory.models import (
    MAX_MEMORY_CHARS,
    AddedMemory,
    AddMemoryRequest,
    AddMemoryResponse,
    HistoryEntry,
    HistoryResponse,
    JobMessage,
    JobResponse,
    ListMemoriesResponse,
    Memory,
    QueuedResponse,
    SearchMemoriesRequest,
    SearchMemoriesResponse,
    SearchResult,
)
from voice_agent.memory.plan import JobRecord
from voice_agent.memory.store import (
    AddMemory,
    AlreadyApplied,
    DuplicateMemory,
    HistoryRecord,
    MemoryLimitReached,
    MemoryRecord,
    StoreUnavailable,
    decode_cursor,
    encode_cursor,
    now_iso,
    text_hash,
)
from voice_agent.memory.upstream import embed_texts, upstream_errors
from voice_agent.memory.weights import CONTENT_WEIGHTS
from voice_agent.memory.wiring import MemoryDeps, max_memories_per_user

if TYPE_CHECKING:  # the index and numpy load with the first route that needs them
    import numpy as np

    from voice_agent.memory.index import MemoryIndex

__all__ = [
    "add_memories",
    "delete_memory",
    "job_status",
    "key_facts",
    "list_memories",
    "memory_history",
    "new_record",
    "search_memories",
]


def _memory(record: MemoryRecord) -> Memory:
    return Memory(id=record.id, memory=record.text, metadata=record.metadata,
                  created_at=record.created_at, updated_at=record.updated_at)


def search_memories(user_id: str, req: SearchMemoriesRequest,
                    deps: MemoryDeps) -> SearchMemoriesResponse:
    """Hybrid (semantic + lexical) search of the user's memories, best first."""
    with upstream_errors():
        embedder = deps.embedder
        query_vector = embed_texts(embedder, [req.query])[0]
        index, records = load_index(user_id, deps)
    only = None
    if req.filters:
        # Before ranking: only matching memories are scored (and lend episode boosts).
        only = [m for m, r in records.items() if matches(r.metadata, req.filters)]
    hits = index.search(req.query, query_vector, embedder.id, req.limit, only=only)
    results = [
        SearchResult(**_memory(records[memory_id]).model_dump(), score=round(score, 4))
        for memory_id, score in hits if memory_id in records
    ]
    return SearchMemoriesResponse(results=results)


def new_record(text: str, vector: np.ndarray, metadata: dict[str, Any] | None,
                embedder: Embedder, memory_id: str | None = None,
                at: str | None = None) -> MemoryRecord:
    """A new memory dated ``at`` (an import's ``created_at``), by default now."""
    from voice_agent.memory.vectors import encode_vector

    at = at or now_iso()
    return MemoryRecord(
        id=memory_id or str(uuid.uuid4()), text=text, metadata=metadata, created_at=at,
        updated_at=at, vector=encode_vector(vector), embedder_id=embedder.id,
        dims=embedder.dimensions, hash=text_hash(text),
    )


def _too_long(field: str) -> Unprocessable:
    return Unprocessable(f"{field}: memory text longer than {MAX_MEMORY_CHARS} characters")


def add_memories(user_id: str, req: AddMemoryRequest,
                 deps: MemoryDeps) -> AddMemoryResponse | QueuedResponse:
    """Adds memories: verbatim now (``infer=false``) or through an extraction job.

    Returns:
        `AddMemoryResponse` (201) for ``infer=false``; `QueuedResponse` (202) otherwise.

    Raises:
        Unprocessable: A text to store verbatim is longer than 2000 characters.
        ApiError: 409 at the per-user limit; 429/503/502 when embedding or storage fails.
    """
    if req.infer:
        if not deps.llm_enabled:
            # Without an LLM the job stores user messages verbatim: the limit applies now.
            _texts_to_store(req, roles=("user",))
        return _queue_job(user_id, req, deps)
    texts = _texts_to_store(req, roles=("user", "assistant"))
    results: list[AddedMemory] = []
    with upstream_errors():
        embedder = deps.embedder
        vectors = embed_texts(embedder, texts)  # before any write: nothing half-written
        limit = max_memories_per_user()
        _check_room(user_id, texts, limit, deps)
        for text, vector in zip(texts, vectors, strict=True):
            record = new_record(text, vector, req.metadata, embedder, at=req.created_at)
            results.append(_add_verbatim(user_id, record, limit, deps))
    return AddMemoryResponse(results=results)


def _texts_to_store(req: AddMemoryRequest, roles: tuple[str, ...]) -> list[str]:
    """The stripped texts of the turns with these roles, each within the verbatim limit."""
    field = "messages" if isinstance(req.messages, str) else "messages.{}.content"
    texts: list[str] = []
    for i, turn in enumerate(req.turns()):
        if turn.role not in roles:
            continue
        if len(turn.content) > MAX_MEMORY_CHARS:
            raise _too_long(field.format(i))
        texts.append(turn.content.strip())
    return texts


def _check_room(user_id: str, texts: list[str], limit: int, deps: MemoryDeps) -> None:
    """A cheap pre-check so a multi-message add does not stop half-way at the limit; the
    exact guard is the store's conditional write."""
    count, distinct = deps.store.count_memories(user_id), set(map(text_hash, texts))
    if count + len(distinct) > limit:
        # Near the limit only: texts already stored do not count (they come back as NONE).
        _, records = load_index(user_id, deps)
        if count + len(distinct - {r.hash for r in records.values()}) > limit:
            raise _limit_error(limit)


def _add_verbatim(user_id: str, record: MemoryRecord, limit: int,
                  deps: MemoryDeps) -> AddedMemory:
    """Stores one new memory; a text the user already has comes back as NONE."""
    history = HistoryRecord(record.id, record.text, "ADD", record.created_at)
    try:
        deps.store.apply(user_id, AddMemory(record, history), max_memories=limit)
    except MemoryLimitReached as error:
        raise _limit_error(limit) from error
    except AlreadyApplied:
        # The id is new, so the write itself landed: a timed-out call retried by the
        # client found its own memory (seen against moto's server; DynamoDB's request
        # token makes such retries succeed).
        pass
    except DuplicateMemory as duplicate:
        existing = deps.store.get_memory(user_id, duplicate.memory_id)
        return AddedMemory(id=duplicate.memory_id, event="NONE",
                           memory=existing.text if existing else record.text)
    return AddedMemory(id=record.id, memory=record.text, event="ADD")


def _limit_error(limit: int) -> ApiError:
    return ApiError(f"memory limit reached: at most {limit} memories per user; "
                    "delete some before adding more", status=409)


def _queue_job(user_id: str, req: AddMemoryRequest, deps: MemoryDeps) -> QueuedResponse:
    job_id = str(uuid.uuid4())
    at = now_iso()
    message = JobMessage(job_id=job_id, user_id=user_id, messages=req.turns(),
                         metadata=req.metadata, created_at=req.created_at, queued_at=at)
    with upstream_errors():
        # The record exists before the message, so polling never sees an unknown job.
        deps.store.put_job(user_id, JobRecord(job_id=job_id, status="queued", created_at=at,
                                              updated_at=at))
        try:
            deps.queue.send(message.model_dump())
        except ApiError:
            deps.store.put_job(user_id, JobRecord(job_id=job_id, status="failed",
                                                  error="could not be queued",
                                                  created_at=at, updated_at=now_iso()))
            raise
    return QueuedResponse(job_id=job_id)


def list_memories(user_id: str, limit: int, cursor: str | None, deps: MemoryDeps,
                  filters: dict[str, Any] | None = None) -> ListMemoriesResponse:
    """A page of the user's memories (those matching ``filters``) and the next page's cursor."""
    with upstream_errors():
        try:
            if filters:
                records, next_cursor = _filtered_page(user_id, limit, cursor, filters, deps)
            else:
                records, next_cursor = deps.store.list_memories(user_id, limit, cursor)
        except ValueError as error:
            raise Unprocessable("cursor: invalid cursor") from error
    return ListMemoriesResponse(results=[_memory(r) for r in records], next_cursor=next_cursor)


def _filtered_page(user_id: str, limit: int, cursor: str | None, filters: dict[str, Any],
                   deps: MemoryDeps) -> tuple[list[MemoryRecord], str | None]:
    """A page of the matching memories, in id order as the stores page, from the warm index.

    The stores cannot match JSON metadata in a query (DynamoDB keeps it as one string), and
    the warm index already holds every memory, so filtering there costs no extra read.
    """
    after = decode_cursor(cursor) if cursor else ""  # ValueError: an invalid cursor
    try:
        _, records = load_index(user_id, deps)
    except ValueError as error:  # not the cursor's fault (e.g. vectors of mixed sizes)
        raise StoreUnavailable(f"memory index unavailable: {error}", retryable=False) from error
    matching = sorted((r for r in records.values()
                       if r.id > after and matches(r.metadata, filters)), key=lambda r: r.id)
    page = matching[:limit]
    return page, encode_cursor(page[-1].id) if len(matching) > limit else None


_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _known_id(value: str, what: str) -> None:
    """Ids we hand out are UUIDs: anything else cannot exist (and never reaches a key prefix)."""
    if not _ID_PATTERN.fullmatch(value):
        raise NotFound(f"{what} not found")


def delete_memory(user_id: str, memory_id: str, deps: MemoryDeps) -> None:
    """Deletes the user's memory and its whole history (final).

    Raises:
        NotFound: The user has no memory with that id.
    """
    _known_id(memory_id, "memory")
    with upstream_errors():
        if not deps.store.delete_memory(user_id, memory_id):
            raise NotFound("memory not found")


def memory_history(user_id: str, memory_id: str, deps: MemoryDeps) -> HistoryResponse:
    """Changes of one of the user's memories, oldest first (kept after an LLM DELETE).

    Raises:
        NotFound: The user has no memory or history with that id.
    """
    _known_id(memory_id, "memory")
    with upstream_errors():
        entries = deps.store.history(user_id, memory_id)
    if not entries:
        raise NotFound("memory not found")
    return HistoryResponse(results=[
        HistoryEntry(memory=e.memory, event=e.event, at=e.at, previous_memory=e.previous_memory)
        for e in entries
    ])


def job_status(user_id: str, job_id: str, deps: MemoryDeps) -> JobResponse:
    """Status and results of one of the user's add jobs.

    Raises:
        NotFound: The user has no job with that id (or it expired after 7 days).
    """
    _known_id(job_id, "job")
    with upstream_errors():
        job = deps.store.get_job(user_id, job_id)
    if job is None:
        raise NotFound("job not found")
    return JobResponse(status=job.status, results=job.results, error=job.error)


# Answers of key_facts per index state. An index never changes (a write makes a new one), so
# neither does its answer to a probe; a mint repeats the same probe against an unchanged index
# and gets the answer in microseconds. The entry goes when its index is collected.
_key_facts_answers: weakref.WeakKeyDictionary[MemoryIndex, dict[tuple[str, int], list[str]]] = (
    weakref.WeakKeyDictionary())
_key_facts_lock = threading.Lock()


def key_facts(user_id: str, probe: str, limit: int, deps: MemoryDeps) -> list[str]:
    """The user's memories that best match a lexical ``probe``, else the newest ones.

    Lexical only, so it needs no embedding call (the session's profile prefetch runs it
    within a small budget, even on a cold start). The store is still asked for the user's
    version on every call: a memory written or deleted anywhere changes the answer at once.
    """
    index, records = load_index(user_id, deps)
    if not records:
        return []
    with _key_facts_lock:
        answer = _key_facts_answers.get(index, {}).get((probe, limit))
    if answer is None:
        answer = _rank_key_facts(index, records, probe, limit, deps.embedder.id)
        with _key_facts_lock:
            _key_facts_answers.setdefault(index, {})[(probe, limit)] = answer
    return list(answer)


def _rank_key_facts(index: MemoryIndex, records: dict[str, MemoryRecord], probe: str,
                    limit: int, embedder_id: str) -> list[str]:
    hits = index.search(probe, None, embedder_id, limit, weights=CONTENT_WEIGHTS)
    facts = [records[memory_id].text for memory_id, _ in hits if memory_id in records]
    if facts:
        return facts
    newest = sorted(records.values(), key=lambda r: r.updated_at, reverse=True)
    return [r.text for r in newest[:limit]]
