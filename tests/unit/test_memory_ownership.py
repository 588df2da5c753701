"""Pure parts of memory ownership: dating imports (``created_at``), metadata filters, the
export shape's way back in, and filtered ranking."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from voice_agent.errors import Unprocessable
from voice_agent.memory.export import import_request
from voice_agent.memory.filters import matches, parse_filters_param
from voice_agent.memory.models import ExportedMemory, HistoryEntry, parse_created_at
from voice_agent.memory.ranking import IndexItem, MemoryIndex

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "utc"), [
    ("2024-03-01T18:00:00+01:00", "2024-03-01T17:00:00.000000Z"),
    ("2024-03-01T17:00:00Z", "2024-03-01T17:00:00.000000Z"),
    ("2024-03-01T17:00:00.123456-02:30", "2024-03-01T19:30:00.123456Z"),
    ("2026-06-01T12:00:30Z", "2026-06-01T12:00:30.000000Z"),  # within a minute of clock skew
])
def test_parse_created_at_with_offset_gives_utc_in_the_stores_format(value, utc):
    assert parse_created_at(value, NOW) == utc


@pytest.mark.parametrize(("value", "reason"), [
    ("2026-06-01T12:02:00Z", "future"),
    ("2024-03-01T17:00:00", "offset"),
    ("2024-03-01", "offset"),
    ("1 March 2024", "ISO 8601"),
    ("", "ISO 8601"),
])
def test_parse_created_at_rejects_future_missing_offset_and_garbage(value, reason):
    with pytest.raises(ValueError, match=reason):
        parse_created_at(value, NOW)


def test_matches_needs_every_pair_with_the_same_type_and_value():
    metadata = {"source": "user", "n": 2, "flag": True, "none": None, "nested": {"a": 1}}

    assert matches(metadata, {"source": "user", "n": 2.0})
    assert matches(metadata, {"flag": True, "none": None})
    assert matches(metadata, {})
    assert not matches(metadata, {"source": "user", "n": 3})
    assert not matches(metadata, {"flag": 1})
    assert not matches(metadata, {"n": True})
    assert not matches(metadata, {"n": "2"})
    assert not matches(metadata, {"missing": None})
    assert not matches(None, {"source": "user"})


def test_parse_filters_param_reads_a_json_object_of_scalars():
    assert parse_filters_param('{"source":"user","n":1}') == {"source": "user", "n": 1}
    assert parse_filters_param(None) is None and parse_filters_param(" ") is None
    for raw in ("not json", "[1]", '{"k":{"a":1}}', '{"k":[1]}', '"x"',
                "{" + ",".join(f'"k{i}":1' for i in range(11)) + "}", "[" * 5000):
        with pytest.raises(Unprocessable, match="^filters"):
            parse_filters_param(raw)


def test_import_request_adds_an_exported_memory_back_verbatim_with_its_date():
    exported = ExportedMemory(
        id="m1", memory="Works at Acme", metadata={"source": "user"},
        created_at="2024-01-02T10:00:00.000000Z", updated_at="2024-05-01T10:00:00.000000Z",
        history=[HistoryEntry(memory="Works at Acme", event="ADD",
                              at="2024-01-02T10:00:00.000000Z")])

    request = import_request(exported)

    assert request.model_dump(exclude_none=True) == {
        "messages": "Works at Acme", "metadata": {"source": "user"},
        "created_at": "2024-01-02T10:00:00.000000Z", "infer": False}


def _item(memory_id: str, text: str, vector: list[float], created: float) -> IndexItem:
    return IndexItem(memory_id, text, np.asarray(vector, dtype=np.float32), "e", created, created)


def test_filtered_search_ranks_only_the_allowed_ids_and_they_lend_no_episode_boost():
    day = 86_400.0
    index = MemoryIndex.build([
        _item("a", "coffee in the morning", [1, 0], 0.0),
        _item("b", "tea at noon", [0, 1], 60.0),  # same episode as a
        _item("c", "tea at night", [0, 1], 10 * day),
    ])
    query = np.asarray([1, 0], dtype=np.float32)

    unfiltered = dict(index.search("coffee", query, "e", 3, now=11 * day))
    filtered = dict(index.search("coffee", query, "e", 3, now=11 * day, only=["b", "c"]))

    assert set(filtered) == {"b", "c"}
    # Without a: b loses the boost of its episode mate, so it scores what c scores (same text
    # relevance) but for recency.
    assert unfiltered["b"] > filtered["b"]
    assert abs(filtered["b"] - filtered["c"]) < 0.02
    assert index.search("coffee", query, "e", 3, only=[]) == []
    assert [m for m, _ in index.search("coffee", query, "e", 3, mode="bm25", only=["b"])] == []
