"""How the hybrid search mixes its signals: the weights, the tuned defaults and the modes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["CONTENT_WEIGHTS", "DEFAULT_WEIGHTS", "HybridWeights", "SearchMode"]

SearchMode = Literal["hybrid", "embedding", "bm25"]


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


# Tuned by grid search on LoCoMo dev (benchmarks/memory_eval.py --tune, MiniLM); the recall
# figures, the cross-validation and how flat the grid is around this point are in
# benchmarks/README.md. Episodes and dates carry most of the gain over plain fusion; recency
# barely matters on this data, so it mostly breaks ties.
# Raw cosines are used on purpose: rescaling them per query (min-max) or fusing ranks (RRF)
# scored the same with MiniLM on the full conversations but throws away how close the
# candidates really are, which in small per-user indexes lets a clear lexical match lose to a
# marginally "more similar" memory. Embedders whose cosines crowd together need their own
# weights (see benchmarks/README.md).
DEFAULT_WEIGHTS = HybridWeights(
    semantic=0.70, lexical=0.28, recency=0.02, recency_half_life_days=180.0,
    episode=0.4, date=0.3,
)

# Similarity of content alone, without the context boosts: for finding the memories a new
# fact may update, and the profile facts, where a memory's conversation-mates or creation day
# say nothing.
CONTENT_WEIGHTS = replace(DEFAULT_WEIGHTS, episode=0.0, date=0.0)
