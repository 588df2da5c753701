"""The memory feature's wiring: the I/O its use cases need, built once per process.

Handlers take `memory_deps()` (kept at module scope so a warm Lambda reuses its clients and
indexes); tests pass their own `MemoryDeps` or swap the process-wide one with
`reset_memory_deps`.
"""

from __future__ import annotations

import threading

from voice_agent.memory.embedding import Embedder, make_embedder
from voice_agent.memory.extraction import ToolLLM, llm_configured, make_llm
from voice_agent.memory.index_cache import clear_indexes
from voice_agent.memory.jobs import JobQueue, make_job_queue
from voice_agent.memory.store import MemoryStore
from voice_agent.memory.store_factory import make_store
from voice_agent.process_wide import ProcessWideValue
from voice_agent.settings import get_settings

__all__ = ["MemoryDeps", "max_memories_per_user", "memory_deps", "reset_memory_deps"]

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
            self._llm = make_llm(get_settings().memory_llm)
            self._llm_ready = True
        return self._llm

    @property
    def llm_enabled(self) -> bool:
        """Whether an LLM is configured, without building it (no key lookup)."""
        if self._llm_ready:
            return self._llm is not None
        return llm_configured(get_settings().memory_llm)


_deps: ProcessWideValue[MemoryDeps] = ProcessWideValue("memory deps", on_reset=clear_indexes)


def memory_deps() -> MemoryDeps:
    """The process-wide `MemoryDeps` (kept for warm Lambda reuse)."""
    return _deps.get_value(MemoryDeps)


def reset_memory_deps(deps: MemoryDeps | None = None) -> None:
    """Replaces (or forgets) the process-wide deps and the warm index cache (tests, dev)."""
    _deps.reset()  # forgets the indexes too
    _deps.set_value(deps)


def max_memories_per_user() -> int:
    """``MEMORY_MAX_PER_USER`` (default 10000; the settings reject anything below 1)."""
    return get_settings().memory_max_per_user
