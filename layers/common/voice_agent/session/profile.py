"""Profile prefetch: the user's key facts put into the session's instructions.

So the assistant's first words already know the user ("Hello Sam…") without waiting for a
``search_memories`` round trip. It runs within a fixed budget and is skipped on timeout or
error: minting never waits for memory, and the model still has ``search_memories``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from voice_agent.observability import logger
from voice_agent.settings import get_settings

MAX_FACTS = 8
MAX_PROFILE_CHARS = 1200  # keeps the instructions (and their token cost) bounded
# Lexical probe for the facts that matter most at the start of a conversation. Lexical only:
# it needs no embedding call, so it fits the budget even on a cold start.
PROFILE_QUERY = ("name called job work works employer role company team project projects "
                 "routine every morning monday usually prefers likes favourite family wife "
                 "husband partner kids lives")

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="profile")


def budget_s() -> float:
    """``PROFILE_PREFETCH_MS`` (default 150; 0 turns the prefetch off) in seconds."""
    return max(0.0, get_settings().profile_prefetch_ms / 1000)


def load_profile(user_id: str) -> str | None:
    """The user's key facts as short lines, or None when nothing is known."""
    from voice_agent.memory.use_cases import key_facts
    from voice_agent.memory.wiring import memory_deps

    lines, size = [], 0
    for fact in key_facts(user_id, PROFILE_QUERY, MAX_FACTS, memory_deps()):
        line = f"- {fact.strip()}"
        if size + len(line) > MAX_PROFILE_CHARS:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) or None


def prefetch_profile(user_id: str) -> str | None:
    """:func:`load_profile` within the budget; None if it is off, slow or failing."""
    budget = budget_s()
    if budget <= 0:
        return None
    future = _pool.submit(load_profile, user_id)
    try:
        return future.result(timeout=budget)
    except FutureTimeout:
        logger.info("profile prefetch skipped: over budget", extra={"budget_s": budget})
    except Exception:  # noqa: BLE001 — memory trouble must never block minting
        logger.warning("profile prefetch failed", exc_info=True)
    return None
