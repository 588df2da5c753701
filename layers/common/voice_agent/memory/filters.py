"""Metadata filters: ``{key: value}``, every pair must match a memory's metadata exactly.

Values are JSON scalars compared by type and value, so ``true`` never matches ``1`` and
``"1"`` never matches ``1`` (Python alone would call ``True == 1``). A key whose value is
``null`` matches a memory that stores that key as null, not one that lacks it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from voice_agent.errors import Unprocessable
from voice_agent.memory.models import MAX_FILTERS, FilterValue, check_filters

__all__ = ["matches", "parse_filters_param"]

MAX_FILTERS_PARAM_CHARS = 2048
_FILTERS = TypeAdapter(dict[str, FilterValue])


def _same(stored: Any, wanted: FilterValue) -> bool:
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return stored is wanted
    if wanted is None:
        return stored is None
    if isinstance(wanted, str):
        return isinstance(stored, str) and stored == wanted
    # Numbers: 2 and 2.0 are the same JSON number.
    return isinstance(stored, int | float) and stored == wanted


def matches(metadata: Mapping[str, Any] | None, filters: Mapping[str, FilterValue]) -> bool:
    """Whether ``metadata`` holds every key of ``filters`` with the same value."""
    if not filters:
        return True
    if not metadata:
        return False
    return all(key in metadata and _same(metadata[key], value) for key, value in filters.items())


def parse_filters_param(raw: str | None) -> dict[str, FilterValue] | None:
    """``?filters=`` of ``GET /api/memory``: a JSON object as in the search body.

    Raises:
        Unprocessable: Not a JSON object of at most 10 scalar values.
    """
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_FILTERS_PARAM_CHARS:
        raise Unprocessable(f"filters: at most {MAX_FILTERS_PARAM_CHARS} characters")
    problem = (f"filters: must be a JSON object of at most {MAX_FILTERS} keys with string, "
               'number, boolean or null values, e.g. {"source":"user"}')
    try:
        value = _FILTERS.validate_python(json.loads(raw), strict=True)
        return check_filters(value)
    except (ValueError, ValidationError, RecursionError) as error:
        raise Unprocessable(problem) from error
