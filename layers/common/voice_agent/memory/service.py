"""Memory use cases: plain functions from request models to response models.

The HTTP function (``functions/memory``) and the worker (``functions/memory_worker``) only
parse, call one function here and shape the answer. Every function takes the verified user
id first and touches nothing outside that user's data.

Writes are embedded before anything is stored, so an embedding failure (Bedrock throttling,
outage) leaves nothing half-written and becomes a JSON 429/503/502.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from voice_agent.errors import (
    ApiError,
    ConfigError,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unprocessable,
    UpstreamError,
)
from voice_agent.memory.embedding import Embedder, EmbeddingUnavailable, make_embedder
from voice_agent.memory.extraction import (
    ExtractionFailed,
    ToolLLM,
    decide_updates,
    extract_facts,
    make_llm,
)
from voice_agent.memory.filters import matches
from voice_agent.memory.jobs import JobQueue, make_job_queue
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
from voice_agent.memory.ranking import CONTENT_WEIGHTS, IndexItem, MemoryIndex
from voice_agent.memory.store import (
    AddMemory,
    AlreadyApplied,
    DuplicateMemory,
    HistoryRecord,
    JobRecord,
    MemoryLimitReached,
    MemoryRecord,
    MemoryStore,
    RemoveMemory,
    StaleMemory,
    StoreUnavailable,
    UpdateMemory,
    VectorUpdate,
    decode_cursor,
    encode_cursor,
    normalise_text,
    now_iso,
    text_hash,
)
from voice_agent.memory.store_factory import make_store
from voice_agent.memory.vectors import encode_vector
from voice_agent.observability import logger

__all__ = [
    "DUPLICATE_SIMILARITY",
    "JobFailed",
    "MemoryDeps",
    "add_memories",
    "delete_memory",
    "drop_index",
    "job_status",
    "list_memories",
    "make_store",
    "memory_deps",
    "memory_history",
    "reset_memory_deps",
    "run_job",
    "search_memories",
    "upstream_errors",
]


DEFAULT_MAX_PER_USER = 10_000
DUPLICATE_SIMILARITY = 0.95  # cosine at or above which a fact restates a stored memory
CANDIDATES_PER_FACT = 5  # stored memories shown to the LLM for each new fact
REEMBED_BATCH = 256  # memories of another embedder re-embedded per index load
_CACHE_USERS = 64  # warm per-user indexes kept per container
_RETRY_AFTER_S = 2


# --- dependencies ---------------------------------------------------------------------------


class MemoryDeps:
    """The I/O the memory use cases need, each built on first use (and injectable in tests)."""

    def __init__(self, store: MemoryStore | None = None, embedder: Embedder | None = None,
                 queue: JobQueue | None = None, llm: ToolLLM | None = None,
                 llm_configured: bool | None = None) -> None:
        """Creates the holder; anything not given comes from the environment when first used.

        Args:
            store: Memory store (default `make_store`).
            embedder: Embedder (default `make_embedder`, from ``EMBEDDINGS``).
            queue: Job queue (default `make_job_queue`).
            llm: Extraction model (default from ``MEMORY_LLM``).
            llm_configured: Whether ``llm`` was given explicitly (None: given iff not None).
        """
        self._store = store
        self._embedder = embedder
        self._queue = queue
        self._llm = llm
        self._llm_ready = llm is not None if llm_configured is None else llm_configured
        self._lock = threading.Lock()

    @property
    def store(self) -> MemoryStore:
        """The memory store."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = make_store()
        return self._store

    @property
    def embedder(self) -> Embedder:
        """The embedder."""
        if self._embedder is None:
            self._embedder = make_embedder()
        return self._embedder

    @property
    def queue(self) -> JobQueue:
        """The job queue."""
        if self._queue is None:
            self._queue = make_job_queue()
        return self._queue

    @property
    def llm(self) -> ToolLLM | None:
        """The extraction model, or None for verbatim storage (``MEMORY_LLM=none``)."""
        if not self._llm_ready:
            from voice_agent.settings import get_settings

            self._llm = make_llm(get_settings().memory_llm)
            self._llm_ready = True
        return self._llm

    @property
    def llm_enabled(self) -> bool:
        """Whether an LLM is configured, without building it (no key lookup)."""
        if self._llm_ready:
            return self._llm is not None
        from voice_agent.settings import get_settings

        return (get_settings().memory_llm or "none").strip().lower() not in ("", "none")


_deps: MemoryDeps | None = None
_deps_lock = threading.Lock()


def memory_deps() -> MemoryDeps:
    """The process-wide `MemoryDeps` (kept at module scope for warm Lambda reuse)."""
    global _deps
    if _deps is None:
        with _deps_lock:
            if _deps is None:
                _deps = MemoryDeps()
    return _deps


def reset_memory_deps(deps: MemoryDeps | None = None) -> None:
    """Replaces (or forgets) the process-wide deps and the warm index cache (tests, dev)."""
    global _deps
    with _deps_lock:
        _deps = deps
    with _cache_lock:
        _index_cache.clear()


def max_memories_per_user() -> int:
    """``MEMORY_MAX_PER_USER`` (default 10000)."""
    raw = os.environ.get("MEMORY_MAX_PER_USER", "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MAX_PER_USER
    except ValueError as error:
        raise ConfigError("MEMORY_MAX_PER_USER must be a positive integer") from error
    if value <= 0:
        raise ConfigError("MEMORY_MAX_PER_USER must be a positive integer")
    return value


# --- upstream errors → API errors -----------------------------------------------------------


@contextmanager
def _upstream_errors() -> Iterator[None]:
    """Maps embedding/storage failures to the API's JSON errors (429 / 503 / 502)."""
    try:
        yield
    except EmbeddingUnavailable as error:
        if error.throttled:
            raise RateLimited("embedding service is busy, try again shortly",
                              _RETRY_AFTER_S) from error
        if error.retryable:
            raise ServiceUnavailable("embedding service unavailable, try again",
                                     headers={"Retry-After": str(_RETRY_AFTER_S)}) from error
        raise UpstreamError("embedding service error") from error
    except StoreUnavailable as error:
        if error.retryable:
            raise ServiceUnavailable("memory store unavailable, try again",
                                     headers={"Retry-After": str(_RETRY_AFTER_S)}) from error
        raise UpstreamError("memory store error") from error


# For the use cases in their own modules (export, forget).
upstream_errors = _upstream_errors


def _embed(embedder: Embedder, texts: Sequence[str],
           known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Embeds texts in one batch: each distinct text once, none already in ``known``."""
    result = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    known = known or {}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    fresh = dict(zip(missing, embedder.embed(missing), strict=True)) if missing else {}
    for row, text in enumerate(texts):
        result[row] = known[text] if text in known else fresh[text]
    return result


# --- the warm per-user index ----------------------------------------------------------------


@dataclass(frozen=True)
class _UserIndex:
    version: int
    embedder_id: str
    index: MemoryIndex
    records: dict[str, MemoryRecord]


_index_cache: OrderedDict[str, _UserIndex] = OrderedDict()
_cache_lock = threading.Lock()


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _reembed(user_id: str, records: list[MemoryRecord], deps: MemoryDeps) -> list[MemoryRecord]:
    """Re-embeds (a bounded batch of) memories stored by another embedder and writes them back.

    Vectors of different embedders are never compared: until re-embedded, such memories are
    found lexically only.
    """
    embedder = deps.embedder
    stale = [i for i, r in enumerate(records) if r.embedder_id != embedder.id][:REEMBED_BATCH]
    if not stale:
        return records
    vectors = _embed(embedder, [records[i].text for i in stale])
    updates = []
    result = list(records)
    for row, i in enumerate(stale):
        blob = encode_vector(vectors[row])
        old = records[i]
        result[i] = MemoryRecord(
            id=old.id, text=old.text, metadata=old.metadata, created_at=old.created_at,
            updated_at=old.updated_at, vector=blob, embedder_id=embedder.id,
            dims=embedder.dimensions, hash=old.hash, revision=old.revision,
        )
        updates.append(VectorUpdate(old.id, old.hash, blob, embedder.id, embedder.dimensions))
    deps.store.set_vectors(user_id, updates)
    logger.info("re-embedded %d memories with %s", len(updates), embedder.id)
    return result


def _index_item(record: MemoryRecord) -> IndexItem:
    return IndexItem(record.id, record.text, record.vector, record.embedder_id,
                     _epoch(record.updated_at), _epoch(record.created_at))


def _catch_up(user_id: str, cached: _UserIndex, deps: MemoryDeps) -> _UserIndex | None:
    """The cached index brought up to date from the store's change log, or None (reload).

    Reads the log (one small read) and then only the memories it names; the index reuses the
    tokenised texts and decoded vectors of everything else.
    """
    store = deps.store
    changes = store.changes_since(user_id, cached.version)
    if not changes:
        return None  # the log cannot cover the gap (or there is nothing to catch up on)
    last_event = {change.memory_id: change.event for change in changes}
    upserts: list[MemoryRecord] = []
    removals: list[str] = []
    for memory_id, event in last_event.items():
        # The current state: a memory changed again after the last logged version is caught
        # up again when the log reaches that change (reading it twice is harmless).
        record = None if event == "DELETE" else store.get_memory(user_id, memory_id)
        if record is None:
            removals.append(memory_id)
        elif record.embedder_id != cached.embedder_id:
            return None  # written by another embedder: the full load re-embeds it
        else:
            upserts.append(record)
    index = cached.index.with_changes([_index_item(r) for r in upserts], removals)
    records = dict(cached.records)
    for memory_id in removals:
        records.pop(memory_id, None)
    records.update((r.id, r) for r in upserts)
    return _UserIndex(changes[-1].version, cached.embedder_id, index, records)


def _remember(user_id: str, entry: _UserIndex) -> None:
    with _cache_lock:
        current = _index_cache.get(user_id)
        if current is not None and current.embedder_id == entry.embedder_id \
                and current.version > entry.version:
            return  # another thread cached a newer state meanwhile
        _index_cache[user_id] = entry
        _index_cache.move_to_end(user_id)
        while len(_index_cache) > _CACHE_USERS:
            _index_cache.popitem(last=False)


def drop_index(user_id: str) -> None:
    """Forgets the user's warm index in this process (after the user's data was deleted)."""
    with _cache_lock:
        _index_cache.pop(user_id, None)


def load_index(user_id: str, deps: MemoryDeps) -> tuple[MemoryIndex, dict[str, MemoryRecord]]:
    """The user's search index, from the warm cache while the user's version is unchanged.

    After a write, a warm index catches up from the store's change log (the changed memories
    only); a cold cache, a gap the log does not cover, or an embedder switch reloads all.
    """
    store, embedder_id = deps.store, deps.embedder.id
    version = store.version(user_id)
    with _cache_lock:
        cached = _index_cache.get(user_id)
        if cached and cached.version == version and cached.embedder_id == embedder_id:
            _index_cache.move_to_end(user_id)
            return cached.index, cached.records
    if cached and cached.embedder_id == embedder_id and cached.version < version:
        caught_up = _catch_up(user_id, cached, deps)
        if caught_up is not None:
            _remember(user_id, caught_up)
            return caught_up.index, caught_up.records
    records = _reembed(user_id, store.load_memories(user_id), deps)
    index = MemoryIndex.build([_index_item(r) for r in records])
    by_id = {r.id: r for r in records}
    # A partly migrated index is not cached, so the next load re-embeds the next batch.
    if all(r.embedder_id == embedder_id for r in records):
        _remember(user_id, _UserIndex(version, embedder_id, index, by_id))
    return index, by_id


# --- HTTP use cases -------------------------------------------------------------------------


def _memory(record: MemoryRecord) -> Memory:
    return Memory(id=record.id, memory=record.text, metadata=record.metadata,
                  created_at=record.created_at, updated_at=record.updated_at)


def search_memories(user_id: str, req: SearchMemoriesRequest,
                    deps: MemoryDeps) -> SearchMemoriesResponse:
    """Hybrid (semantic + lexical) search of the user's memories, best first."""
    with _upstream_errors():
        embedder = deps.embedder
        query_vector = _embed(embedder, [req.query])[0]
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


def _new_record(text: str, vector: np.ndarray, metadata: dict[str, Any] | None,
                embedder: Embedder, memory_id: str | None = None,
                at: str | None = None) -> MemoryRecord:
    """A new memory dated ``at`` (an import's ``created_at``), by default now."""
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
    turns = req.turns()
    field = "messages" if isinstance(req.messages, str) else "messages.{}.content"
    if req.infer:
        if not deps.llm_enabled:
            # Without an LLM the job stores user messages verbatim: the limit applies now.
            for i, turn in enumerate(turns):
                if turn.role == "user" and len(turn.content) > MAX_MEMORY_CHARS:
                    raise _too_long(field.format(i))
        return _queue_job(user_id, req, deps)
    texts: list[str] = []
    for i, turn in enumerate(turns):
        if turn.role == "system":
            continue
        if len(turn.content) > MAX_MEMORY_CHARS:
            raise _too_long(field.format(i))
        texts.append(turn.content.strip())
    results: list[AddedMemory] = []
    with _upstream_errors():
        embedder = deps.embedder
        vectors = _embed(embedder, texts)  # before any write: nothing half-written
        limit = max_memories_per_user()
        # A cheap pre-check so a multi-message add does not stop half-way at the limit; the
        # exact guard is the store's conditional write.
        count, distinct = deps.store.count_memories(user_id), set(map(text_hash, texts))
        if count + len(distinct) > limit:
            # Near the limit only: texts already stored do not count (they come back as NONE).
            _, records = load_index(user_id, deps)
            if count + len(distinct - {r.hash for r in records.values()}) > limit:
                raise _limit_error(limit)
        for text, vector in zip(texts, vectors, strict=True):
            record = _new_record(text, vector, req.metadata, embedder, at=req.created_at)
            history = HistoryRecord(record.id, text, "ADD", record.created_at)
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
                results.append(AddedMemory(id=duplicate.memory_id, event="NONE",
                                           memory=existing.text if existing else text))
                continue
            results.append(AddedMemory(id=record.id, memory=text, event="ADD"))
    return AddMemoryResponse(results=results)


def _limit_error(limit: int) -> ApiError:
    return ApiError(f"memory limit reached: at most {limit} memories per user; "
                    "delete some before adding more", status=409)


def _queue_job(user_id: str, req: AddMemoryRequest, deps: MemoryDeps) -> QueuedResponse:
    job_id = str(uuid.uuid4())
    at = now_iso()
    message = JobMessage(job_id=job_id, user_id=user_id, messages=req.turns(),
                         metadata=req.metadata, created_at=req.created_at, queued_at=at)
    with _upstream_errors():
        # The record exists before the message, so polling never sees an unknown job.
        deps.store.put_job(user_id, JobRecord(job_id, "queued", created_at=at, updated_at=at))
        try:
            deps.queue.send(message.model_dump())
        except ApiError:
            deps.store.put_job(user_id, JobRecord(job_id, "failed", error="could not be queued",
                                                  created_at=at, updated_at=now_iso()))
            raise
    return QueuedResponse(job_id=job_id)


def list_memories(user_id: str, limit: int, cursor: str | None, deps: MemoryDeps,
                  filters: dict[str, Any] | None = None) -> ListMemoriesResponse:
    """A page of the user's memories (those matching ``filters``) and the next page's cursor."""
    with _upstream_errors():
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
    with _upstream_errors():
        if not deps.store.delete_memory(user_id, memory_id):
            raise NotFound("memory not found")


def memory_history(user_id: str, memory_id: str, deps: MemoryDeps) -> HistoryResponse:
    """Changes of one of the user's memories, oldest first (kept after an LLM DELETE).

    Raises:
        NotFound: The user has no memory or history with that id.
    """
    _known_id(memory_id, "memory")
    with _upstream_errors():
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
    with _upstream_errors():
        job = deps.store.get_job(user_id, job_id)
    if job is None:
        raise NotFound("job not found")
    return JobResponse(status=job.status, results=[AddedMemory(**r) for r in job.results],
                       error=job.error)


# --- the worker -----------------------------------------------------------------------------


class JobFailed(Exception):
    """The job could not finish now; the message should be retried (then dead-lettered)."""


def _plan(user_id: str, message: JobMessage, deps: MemoryDeps,
          vectors_by_text: dict[str, np.ndarray]) -> dict[str, Any]:
    """Decides the changes of a job: facts, near-duplicate merging, then LLM decisions.

    The facts' vectors are left in ``vectors_by_text`` so applying the plan in the same run
    does not embed them again.
    """
    llm = deps.llm
    user_turns = [t.content.strip() for t in message.messages if t.role == "user"]
    if llm is None:
        facts = [t for t in user_turns if t]
    elif not user_turns:
        facts = []  # facts are about the user: nothing the user said, nothing to extract
    else:
        facts = extract_facts(llm, [(t.role, t.content) for t in message.messages])
    facts = [f[:MAX_MEMORY_CHARS] for f in facts]
    embedder = deps.embedder
    vectors = _embed(embedder, facts)
    vectors_by_text.update(zip(facts, vectors, strict=True))
    index, records = load_index(user_id, deps)
    known = {r.hash for r in records.values()}

    # Near duplicates (exact normalised text, or cosine ≥ 0.95 to a stored memory or to an
    # earlier fact of this job) are dropped, so nothing is stored twice.
    kept: list[int] = []
    for i, fact in enumerate(facts):
        if not normalise_text(fact) or text_hash(fact) in known:
            continue
        best = index.search(fact, vectors[i], embedder.id, 1, mode="embedding")
        if best and best[0][1] >= DUPLICATE_SIMILARITY:
            continue
        if any(float(vectors[i] @ vectors[j]) >= DUPLICATE_SIMILARITY for j in kept):
            continue
        kept.append(i)
        known.add(text_hash(fact))
    new_facts = [facts[i] for i in kept]

    ops: list[dict[str, Any]] = []
    candidate_ids: list[str] = []
    if llm is not None and new_facts and records:
        for i in kept:
            for memory_id, _score in index.search(facts[i], vectors[i], embedder.id,
                                                  CANDIDATES_PER_FACT,
                                                  weights=CONTENT_WEIGHTS):
                if memory_id not in candidate_ids:
                    candidate_ids.append(memory_id)
    if candidate_ids:
        assert llm is not None
        decisions = decide_updates(llm, new_facts, [records[m].text for m in candidate_ids])
        touched: set[str] = set()
        for d in decisions:
            if d.event == "ADD":
                ops.append({"event": "ADD", "text": d.text or new_facts[d.fact]})
            elif d.event in ("UPDATE", "DELETE"):
                assert d.memory_id is not None
                target = records[candidate_ids[d.memory_id]]
                if target.id in touched:
                    continue  # two decisions on one memory: the first wins, no lost update
                touched.add(target.id)
                ops.append({"event": d.event, "id": target.id, "text": d.text or target.text,
                            "revision": target.revision, "previous": target.text,
                            "metadata": target.metadata, "created_at": target.created_at,
                            "hash": target.hash})
    else:
        ops = [{"event": "ADD", "text": fact} for fact in new_facts]
    for n, op in enumerate(ops):
        if op["event"] == "ADD":
            # Deterministic ids: a redelivered job writes the same ids, never duplicates.
            op["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{message.job_id}/{n}"))
    return {"plan_id": uuid.uuid4().hex[:12], "ops": ops,
            "llm": llm.id if llm else "none", "facts": len(facts)}


def _apply_plan(user_id: str, message: JobMessage, plan: dict[str, Any], deps: MemoryDeps,
                vectors_by_text: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    embedder = deps.embedder
    ops = plan["ops"]
    texts = [op["text"] for op in ops if op["event"] in ("ADD", "UPDATE")]
    vectors = iter(_embed(embedder, texts, vectors_by_text))  # before any write
    limit = max_memories_per_user()
    results: list[dict[str, Any]] = []
    for n, op in enumerate(ops):
        at = now_iso()
        change: AddMemory | UpdateMemory | RemoveMemory
        if op["event"] == "ADD":
            record = _new_record(op["text"], next(vectors), message.metadata, embedder, op["id"],
                                 at=message.created_at)
            change = AddMemory(record, HistoryRecord(op["id"], op["text"], "ADD",
                                                     record.created_at))
        elif op["event"] == "UPDATE":
            record = _new_record(op["text"], next(vectors), op.get("metadata"), embedder,
                                 op["id"])
            record = MemoryRecord(
                id=record.id, text=record.text, metadata=record.metadata,
                created_at=op["created_at"], updated_at=at,
                vector=record.vector, embedder_id=record.embedder_id, dims=record.dims,
                hash=record.hash, revision=op["revision"] + 1,
            )
            change = UpdateMemory(record, op["revision"], op["hash"], HistoryRecord(
                op["id"], op["text"], "UPDATE", at, previous_memory=op["previous"]))
        else:
            change = RemoveMemory(op["id"], op["revision"], op["hash"], HistoryRecord(
                op["id"], op["previous"], "DELETE", at, previous_memory=op["previous"]))
        key = f"{message.job_id}:{plan['plan_id']}:{n}"
        try:
            deps.store.apply(user_id, change, max_memories=limit, idempotency_key=key)
        except AlreadyApplied:
            pass  # a redelivered message: this change is already stored
        except DuplicateMemory:
            continue  # the text is already a memory (e.g. added meanwhile): nothing to do
        results.append({"id": op["id"], "memory": op["text"] if op["event"] != "DELETE"
                        else op["previous"], "event": op["event"]})
    return results


def run_job(message: JobMessage, deps: MemoryDeps) -> JobResponse:
    """Runs one add job for ``message.user_id`` (the id the memory function took from the JWT).

    Idempotent: a job already done is skipped; the plan is saved before it is applied and
    every change carries an idempotency key, so a redelivered message never duplicates.

    Raises:
        JobFailed: Extraction, embedding or storage failed (or a memory changed meanwhile);
            the job record says ``failed`` and the message should be retried.
    """
    user_id = message.user_id
    store = deps.store
    job = store.get_job(user_id, message.job_id)
    if job is not None and job.status == "done":
        return JobResponse(status="done", results=[AddedMemory(**r) for r in job.results])
    if job is None and message.queued_at is not None:
        # The memory function writes the record before queueing; it is gone because the user
        # forgot everything since (or it expired): running the job would bring memories back.
        logger.info("memory job %s dropped: its record is gone", message.job_id)
        return JobResponse(status="failed", error="the job no longer exists")
    now = now_iso()
    job = job or JobRecord(message.job_id, "queued", created_at=now)
    job.attempts += 1
    job.updated_at = now
    vectors_by_text: dict[str, np.ndarray] = {}
    try:
        if job.plan is None:
            job.plan = _plan(user_id, message, deps, vectors_by_text)
            job.status = "queued"
            store.put_job(user_id, job)
        job.results = _apply_plan(user_id, message, job.plan, deps, vectors_by_text)
    except MemoryLimitReached:
        # Retrying cannot help until the user deletes memories: fail visibly, no retry.
        job.status, job.error, job.updated_at = "failed", "memory limit reached", now_iso()
        _save_quietly(user_id, job, deps)
        logger.warning("memory job %s failed: memory limit reached", job.job_id)
        return JobResponse(status="failed", error=job.error)
    except (ExtractionFailed, EmbeddingUnavailable, StoreUnavailable, StaleMemory) as error:
        if isinstance(error, StaleMemory):
            job.plan = None  # the memory changed since planning: decide again on retry
        reason = {ExtractionFailed: "extraction failed", EmbeddingUnavailable: "embedding failed",
                  StoreUnavailable: "storage failed", StaleMemory: "memory changed meanwhile"}
        job.status, job.updated_at = "failed", now_iso()
        job.error = f"{reason[type(error)]}; will be retried"
        _save_quietly(user_id, job, deps)
        logger.warning("memory job %s failed (attempt %d): %s", job.job_id, job.attempts,
                       getattr(error, "message", None) or str(error))
        raise JobFailed(job.error) from error
    except Exception as error:
        # Anything else (a configuration error, a bug): the job must not stay "queued" forever.
        job.status, job.updated_at = "failed", now_iso()
        job.error = f"internal error ({type(error).__name__}); will be retried"
        _save_quietly(user_id, job, deps)
        logger.exception("memory job %s failed unexpectedly", job.job_id)
        raise JobFailed(job.error) from error
    job.status, job.error, job.updated_at = "done", None, now_iso()
    store.put_job(user_id, job)
    return JobResponse(status="done", results=[AddedMemory(**r) for r in job.results])


def _save_quietly(user_id: str, job: JobRecord, deps: MemoryDeps) -> None:
    try:
        deps.store.put_job(user_id, job)
    except StoreUnavailable:
        logger.warning("could not record the status of memory job %s", job.job_id)

