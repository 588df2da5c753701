"""`MemoryIndex`: one user's memories, indexed for hybrid search (`voice_agent.memory.ranking`).

The index holds the ids, the creation and change times, the BM25 statistics and one vector
matrix per embedder (`voice_agent.memory.vector_groups`); it is built once, or derived from
an older index with a few changes, and never changes after that.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from voice_agent.memory.boosts import Episodes, named_dates
from voice_agent.memory.lexical import BM25Index
from voice_agent.memory.scoring import cosine_scores, fused_scores, top
from voice_agent.memory.vector_groups import (
    NewVector,
    VectorGroup,
    carried_over,
    checked_group,
)
from voice_agent.memory.weights import DEFAULT_WEIGHTS, HybridWeights, SearchMode

__all__ = ["IndexItem", "MemoryIndex"]


@dataclass(frozen=True, slots=True)
class IndexItem:
    """One memory as the index sees it.

    Attributes:
        id: Memory id, returned by `MemoryIndex.search`.
        text: The memory text (scored lexically).
        vector: Its embedding, as float array or as `voice_agent.memory.vectors` bytes.
        embedder_id: Id of the embedder that produced ``vector``.
        updated_at: Last change, unix seconds (for the recency boost).
        created_at: Creation, unix seconds (for episodes and dates); defaults to
            ``updated_at``.
    """

    id: str
    text: str
    vector: np.ndarray | bytes
    embedder_id: str
    updated_at: float
    created_at: float | None = None

    @property
    def created(self) -> float:
        return self.updated_at if self.created_at is None else self.created_at


def _is_sorted(ids: list[str]) -> bool:
    return all(a < b for a, b in zip(ids, ids[1:], strict=False))


class MemoryIndex:
    """Immutable per-user search index; build once, query from any thread."""

    def __init__(
        self,
        ids: list[str],
        updated_at: np.ndarray,
        created_at: np.ndarray,
        lexical: BM25Index,
        vector_groups: dict[str, VectorGroup],
    ) -> None:
        """Use `MemoryIndex.build`."""
        self._ids = ids
        self._updated_at = updated_at
        self._created_at = created_at
        self._episodes = Episodes.of_times(created_at)
        self._lexical = lexical
        self._vector_groups = vector_groups
        self._positions: dict[str, int] | None = None  # built on the first filtered search

    def _mask(self, ids: Collection[str]) -> np.ndarray:
        """Which positions hold one of ``ids`` (unknown ids are ignored)."""
        if self._positions is None:
            self._positions = {memory_id: i for i, memory_id in enumerate(self._ids)}
        mask = np.zeros(len(self._ids), dtype=bool)
        positions = [self._positions[i] for i in ids if i in self._positions]
        mask[np.asarray(positions, dtype=np.int64)] = True
        return mask

    @classmethod
    def build(cls, items: Sequence[IndexItem]) -> MemoryIndex:
        """Builds the index: term statistics and one normalised vector matrix per embedder.

        Args:
            items: The user's memories.

        Raises:
            ValueError: Vectors of one embedder id have different dimensions.
        """
        grouped: dict[str, tuple[list[int], list[np.ndarray | bytes]]] = {}
        for position, item in enumerate(items):
            positions, vectors = grouped.setdefault(item.embedder_id, ([], []))
            positions.append(position)
            vectors.append(item.vector)
        vector_groups = {}
        for embedder_id, (positions, vectors) in grouped.items():
            vector_groups[embedder_id] = checked_group(embedder_id, positions, vectors)
        return cls(
            ids=[item.id for item in items],
            updated_at=np.array([item.updated_at for item in items], dtype=np.float64),
            created_at=np.array([item.created for item in items], dtype=np.float64),
            lexical=BM25Index([item.text for item in items]),
            vector_groups=vector_groups,
        )

    def with_changes(self, upserts: Sequence[IndexItem],
                     removals: Collection[str] = ()) -> MemoryIndex:
        """A new index with some items replaced, added or removed; this one is unchanged.

        Unchanged items keep their tokenised text and decoded vector, so the cost is a few
        array copies instead of a full build. The result equals `build` over the changed item
        list: an upsert replaces the item with its id in place, a new id is inserted in id
        order when this index's ids are sorted (as the stores load them) and appended
        otherwise.

        Args:
            upserts: New or changed items (ids unique).
            removals: Ids to drop (unknown ids are ignored; an id also upserted is kept).

        Raises:
            ValueError: Vectors of one embedder id would differ in dimension.
        """
        changed = {item.id: item for item in upserts}
        dropped = set(removals) - changed.keys()
        # Per new position: the old position (reused) or a new item.
        entries: list[tuple[str, int | IndexItem]] = [
            (memory_id, changed.pop(memory_id, position))
            for position, memory_id in enumerate(self._ids) if memory_id not in dropped
        ]
        if changed:
            added = sorted(changed.items())
            if _is_sorted(self._ids):
                entries = list(heapq.merge(entries, added, key=lambda entry: entry[0]))
            else:
                entries.extend(added)
        ids = [memory_id for memory_id, _ in entries]
        sources = [source for _, source in entries]
        updated_at = np.empty(len(entries), dtype=np.float64)
        created_at = np.empty(len(entries), dtype=np.float64)
        vector_sources: list[int | NewVector] = []
        for position, source in enumerate(sources):
            if isinstance(source, int):
                updated_at[position] = self._updated_at[source]
                created_at[position] = self._created_at[source]
                vector_sources.append(source)
            else:
                updated_at[position] = source.updated_at
                created_at[position] = source.created
                vector_sources.append((source.embedder_id, source.vector))
        vector_groups = carried_over(self._vector_groups, len(self._ids), vector_sources)
        lexical = self._lexical.reordered(
            [source if isinstance(source, int) else source.text for source in sources])
        return MemoryIndex(ids, updated_at, created_at, lexical, vector_groups)

    def __len__(self) -> int:
        return len(self._ids)

    def search(
        self,
        query_text: str,
        query_vector: np.ndarray | None,
        embedder_id: str,
        limit: int = 5,
        *,
        mode: SearchMode = "hybrid",
        weights: HybridWeights = DEFAULT_WEIGHTS,
        now: float | None = None,
        only: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Ranks the memories for a query.

        Args:
            query_text: The query, scored lexically.
            query_vector: Its embedding by ``embedder_id``; None skips the semantic signal
                (e.g. while the embedding service is unavailable).
            embedder_id: Id of the embedder of ``query_vector``; only items embedded by the
                same embedder are scored semantically.
            limit: Maximum number of results.
            mode: ``"hybrid"`` (fused), ``"embedding"`` (cosine only, over items of the same
                embedder) or ``"bm25"`` (lexical only, items with a matching term).
            weights: Fusion weights for ``"hybrid"``.
            now: Reference time for recency, unix seconds; defaults to the current time.
            only: Rank just these ids (a metadata filter's matches): the others are left out
                before scoring, so they lend no episode boost and set no BM25 scale.

        Returns:
            ``(memory id, score)`` pairs, best first, scores in 0..1.
        """
        if mode not in ("hybrid", "embedding", "bm25"):
            raise ValueError(f"unknown search mode {mode!r}")
        size = len(self._ids)
        if size == 0 or limit <= 0:
            return []
        allowed = None if only is None else self._mask(only)
        if allowed is not None and not allowed.any():
            return []

        cosine, semantic_rows = cosine_scores(
            self._vector_groups.get(embedder_id), None if mode == "bm25" else query_vector,
            embedder_id, size)
        if allowed is not None:
            cosine[~allowed] = 0.0
            semantic_rows = semantic_rows[allowed[semantic_rows]]

        if mode == "embedding":
            return self._results(np.clip(cosine, 0.0, 1.0), semantic_rows, limit)

        lexical = self._lexical.scores(query_text)
        if allowed is not None:
            lexical[~allowed] = 0.0
        best_lexical = float(lexical.max())
        if best_lexical > 0:
            lexical /= best_lexical
        if mode == "bm25":
            return self._results(lexical, np.flatnonzero(lexical > 0), limit)

        reference = time.time() if now is None else now
        fused = fused_scores(cosine, lexical, self._updated_at, reference, weights)
        if allowed is not None:
            fused[~allowed] = 0.0  # fused scores are >= 0: no boost to an episode from these
        boosted = fused
        if weights.episode > 0:
            boosted = fused + weights.episode * self._episodes.best(fused)
        if weights.date > 0:
            boosted = boosted + weights.date * named_dates(self._created_at, query_text,
                                                           reference)
        candidates = np.arange(size) if allowed is None else np.flatnonzero(allowed)
        return self._results(boosted / weights.ceiling, candidates, limit)

    def _results(
        self, scores: np.ndarray, candidates: np.ndarray, limit: int
    ) -> list[tuple[str, float]]:
        return [
            (self._ids[position], min(max(score, 0.0), 1.0))
            for position, score in top(scores, candidates, limit)
        ]
