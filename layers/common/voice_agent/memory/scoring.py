"""The signals of the hybrid score and their fusion: cosine, scaled BM25, recency; top results.

Semantic similarity is computed only between vectors of the same embedder id: vectors of
another embedder live in another space and are never compared (those items are still found
lexically).
"""

from __future__ import annotations

import numpy as np

from voice_agent.memory.vector_groups import VectorGroup
from voice_agent.memory.weights import HybridWeights

__all__ = ["cosine_scores", "fused_scores", "top"]

_SECONDS_PER_DAY = 86_400.0


def cosine_scores(group: VectorGroup | None, query_vector: np.ndarray | None,
                  embedder_id: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of every item to the query (0 where not comparable) and the rows scored.

    Args:
        group: The index's items embedded by ``embedder_id`` (None if it has none).
        query_vector: The query's embedding, or None to score nothing.
        embedder_id: The embedder of ``query_vector`` (named in errors).
        size: How many items the index holds.

    Raises:
        ValueError: The query vector's dimension is not the group's.
    """
    cosine = np.zeros(size, dtype=np.float32)
    semantic_rows = np.zeros(0, dtype=np.int64)
    if query_vector is None or group is None:
        return cosine, semantic_rows
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    if query.shape[0] != group.matrix.shape[1]:
        raise ValueError(
            f"query vector has {query.shape[0]} dimensions, "
            f"{embedder_id!r} vectors have {group.matrix.shape[1]}"
        )
    norm = float(np.linalg.norm(query))
    if norm > 0:
        # einsum runs single-threaded: a threaded BLAS gemv is memory-bound anyway, and
        # its spinning threads slow it down on a busy host (benchmarks/README.md).
        cosine[group.rows] = np.einsum("ij,j->i", group.matrix, query / norm)
        semantic_rows = group.rows
    return cosine, semantic_rows


def fused_scores(cosine: np.ndarray, lexical: np.ndarray, updated_at: np.ndarray,
                 reference: float, weights: HybridWeights) -> np.ndarray:
    """The weighted sum of clipped cosine, scaled BM25 and recency, before the boosts.

    Args:
        cosine: Cosine of each item to the query.
        lexical: BM25 of each item, divided by the best of them (0..1).
        updated_at: Last change of each item, unix seconds.
        reference: The time recency is measured from, unix seconds.
        weights: The fusion weights.
    """
    age_days = np.maximum(reference - updated_at, 0.0) / _SECONDS_PER_DAY
    recency = np.exp2(-age_days / weights.recency_half_life_days).astype(np.float32)
    fused: np.ndarray = (
        weights.semantic * np.clip(cosine, 0.0, 1.0)
        + weights.lexical * lexical
        + weights.recency * recency
    )
    return fused


def top(scores: np.ndarray, candidates: np.ndarray, limit: int) -> list[tuple[int, float]]:
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
