"""Hybrid retrieval over one user's memories: cosine similarity + BM25 + a mild recency boost,
then two boosts that use when memories were created.

A `MemoryIndex` is built from all of a user's memories (they fit in memory: ~1 KB each) and
answers queries in-process. Semantic similarity is computed only between vectors of the same
embedder id: vectors of another embedder live in another space and are never compared, those
items are still found lexically.

- Episodes: memories created close together in time (no gap over `EPISODE_GAP_SECONDS`) came
  from one conversation. What else was said in the conversation a good match came from is
  often what the question is after (the other half of "why", the place, the outcome), while
  sharing few words with the question. Each memory gains a share of the best fused score in
  its episode.
- Dates: a memory created on a day (or in a month) the query names gains a fixed boost
  (`voice_agent.memory.dates`).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from voice_agent.memory.dates import mentioned_spans
from voice_agent.memory.lexical import BM25Index
from voice_agent.memory.vectors import decode_vectors

__all__ = [
    "CONTENT_WEIGHTS",
    "DEFAULT_WEIGHTS",
    "EPISODE_GAP_SECONDS",
    "HybridWeights",
    "IndexItem",
    "MemoryIndex",
    "SearchMode",
]

SearchMode = Literal["hybrid", "embedding", "bm25"]

_SECONDS_PER_DAY = 86_400.0

# Memories created with no gap longer than this between them form one episode. A voice
# conversation adds memories minutes apart; separate conversations are hours or days apart.
EPISODE_GAP_SECONDS = 30 * 60.0


@dataclass(frozen=True, slots=True)
class HybridWeights:
    """How the hybrid score mixes its signals; the three weights sum to 1.

    Attributes:
        semantic: Weight of cosine similarity (clipped to 0..1, not rescaled per query).
        lexical: Weight of BM25, divided by the best BM25 score of the query (0..1).
        recency: Weight of ``0.5 ** (age_days / recency_half_life_days)``.
        recency_half_life_days: Age at which the recency signal halves.
        episode: Share of the best fused score in a memory's episode that it gains.
        date: Boost of a memory created within a day or month the query names.
    """

    semantic: float
    lexical: float
    recency: float
    recency_half_life_days: float
    episode: float = 0.0
    date: float = 0.0

    def __post_init__(self) -> None:
        weights = (self.semantic, self.lexical, self.recency)
        if min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-6:
            raise ValueError("hybrid weights must be non-negative and sum to 1")
        if self.recency_half_life_days <= 0:
            raise ValueError("recency_half_life_days must be positive")
        if self.episode < 0 or self.date < 0:
            raise ValueError("episode and date boosts must be non-negative")

    @property
    def ceiling(self) -> float:
        """Highest possible fused score; scores are divided by it to stay within 0..1."""
        return 1.0 + self.episode + self.date


# Tuned by grid search on LoCoMo dev (benchmarks/memory_eval.py --tune, 480 scorable
# questions, MiniLM): recall@10 0.827 / recall@5 0.722, against 0.711 / 0.640 for embeddings
# alone and 0.687 / 0.625 for BM25 alone. Without the episode and date boosts the same fusion
# reaches 0.764; episodes alone bring it to ~0.80, dates (33 questions name a day, 29 a month)
# the rest. Tuned on three conversations and scored on the fourth, the hybrid keeps 0.821, and
# the grid is flat around this point (0.822-0.827 for semantic 0.70-0.80, episode 0.4-0.6,
# date 0.2-0.3). Recency barely matters on this data, so it mostly breaks ties.
# Raw cosines are used on purpose: rescaling them per query (min-max) or fusing ranks (RRF)
# scored the same with MiniLM on the full conversations but throws away how close the
# candidates really are, which in small per-user indexes lets a clear lexical match lose to a
# marginally "more similar" memory. Embedders whose cosines crowd together
# (multilingual-e5-small: 0.7-0.9) need their own weights (see benchmarks/README.md).
DEFAULT_WEIGHTS = HybridWeights(
    semantic=0.70, lexical=0.28, recency=0.02, recency_half_life_days=180.0,
    episode=0.4, date=0.3,
)

# Similarity of content alone, without the context boosts: for finding the memories a new
# fact may update, and the profile facts, where a memory's conversation-mates or creation day
# say nothing.
CONTENT_WEIGHTS = replace(DEFAULT_WEIGHTS, episode=0.0, date=0.0)


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


@dataclass(frozen=True, slots=True)
class _VectorGroup:
    rows: np.ndarray  # positions of the items in the index
    matrix: np.ndarray  # (len(rows), dims) float32, unit-length rows


def _vector_group(positions: list[int], vectors: list[np.ndarray | bytes]) -> _VectorGroup:
    blobs = [v for v in vectors if isinstance(v, bytes | bytearray | memoryview)]
    if len(blobs) == len(vectors):
        dims = len(vectors[0]) - 4  # encoded size is 4 + dims (vectors module)
        matrix = decode_vectors([bytes(b) for b in blobs], dims)
    else:
        matrix = np.vstack(
            [
                decode_vectors([bytes(v)], len(v) - 4)[0]
                if isinstance(v, bytes | bytearray | memoryview)
                else np.asarray(v, dtype=np.float32).reshape(-1)
                for v in vectors
            ]
        ).astype(np.float32, copy=False)
    # Quantised vectors are not exactly unit length any more; cosine needs them to be.
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return _VectorGroup(np.asarray(positions, dtype=np.int64), np.ascontiguousarray(matrix))


def _checked_group(embedder_id: str, positions: list[int],
                   vectors: list[np.ndarray | bytes]) -> _VectorGroup:
    try:
        return _vector_group(positions, vectors)
    except ValueError as error:
        raise ValueError(f"vectors of embedder {embedder_id!r} differ in dimension") from error


@dataclass(frozen=True, slots=True)
class _Episodes:
    """Memories grouped by creation time: positions in time order and where each group starts."""

    order: np.ndarray  # positions sorted by creation time
    starts: np.ndarray  # index into ``order`` where each episode begins
    of: np.ndarray  # episode number of each position

    @classmethod
    def of_times(cls, created_at: np.ndarray) -> _Episodes:
        order = np.argsort(created_at, kind="stable")
        breaks = np.diff(created_at[order]) > EPISODE_GAP_SECONDS
        starts = np.concatenate(([0], np.flatnonzero(breaks) + 1)) if order.size else order
        number_in_order = np.cumsum(np.concatenate(([False], breaks)))
        of = np.empty(order.size, dtype=np.int64)
        of[order] = number_in_order
        return cls(order, starts, of)

    def best(self, scores: np.ndarray) -> np.ndarray:
        """For each position, the highest score in its episode."""
        return np.maximum.reduceat(scores[self.order], self.starts)[self.of]


def _is_sorted(ids: list[str]) -> bool:
    return all(a < b for a, b in zip(ids, ids[1:], strict=False))


def _top(scores: np.ndarray, candidates: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """Best ``limit`` (position, score) among candidate positions, best first."""
    if limit <= 0 or candidates.size == 0:
        return []
    candidate_scores = scores[candidates]
    if candidates.size > limit:
        keep = np.argpartition(-candidate_scores, limit - 1)[:limit]
        candidates, candidate_scores = candidates[keep], candidate_scores[keep]
    # Ties go to the earlier position, so results are deterministic.
    order = np.lexsort((candidates, -candidate_scores))
    return [(int(candidates[i]), float(candidate_scores[i])) for i in order]


class MemoryIndex:
    """Immutable per-user search index; build once, query from any thread."""

    def __init__(
        self,
        ids: list[str],
        updated_at: np.ndarray,
        created_at: np.ndarray,
        lexical: BM25Index,
        vector_groups: dict[str, _VectorGroup],
    ) -> None:
        """Use `MemoryIndex.build`."""
        self._ids = ids
        self._updated_at = updated_at
        self._created_at = created_at
        self._episodes = _Episodes.of_times(created_at)
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
            vector_groups[embedder_id] = _checked_group(embedder_id, positions, vectors)
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
        old_groups = {
            embedder_id: (group, np.full(len(self._ids), -1, dtype=np.int64))
            for embedder_id, group in self._vector_groups.items()
        }
        for group, row_of in old_groups.values():
            row_of[group.rows] = np.arange(group.rows.size)
        updated_at = np.empty(len(entries), dtype=np.float64)
        created_at = np.empty(len(entries), dtype=np.float64)
        # Per embedder: new positions, old rows to copy (or -1) and vectors of new items.
        grouped: dict[str, tuple[list[int], list[int], list[np.ndarray | bytes]]] = {}
        embedder_of = self._embedder_of()
        for position, source in enumerate(sources):
            if isinstance(source, int):
                embedder_id = embedder_of[source]
                updated_at[position] = self._updated_at[source]
                created_at[position] = self._created_at[source]
                row = int(old_groups[embedder_id][1][source])
                vector: np.ndarray | bytes | None = None
            else:
                embedder_id, row, vector = source.embedder_id, -1, source.vector
                updated_at[position] = source.updated_at
                created_at[position] = source.created
            group_positions, rows, vectors = grouped.setdefault(embedder_id, ([], [], []))
            group_positions.append(position)
            rows.append(row)
            if vector is not None:
                vectors.append(vector)
        vector_groups = {}
        for embedder_id, (group_positions, rows, vectors) in grouped.items():
            if not vectors:
                old = old_groups[embedder_id][0].matrix
                matrix = old[np.asarray(rows, dtype=np.int64)]
                vector_groups[embedder_id] = _VectorGroup(
                    np.asarray(group_positions, dtype=np.int64), np.ascontiguousarray(matrix))
                continue
            fresh = _checked_group(embedder_id, list(range(len(vectors))), vectors).matrix
            row_index = np.asarray(rows, dtype=np.int64)
            reused = row_index >= 0
            matrix = np.empty((row_index.size, fresh.shape[1]), dtype=np.float32)
            if reused.any():
                if old_groups[embedder_id][0].matrix.shape[1] != fresh.shape[1]:
                    raise ValueError(
                        f"vectors of embedder {embedder_id!r} differ in dimension")
                matrix[reused] = old_groups[embedder_id][0].matrix[row_index[reused]]
            matrix[~reused] = fresh
            vector_groups[embedder_id] = _VectorGroup(
                np.asarray(group_positions, dtype=np.int64), matrix)
        lexical = self._lexical.reordered(
            [source if isinstance(source, int) else source.text for source in sources])
        return MemoryIndex(ids, updated_at, created_at, lexical, vector_groups)

    def _embedder_of(self) -> list[str]:
        embedder_of = [""] * len(self._ids)
        for embedder_id, group in self._vector_groups.items():
            for position in group.rows.tolist():
                embedder_of[position] = embedder_id
        return embedder_of

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

        cosine = np.zeros(size, dtype=np.float32)
        semantic_rows = np.zeros(0, dtype=np.int64)
        group = self._vector_groups.get(embedder_id)
        if query_vector is not None and group is not None and mode != "bm25":
            query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
            if query.shape[0] != group.matrix.shape[1]:
                raise ValueError(
                    f"query vector has {query.shape[0]} dimensions, "
                    f"{embedder_id!r} vectors have {group.matrix.shape[1]}"
                )
            norm = float(np.linalg.norm(query))
            if norm > 0:
                # einsum runs single-threaded: a threaded BLAS gemv is memory-bound anyway and
                # on a busy 2-core host its spinning threads made it 10-40x slower (measured).
                cosine[group.rows] = np.einsum("ij,j->i", group.matrix, query / norm)
                semantic_rows = group.rows
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
        age_days = np.maximum(reference - self._updated_at, 0.0) / _SECONDS_PER_DAY
        recency = np.exp2(-age_days / weights.recency_half_life_days).astype(np.float32)
        fused = (
            weights.semantic * np.clip(cosine, 0.0, 1.0)
            + weights.lexical * lexical
            + weights.recency * recency
        )
        if allowed is not None:
            fused[~allowed] = 0.0  # fused scores are >= 0: no boost to an episode from these
        boosted = fused
        if weights.episode > 0:
            boosted = fused + weights.episode * self._episodes.best(fused)
        if weights.date > 0:
            spans = mentioned_spans(query_text, reference)
            if spans:
                named = np.zeros(size, dtype=bool)
                for span in spans:
                    named |= (self._created_at >= span.start) & (self._created_at < span.end)
                boosted = boosted + weights.date * named
        candidates = np.arange(size) if allowed is None else np.flatnonzero(allowed)
        return self._results(boosted / weights.ceiling, candidates, limit)

    def _results(
        self, scores: np.ndarray, candidates: np.ndarray, limit: int
    ) -> list[tuple[str, float]]:
        return [
            (self._ids[position], min(max(score, 0.0), 1.0))
            for position, score in _top(scores, candidates, limit)
        ]
