"""Dates named in a search query, turned into the time spans the ranking boosts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voice_agent.memory.dates import MAX_SPANS, mentioned_spans

# Wednesday 25 November 2026, 15:00 UTC.
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC).timestamp()


def at(year: int, month: int, day: int, hour: int = 12) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def covered_days(query: str) -> set[tuple[int, int, int]]:
    """The days (as y, m, d at noon UTC) that some span of the query covers, in 2020-2026."""
    spans = mentioned_spans(query, NOW)
    days = set()
    for year in range(2020, 2027):
        for month in range(1, 13):
            for day in range(1, 32):
                try:
                    moment = at(year, month, day)
                except ValueError:
                    continue
                if any(moment in span for span in spans):
                    days.add((year, month, day))
    return days


@pytest.mark.parametrize(
    "query",
    [
        "What did Maria do on 31 July, 2023?",
        "what happened on 31st of July 2023",
        "Tell me about July 31, 2023",
        "what did I say on jul 31st 2023",
        "notes from 2023-07-31",
    ],
)
def test_a_day_with_a_year_covers_that_day_and_one_either_side(query: str) -> None:
    assert covered_days(query) == {(2023, 7, 30), (2023, 7, 31), (2023, 8, 1)}


def test_a_month_with_a_year_covers_the_month_and_a_day_either_side() -> None:
    days = covered_days("What workout class did Maria start in December 2023?")

    assert (2023, 12, 1) in days and (2023, 12, 31) in days
    assert (2023, 11, 30) in days and (2024, 1, 1) in days  # time zones
    assert (2023, 11, 29) not in days and (2024, 1, 2) not in days


def test_a_day_without_a_year_is_its_latest_occurrence_until_now() -> None:
    # 4 July 2026 has passed by NOW; 24 December 2026 has not, so it means 2025.
    assert (2026, 7, 4) in covered_days("What did I do on July 4th?")
    assert covered_days("what did we plan on 24 December") == {
        (2025, 12, 23), (2025, 12, 24), (2025, 12, 25)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What did I tell you yesterday?", (2026, 11, 24)),
        ("what did I eat today", (2026, 11, 25)),
        ("the book I mentioned 3 days ago", (2026, 11, 22)),
        ("the film from two days ago", (2026, 11, 23)),
    ],
)
def test_relative_days_count_back_from_now(query: str, expected: tuple[int, int, int]) -> None:
    assert expected in covered_days(query)
    assert len(covered_days(query)) == 3


@pytest.mark.parametrize(
    "query",
    [
        "May I ask what Sam likes to cook?",
        "Who are the 2 mayors Sam knows?",
        "I have 3 kids and a junk drawer",
        "music from the 1990s",
        "What did Caroline research?",
        "the march for climate",
        "I will call you on 31 February 2023",  # no such day
        "my PIN is 2023-13-45",
    ],
)
def test_text_without_a_real_date_names_no_span(query: str) -> None:
    assert mentioned_spans(query, NOW) == []


def test_several_dates_give_several_spans() -> None:
    spans = mentioned_spans("Between 3 March 2024 and June 2024, and yesterday", NOW)

    assert len(spans) == 3
    assert any(at(2024, 3, 3) in span for span in spans)
    assert any(at(2024, 6, 15) in span for span in spans)
    assert any(at(2026, 11, 24) in span for span in spans)


def test_a_query_full_of_dates_is_capped() -> None:
    query = " ".join(f"{day} May 2024" for day in range(1, 29))

    assert len(mentioned_spans(query, NOW)) == MAX_SPANS
