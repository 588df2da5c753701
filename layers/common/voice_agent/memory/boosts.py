"""The two boosts of the hybrid score that use when memories were created.

- Episodes: memories created close together in time (no gap over `EPISODE_GAP_SECONDS`) came
  from one conversation. What else was said in the conversation a good match came from is
  often what the question is after (the other half of "why", the place, the outcome), while
  sharing few words with the question. Each memory gains a share of the best fused score in
  its episode.
- Dates: a memory created on a day (or in a month) the query names gains a fixed boost
  (`voice_agent.memory.dates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voice_agent.memory.dates import mentioned_spans

__all__ = ["EPISODE_GAP_SECONDS", "Episodes", "named_dates"]

# Memories created with no gap longer than this between them form one episode. A voice
# conversation adds memories minutes apart; separate conversations are hours or days apart.
EPISODE_GAP_SECONDS = 30 * 60.0


@dataclass(frozen=True, slots=True)
class Episodes:
    """Memories grouped by creation time: positions in time order and where each group starts."""

    order: np.ndarray  # positions sorted by creation time
    starts: np.ndarray  # index into ``order`` where each episode begins
    of: np.ndarray  # episode number of each position

    @classmethod
    def of_times(cls, created_at: np.ndarray) -> Episodes:
        """Groups positions whose creation times (unix seconds) follow each other closely."""
        order = np.argsort(created_at, kind="stable")
        breaks = np.diff(created_at[order]) > EPISODE_GAP_SECONDS
        starts = np.concatenate(([0], np.flatnonzero(breaks) + 1)) if order.size else order
        number_in_order = np.cumsum(np.concatenate(([False], breaks)))
        of = np.empty(order.size, dtype=np.int64)
        of[order] = number_in_order
        return cls(order, starts, of)

    def best(self, scores: np.ndarray) -> np.ndarray:
        """For each position, the highest score in its episode."""
        best: np.ndarray = np.maximum.reduceat(scores[self.order], self.starts)[self.of]
        return best


def named_dates(created_at: np.ndarray, query_text: str, reference: float) -> np.ndarray:
    """Which positions were created (unix seconds) within a day or month the query names.

    Args:
        created_at: Creation time of each position.
        query_text: The query; relative dates in it are read against ``reference``.
        reference: The query's "now", unix seconds.
    """
    named = np.zeros(created_at.size, dtype=bool)
    for span in mentioned_spans(query_text, reference):
        named |= (created_at >= span.start) & (created_at < span.end)
    return named
