"""voice-agent dev picks the route API Gateway picks: the one with the most literal segments."""

from __future__ import annotations

import re

import pytest

from voice_agent_cli.devserver import LocalApi
from voice_agent_cli.events import RouteMatcher
from voice_agent_cli.template import load_sam_app

SAM = load_sam_app(None)


def most_specific(method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    """The reference: every route in order of literal segments, the first that matches."""
    matchers = sorted(((RouteMatcher.of(r.method, r.path), r) for r in SAM.routes),
                      key=lambda pair: -pair[0].literal_segments)
    for matcher, route in matchers:
        params = matcher.match(method, path)
        if params is not None:
            return route.method, route.path, params
    return None


def requests() -> list[tuple[str, str]]:
    """Every template route with its parameters filled, plus near misses, in every method."""
    paths = {re.sub(r"\{[^}]+\}", "x1", r.path) for r in SAM.routes}
    paths |= {p + "/" for p in paths} | {"/api/memory/jobs", "/api/nope", "/api"}
    return [(m, p) for p in sorted(paths) for m in ("GET", "POST", "DELETE", "get")]


@pytest.mark.parametrize(("method", "path"), requests())
def test_the_dev_server_matches_the_most_specific_route(method: str, path: str):
    found = LocalApi(SAM).match(method, path)
    answer = None if found is None else (found[0].method, found[0].path, found[1])
    assert answer == most_specific(method, path)
