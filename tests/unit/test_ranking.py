"""Hybrid retrieval: BM25, cosine over like-for-like vectors, recency, fusion and speed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from voice_agent.memory.embedding import HashingEmbedder, LocalMiniLMEmbedder
from voice_agent.memory.lexical import BM25Index, tokenize
from voice_agent.memory.ranking import (
    CONTENT_WEIGHTS,
    DEFAULT_WEIGHTS,
    EPISODE_GAP_SECONDS,
    HybridWeights,
    IndexItem,
    MemoryIndex,
)
from voice_agent.memory.vectors import encode_vector

DAY_S = 86_400.0
NOW = 1_800_000_000.0


def _index(
    texts: list[str], embedder_id: str = "hashing:256", ages_days: list[float] | None = None
):
    embedder = HashingEmbedder()
    vectors = embedder.embed(texts)
    ages = ages_days or [0.0] * len(texts)
    items = [
        IndexItem(f"m{i}", text, vector, embedder_id, NOW - age * DAY_S)
        for i, (text, vector, age) in enumerate(zip(texts, vectors, ages, strict=True))
    ]
    return MemoryIndex.build(items), embedder


# --- tokenizer and BM25 -----------------------------------------------------------------------


def test_tokenize_lowercases_drops_stop_words_and_stems_lightly() -> None:
    tokens = tokenize("What does Caroline's sister do? She paints pictures of lakes!")

    assert tokens == ["carolin", "sister", "paint", "pictur", "lak"]


def test_tokenize_keeps_numbers_and_unicode_words() -> None:
    assert tokenize("Zoë flew to Zürich in 2021, flat 4B") == [
        "zoë",
        "flew",
        "zürich",
        "2021",
        "flat",
        "4b",
    ]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("running races", "runs race"),
        ("dancing", "dance"),
        ("stories", "story"),
        ("movies", "movie"),
        ("hiking", "hikes"),
        ("painted paintings", "paint painting"),
    ],
)
def test_tokenize_brings_word_forms_together(one: str, other: str) -> None:
    assert tokenize(one) == tokenize(other)


def test_bm25_finds_the_one_memory_with_a_rare_name() -> None:
    # Given many memories about the same person and one naming a rare person
    documents = [f"Sam likes hobby number {i} and goes there with friends" for i in range(200)]
    documents.insert(137, "Sam's sister Priyanka lives in Lisbon with friends")

    scores = BM25Index(documents).scores("Where does Priyanka live?")

    assert int(np.argmax(scores)) == 137
    assert np.count_nonzero(scores) == 1


def test_bm25_prefers_shorter_document_and_scores_zero_without_match() -> None:
    index = BM25Index(
        ["acme data engineer", "acme " + "filler words here " * 10, "nothing related"]
    )

    scores = index.scores("acme")

    assert scores[0] > scores[1] > 0
    assert scores[2] == 0
    assert not index.scores("").any()


# --- MemoryIndex ------------------------------------------------------------------------------


def test_search_returns_best_first_scores_in_unit_range_and_respects_limit() -> None:
    index, embedder = _index(
        ["Sam works at Acme as a data engineer", "Sam likes green tea", "Sam has a dog named Rex"]
    )
    query = "Where does Sam work?"

    results = index.search(query, embedder.embed([query])[0], embedder.id, limit=2, now=NOW)

    assert [memory_id for memory_id, _ in results][0] == "m0"
    assert len(results) == 2
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_items_of_another_embedder_are_never_compared_semantically() -> None:
    # Given an item whose stored vector equals the query vector, but from another embedder
    query_vector = np.ones(4, dtype=np.float32) / 2
    items = [
        IndexItem("same-space", "unrelated words", np.array([1.0, 0, 0, 0]), "a:4", NOW),
        IndexItem("other-space", "more words", query_vector, "b:4", NOW),
    ]
    index = MemoryIndex.build(items)

    embedding_only = index.search("query", query_vector, "a:4", limit=5, mode="embedding", now=NOW)
    hybrid = dict(index.search("query", query_vector, "a:4", limit=5, now=NOW,
                               weights=CONTENT_WEIGHTS))

    # Then it is not in the embedding results at all, and in hybrid it gets no semantic credit
    assert [memory_id for memory_id, _ in embedding_only] == ["same-space"]
    assert hybrid["other-space"] < hybrid["same-space"]
    assert hybrid["other-space"] == pytest.approx(0.02)  # recency alone (default weight)


def test_vectors_stored_as_bytes_rank_like_float_vectors() -> None:
    texts = ["Sam works at Acme", "Sam likes tea", "Sam plays chess on Sundays"]
    vectors = HashingEmbedder().embed(texts)
    as_floats = MemoryIndex.build(
        [
            IndexItem(f"m{i}", t, v, "h", NOW)
            for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
        ]
    )
    as_bytes = MemoryIndex.build(
        [
            IndexItem(f"m{i}", t, encode_vector(v) if i % 2 else v, "h", NOW)
            for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
        ]
    )
    query = HashingEmbedder().embed(["chess"])[0]

    expected = [m for m, _ in as_floats.search("chess", query, "h", 3, mode="embedding")]
    assert [m for m, _ in as_bytes.search("chess", query, "h", 3, mode="embedding")] == expected


def test_search_without_query_vector_falls_back_to_lexical_and_recency() -> None:
    index, _ = _index(["Sam works at Acme", "Sam likes tea"])

    results = index.search("Acme", None, "hashing:256", limit=5, now=NOW)

    assert results[0][0] == "m0"
    assert index.search("Acme", None, "hashing:256", limit=5, mode="embedding") == []


def test_newer_memory_wins_a_tie() -> None:
    index, embedder = _index(["Sam lives in Berlin", "Sam lives in Berlin"], ages_days=[400, 2])
    query = "Where does Sam live?"

    results = index.search(query, embedder.embed([query])[0], embedder.id, limit=2, now=NOW)

    assert [memory_id for memory_id, _ in results] == ["m1", "m0"]


def test_bm25_mode_returns_only_lexical_matches() -> None:
    index, embedder = _index(["Sam works at Acme", "Sam likes tea", "Bob plays chess"])

    results = index.search("tea", embedder.embed(["tea"])[0], embedder.id, 5, mode="bm25")

    assert [memory_id for memory_id, _ in results] == ["m1"]
    assert results[0][1] == pytest.approx(1.0)


def test_build_rejects_mixed_dimensions_and_search_rejects_wrong_query_size() -> None:
    with pytest.raises(ValueError, match="differ in dimension"):
        MemoryIndex.build(
            [IndexItem("a", "x", np.ones(4), "e", NOW), IndexItem("b", "y", np.ones(8), "e", NOW)]
        )
    index = MemoryIndex.build([IndexItem("a", "x", np.ones(4), "e", NOW)])
    with pytest.raises(ValueError, match="dimensions"):
        index.search("x", np.ones(8), "e")


def test_empty_index_and_zero_limit_return_nothing() -> None:
    assert MemoryIndex.build([]).search("anything", np.ones(4), "e") == []
    index, embedder = _index(["Sam works at Acme"])
    assert index.search("Acme", embedder.embed(["Acme"])[0], embedder.id, limit=0) == []


def test_hybrid_weights_must_be_a_convex_mix() -> None:
    with pytest.raises(ValueError):
        HybridWeights(semantic=0.8, lexical=0.8, recency=0.0, recency_half_life_days=30)
    with pytest.raises(ValueError):
        HybridWeights(semantic=0.5, lexical=0.5, recency=0.0, recency_half_life_days=0)


# --- context: episodes and dates ---------------------------------------------------------------


def _timed_index(texts_and_times: list[tuple[str, float]]):
    embedder = HashingEmbedder()
    vectors = embedder.embed([text for text, _ in texts_and_times])
    items = [
        IndexItem(f"m{i}", text, vector, embedder.id, at, at)
        for i, ((text, at), vector) in enumerate(zip(texts_and_times, vectors, strict=True))
    ]
    return MemoryIndex.build(items), embedder


def _ids(index, embedder, query: str, weights=DEFAULT_WEIGHTS, limit: int = 5) -> list[str]:
    vector = embedder.embed([query])[0]
    return [m for m, _ in index.search(query, vector, embedder.id, limit, weights=weights,
                                       now=NOW)]


def _unit(cosine: float) -> np.ndarray:
    """A vector with the given cosine to the query vector ``QUERY_AXIS``."""
    return np.array([cosine, np.sqrt(1 - cosine**2), 0.0], dtype=np.float32)


QUERY_AXIS = np.array([1.0, 0.0, 0.0], dtype=np.float32)


def _vector_ranking(cosines_and_times: list[tuple[float, float]],
                    weights=DEFAULT_WEIGHTS) -> list[str]:
    """Ranks memories that share no word with the query: only cosine, recency and context."""
    index = MemoryIndex.build([
        IndexItem(f"m{i}", f"memory{i}", _unit(cosine), "v:3", at, at)
        for i, (cosine, at) in enumerate(cosines_and_times)
    ])
    return [m for m, _ in index.search("question", QUERY_AXIS, "v:3", 5, weights=weights,
                                       now=NOW)]


def test_memory_from_the_conversation_of_the_best_match_outranks_an_equal_stranger() -> None:
    # Given a strong match, a weak one said minutes later in the same conversation, and a
    # slightly less weak one from another day
    trip = NOW - 30 * DAY_S
    memories = [(0.9, trip), (0.30, trip + 300), (0.35, NOW - 2 * DAY_S)]

    # When ranked without and with the episode boost
    without = _vector_ranking(memories, replace(DEFAULT_WEIGHTS, episode=0.0))
    with_episodes = _vector_ranking(memories)

    # Then the conversation-mate of the best match moves ahead of the stranger
    assert without == ["m0", "m2", "m1"]
    assert with_episodes == ["m0", "m1", "m2"]


def test_episodes_split_at_gaps_longer_than_half_an_hour() -> None:
    start = NOW - 10 * DAY_S
    just_inside = start + EPISODE_GAP_SECONDS - 1
    memories = [
        (0.9, start),
        (0.30, just_inside),  # same conversation as m0
        (0.35, just_inside + EPISODE_GAP_SECONDS + 1),  # the next one, so no boost
        (0.32, just_inside + EPISODE_GAP_SECONDS + 60),  # same conversation as m2
    ]

    assert _vector_ranking(memories) == ["m0", "m1", "m2", "m3"]


def test_memory_created_on_the_day_the_query_names_comes_first() -> None:
    # Given the same kind of memory on three different days
    days = [datetime(2024, 3, day, 18, tzinfo=UTC).timestamp() for day in (1, 3, 20)]
    index, embedder = _timed_index([
        ("Sam went to the cinema with Ana", days[0]),
        ("Sam went to the cinema with Ana and Luis", days[1]),
        ("Sam went to the cinema", days[2]),
    ])

    # When the question names one of the days, in any common form
    for query in ("What did Sam do on 3 March 2024?", "what did Sam do on 2024-03-03",
                  "What did Sam do on March 3rd, 2024?"):
        # Then the memory created that day ranks first
        assert _ids(index, embedder, query)[0] == "m1", query
    # And without a date the most similar one does
    assert _ids(index, embedder, "Did Sam go to the cinema?")[0] == "m2"


def test_boosted_scores_stay_in_unit_range_and_best_first() -> None:
    at = datetime(2024, 3, 3, 9, tzinfo=UTC).timestamp()
    index, embedder = _timed_index([("Sam went to the cinema on 3 March 2024", at),
                                    ("Sam ate popcorn at the cinema", at + 60)])
    query = "Sam cinema 3 March 2024"

    results = index.search(query, embedder.embed([query])[0], embedder.id, 5, now=NOW)

    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_content_weights_ignore_episodes_and_dates() -> None:
    assert (CONTENT_WEIGHTS.episode, CONTENT_WEIGHTS.date) == (0.0, 0.0)
    assert CONTENT_WEIGHTS.semantic == DEFAULT_WEIGHTS.semantic
    with pytest.raises(ValueError):
        replace(DEFAULT_WEIGHTS, episode=-0.1)


# --- a real case from LoCoMo ------------------------------------------------------------------

# Question and observation facts quoted from LoCoMo conv-41 (Maharana et al., ACL 2024;
# CC BY-NC 4.0, github.com/snap-research/locomo). In the full conversation, pure MiniLM
# embedding ranks the evidence fact (the first one) 28th; the hybrid ranks it 1st. The others
# are the facts that pure embedding ranks highest for this question.
LOCOMO_QUESTION = "Why did John feel inspired to join the military after the visit to the hospital?"
LOCOMO_EVIDENCE = (
    "John visited a veteran's hospital and met an elderly veteran named Samuel who shared "
    "inspiring and heartbreaking stories."
)
LOCOMO_DISTRACTORS = [
    "John had a meaningful experience at a military memorial with his kids last week.",
    "John feels a sense of purpose and passion in helping out with the fire-fighting brigade, "
    "considering it his true calling.",
    "John mentioned his military background and the sense of bond and support he feels in the "
    "firefighting brigade.",
    "John respects the military and believes in standing up for beliefs.",
    "John organized a small party for some veterans to share their stories and make "
    "connections, which was heartwarming for him.",
]


def test_hybrid_finds_rare_term_fact_that_pure_embedding_ranks_last() -> None:
    # Given the evidence fact among the facts MiniLM prefers for this question
    embedder = LocalMiniLMEmbedder()
    texts = [LOCOMO_EVIDENCE, *LOCOMO_DISTRACTORS]
    vectors = embedder.embed(texts)
    index = MemoryIndex.build(
        [
            IndexItem(f"m{i}", text, encode_vector(vector), embedder.id, NOW)
            for i, (text, vector) in enumerate(zip(texts, vectors, strict=True))
        ]
    )
    query_vector = embedder.embed([LOCOMO_QUESTION])[0]

    # When
    by_embedding = index.search(LOCOMO_QUESTION, query_vector, embedder.id, 6, mode="embedding")
    by_hybrid = index.search(LOCOMO_QUESTION, query_vector, embedder.id, 6, now=NOW)

    # Then pure embedding puts it last, the hybrid first (the rare word "hospital" decides)
    assert [memory_id for memory_id, _ in by_embedding][-1] == "m0"
    assert by_hybrid[0][0] == "m0"


# --- speed ------------------------------------------------------------------------------------


def test_ranking_10k_memories_in_many_episodes_finds_the_planted_match() -> None:
    # Given 10,000 memories of 12 random words with 384-dim int8 vectors, created over a year
    # (thousands of episodes), and one memory whose words and vector match the query exactly.
    # Speed is measured by benchmarks/memory_eval.py and memory_speed.py, not here.
    rng = np.random.default_rng(5)
    word_ids = rng.integers(0, 3000, size=(10_000, 12))
    vectors = rng.standard_normal((10_000, 384)).astype(np.float32)
    created = NOW - rng.random(10_000) * 365 * DAY_S
    texts = [" ".join(f"word{w}" for w in word_ids[i]) for i in range(10_000)]
    planted = 4321
    query_text, query_vector = texts[planted], vectors[planted]
    items = [
        IndexItem(f"m{i}", texts[i], encode_vector(vectors[i]), "e", created[i], created[i])
        for i in range(10_000)
    ]

    results = MemoryIndex.build(items).search(query_text, query_vector, "e", 10, now=NOW)

    assert len(results) == 10
    assert results[0][0] == f"m{planted}"
    assert all(0.0 <= score <= 1.0 for _, score in results)
