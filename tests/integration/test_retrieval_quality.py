"""Retrieval quality on the LoCoMo dev slice, as `benchmarks/memory_eval.py` measures it.

The benchmark prints the figures; this test keeps them from sliding back. Its bounds sit a
little below what was measured (hybrid recall@10 0.827, 1.20x BM25's 0.687; 0.764 without
the episode and date boosts), so noise between machines does not fail it, a real regression
does. The data set stays in ``shared/data`` (CC BY-NC 4.0) and is only read.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.memory_eval import DEFAULT_DATA, evaluate, load_conversations, prepare
from voice_agent.memory.embedding import LocalMiniLMEmbedder
from voice_agent.memory.ranking import DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def locomo():
    assert DEFAULT_DATA.is_file(), f"the LoCoMo dev slice is expected at {DEFAULT_DATA}"
    conversations = load_conversations(DEFAULT_DATA)
    return conversations, prepare(conversations, LocalMiniLMEmbedder())


def recall10(locomo, mode, weights=DEFAULT_WEIGHTS) -> float:
    conversations, prepared = locomo
    scores, _ = evaluate(conversations, prepared, mode, weights)
    assert scores["all"].count == 480  # questions with a fact whose evidence matches
    return scores["all"].recall10


def test_hybrid_recall_at_10_is_well_above_bm25_and_embeddings(locomo) -> None:
    hybrid, bm25, embedding = (recall10(locomo, mode) for mode in ("hybrid", "bm25", "embedding"))

    assert bm25 == pytest.approx(0.687, abs=0.005)  # the baseline itself is not moving
    assert hybrid >= 1.18 * bm25
    assert hybrid >= embedding + 0.08


def test_episodes_and_dates_each_add_recall(locomo) -> None:
    full = recall10(locomo, "hybrid")
    no_episodes = recall10(locomo, "hybrid", replace(DEFAULT_WEIGHTS, episode=0.0))
    no_dates = recall10(locomo, "hybrid", replace(DEFAULT_WEIGHTS, date=0.0))
    neither = recall10(locomo, "hybrid", replace(DEFAULT_WEIGHTS, episode=0.0, date=0.0))

    assert full - neither >= 0.04
    assert full > no_episodes > neither
    assert full > no_dates > neither
