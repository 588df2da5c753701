"""Dates mentioned in a search query, as time spans to match memories' creation times against.

People ask a memory about a day ("what did I tell you on 31 July 2023?", "yesterday") or a
month ("what did I start in March 2024?"). Neither the embedding nor BM25 can connect such a
query with a memory whose text never names that date, but the memory's creation time can: the
ranking boosts memories created within a span the query names (`voice_agent.memory.ranking`).

English forms are recognised, case-insensitively:

- a day with a year: ``31 July 2023``, ``31st of July, 2023``, ``July 31, 2023``,
  ``2023-07-31``;
- a day without a year (``on July 4th``, ``4 July``): its latest occurrence not after now;
- a month with a year: ``July 2023``, ``in Jul 2023``;
- ``today``, ``yesterday``, ``N days ago`` (N up to 31).

Day spans are widened by a day on both sides: creation times are UTC while the user speaks in
local time, and a memory is often stored the day after the event it records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["MAX_SPANS", "TimeSpan", "mentioned_spans"]

_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Full names and the usual abbreviations ("Sept" too); "may" only in full, it is one already.
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d{2})"

_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE)
_ISO_DAY = re.compile(r"\b((?:19|20)\d{2})-(\d{2})-(\d{2})\b")
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b", re.IGNORECASE)
# "on July 4": the preposition keeps "May 5 friends came" from reading as a date.
_MONTH_DAY = re.compile(rf"\b(?:on|since|from|until)\s+{_MONTH}\s+{_DAY}\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE)
_TODAY = re.compile(r"\b(today|tonight|this morning|this afternoon|this evening)\b",
                    re.IGNORECASE)
_YESTERDAY = re.compile(r"\b(yesterday|last night)\b", re.IGNORECASE)
_DAYS_AGO = re.compile(r"\b(\d{1,2}|one|two|three|four|five|six)\s+days?\s+ago\b",
                       re.IGNORECASE)
_SMALL_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}

# A question names a date or two; a query naming dozens is not one, and each span costs a pass
# over the user's memories.
MAX_SPANS = 8
_DAY_S = 86_400.0
_DAY_SLACK_S = _DAY_S


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A half-open interval ``[start, end)`` of unix seconds."""

    start: float
    end: float

    def __contains__(self, moment: float) -> bool:
        return self.start <= moment < self.end


def _month_number(name: str) -> int:
    prefix = name.lower().rstrip(".")[:3]
    return next(i for i, month in enumerate(_MONTHS, start=1) if month.startswith(prefix))


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _day_span(day: date) -> TimeSpan:
    start = _midnight(day)
    return TimeSpan(start - _DAY_SLACK_S, start + _DAY_S + _DAY_SLACK_S)


def _month_span(year: int, month: int) -> TimeSpan:
    start = _midnight(date(year, month, 1))
    following = date(year + month // 12, month % 12 + 1, 1)
    return TimeSpan(start - _DAY_SLACK_S, _midnight(following) + _DAY_SLACK_S)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # "31 February"
        return None


def _latest_occurrence(month: int, day: int, today: date) -> date | None:
    for year in (today.year, today.year - 1):
        candidate = _safe_date(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def mentioned_spans(text: str, now: float) -> list[TimeSpan]:
    """The days and months ``text`` names, as spans of unix seconds (empty when none).

    At most `MAX_SPANS` are returned, days first.

    Args:
        text: A search query.
        now: The current time, unix seconds: the reference for "yesterday" and for days named
            without a year.
    """
    today = datetime.fromtimestamp(now, UTC).date()
    days: list[date | None] = []
    consumed = text
    for pattern, order in ((_DAY_MONTH_YEAR, "dmy"), (_MONTH_DAY_YEAR, "mdy")):
        for match in pattern.finditer(consumed):
            parts = dict(zip(order, match.groups(), strict=True))
            days.append(_safe_date(int(parts["y"]), _month_number(parts["m"]), int(parts["d"])))
        consumed = pattern.sub(" ", consumed)
    for match in _ISO_DAY.finditer(consumed):
        days.append(_safe_date(int(match[1]), int(match[2]), int(match[3])))
    consumed = _ISO_DAY.sub(" ", consumed)
    months = [(int(m[2]), _month_number(m[1])) for m in _MONTH_YEAR.finditer(consumed)]
    consumed = _MONTH_YEAR.sub(" ", consumed)
    for match in _DAY_MONTH.finditer(consumed):
        days.append(_latest_occurrence(_month_number(match[2]), int(match[1]), today))
    for match in _MONTH_DAY.finditer(consumed):
        days.append(_latest_occurrence(_month_number(match[1]), int(match[2]), today))
    if _TODAY.search(text):
        days.append(today)
    if _YESTERDAY.search(text):
        days.append(today - timedelta(days=1))
    for match in _DAYS_AGO.finditer(text):
        count = _SMALL_NUMBERS.get(match[1].lower()) or int(match[1])
        if count <= 31:
            days.append(today - timedelta(days=count))
    spans = [_day_span(day) for day in days if day is not None]
    spans += [_month_span(year, month) for year, month in months]
    return spans[:MAX_SPANS]
