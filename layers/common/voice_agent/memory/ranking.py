"""Hybrid retrieval over one user's memories: cosine similarity + BM25 + a mild recency boost,
then two boosts that use when memories were created.

A `MemoryIndex` is built from all of a user's memories (they fit in memory: ~1 KB each) and
answers queries in-process. Semantic similarity is computed only between vectors of the same
embedder id: vectors of another embedder live in another space and are never compared, those
items are still found lexically.

This module is the entry point; the parts live in their own modules:

- `voice_agent.memory.index`: `IndexItem`, `MemoryIndex` (build, with_changes, search).
- `voice_agent.memory.weights`: `HybridWeights`, the tuned `DEFAULT_WEIGHTS`, `CONTENT_WEIGHTS`.
- `voice_agent.memory.scoring`: the signals (cosine, BM25, recency), their fusion, top results.
- `voice_agent.memory.boosts`: episodes (`EPISODE_GAP_SECONDS`) and dates the query names.
- `voice_agent.memory.vector_groups`: the per-embedder vector matrices of an index.
"""

from __future__ import annotations

from voice_agent.memory.boosts import EPISODE_GAP_SECONDS
from voice_agent.memory.index import IndexItem, MemoryIndex
from voice_agent.memory.weights import (
    CONTENT_WEIGHTS,
    DEFAULT_WEIGHTS,
    HybridWeights,
    SearchMode,
)

__all__ = [
    "CONTENT_WEIGHTS",
    "DEFAULT_WEIGHTS",
    "EPISODE_GAP_SECONDS",
    "HybridWeights",
    "IndexItem",
    "MemoryIndex",
    "SearchMode",
]
