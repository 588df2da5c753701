"""``DELETE /api/memory``: "forget me" — every memory of the caller and all that hangs off it.

Memories, history entries, job records, hash guards, idempotency markers and change-log
entries are deleted (`MemoryStore.forget_user`); the warm index of this process is dropped and
the version counter moves on, so a warm index in any other process reloads. Deleting is
bounded in time: a forget that cannot finish within `FORGET_BUDGET_S` (a throttled table, a
very large account) answers 503 with ``Retry-After``, and calling again finishes the job.
Memories of other users are never read or touched: the store works inside the caller's
partition only.

An extraction job queued before the forget is dropped when it arrives (its record is gone),
so it cannot bring memories back.
"""

from __future__ import annotations

from voice_agent.memory.index_cache import drop_index
from voice_agent.memory.upstream import upstream_errors
from voice_agent.memory.wiring import MemoryDeps

__all__ = ["FORGET_BUDGET_S", "forget_memories"]

# The memory function answers within 15 s (template Timeout): leave room for the answer.
FORGET_BUDGET_S = 10.0


def forget_memories(user_id: str, deps: MemoryDeps, budget_s: float | None = None) -> None:
    """Deletes everything the user stored; returns once all of it is gone.

    Args:
        user_id: The caller (JWT ``sub``).
        deps: The memory dependencies.
        budget_s: Time to spend (default `FORGET_BUDGET_S`).

    Raises:
        ApiError: 503 (retry to finish) or 502 when the store fails or the budget runs out.
    """
    drop_index(user_id)  # also on failure: a partial forget must not be served from a cache
    with upstream_errors():
        deps.store.forget_user(user_id, FORGET_BUDGET_S if budget_s is None else budget_s)
    drop_index(user_id)  # a search racing the forget may have cached a partial state
