"""The per-user search index, kept warm per process and caught up from the change log.

A warm Lambda answers a search without reading the user's memories again while the user's
version is unchanged; after a write it reads only the memories the change log names.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from voice_agent.memory.embedding import Embedder
from voice_agent.memory.store import MemoryRecord, MemoryStore, VectorUpdate
from voice_agent.memory.upstream import embed_texts
from voice_agent.observability import logger

if TYPE_CHECKING:
    # The index and its numpy are imported by the first load, not with this module: the
    # memory function's routes that read no index (list, history, export, forget, jobs)
    # then start without numpy.
    from voice_agent.memory.ranking import IndexItem, MemoryIndex

__all__ = ["INDEX_MODULES", "IndexSources", "clear_indexes", "drop_index", "index_items",
           "load_index"]

# What the first index load or add imports (and numpy with them): a SnapStart snapshot of a
# function that searches imports them before it is taken (`snapstart.prime_before_snapshot`).
INDEX_MODULES = ("voice_agent.memory.ranking", "voice_agent.memory.vectors")

REEMBED_BATCH = 256  # memories of another embedder re-embedded per index load
_CACHE_USERS = 64  # warm per-user indexes kept per container


class IndexSources(Protocol):
    """Where an index comes from (`voice_agent.memory.wiring.MemoryDeps` is one)."""

    @property
    def store(self) -> MemoryStore:
        """The memory store."""
        ...

    @property
    def embedder(self) -> Embedder:
        """The embedder whose vectors the index compares."""
        ...


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


def _reembed(user_id: str, records: list[MemoryRecord], deps: IndexSources) -> list[MemoryRecord]:
    """Re-embeds (a bounded batch of) memories stored by another embedder and writes them back.

    Vectors of different embedders are never compared: until re-embedded, such memories are
    found lexically only.
    """
    from voice_agent.memory.vectors import encode_vector

    embedder = deps.embedder
    stale = [i for i, r in enumerate(records) if r.embedder_id != embedder.id][:REEMBED_BATCH]
    if not stale:
        return records
    vectors = embed_texts(embedder, [records[i].text for i in stale])
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


def index_items(records: list[MemoryRecord]) -> list[IndexItem]:
    """The index's view of stored memories (the index module is imported once per call)."""
    from voice_agent.memory.ranking import IndexItem

    return [IndexItem(r.id, r.text, r.vector, r.embedder_id, _epoch(r.updated_at),
                      _epoch(r.created_at)) for r in records]


def _catch_up(user_id: str, cached: _UserIndex, deps: IndexSources) -> _UserIndex | None:
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
    index = cached.index.with_changes(index_items(upserts), removals)
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


def clear_indexes() -> None:
    """Forgets every warm index in this process (tests, a restored SnapStart snapshot)."""
    with _cache_lock:
        _index_cache.clear()


def drop_index(user_id: str) -> None:
    """Forgets the user's warm index in this process (after the user's data was deleted)."""
    with _cache_lock:
        _index_cache.pop(user_id, None)


def load_index(user_id: str, deps: IndexSources) -> tuple[MemoryIndex, dict[str, MemoryRecord]]:
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
    from voice_agent.memory.ranking import MemoryIndex

    index = MemoryIndex.build(index_items(records))
    by_id = {r.id: r for r in records}
    # A partly migrated index is not cached, so the next load re-embeds the next batch.
    if all(r.embedder_id == embedder_id for r in records):
        _remember(user_id, _UserIndex(version, embedder_id, index, by_id))
    return index, by_id
