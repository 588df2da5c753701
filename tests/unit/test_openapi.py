"""The committed OpenAPI document is what the handlers generate, and covers every route."""

from __future__ import annotations

import json

from tests.conftest import REPO_ROOT
from voice_agent_cli.openapi import build_openapi
from voice_agent_cli.template import load_sam_app


def _normalise(path: str) -> str:
    # Template paths name parameters `{id}`; resolvers may name them `{memory_id}`.
    return "/".join("{}" if seg.startswith("{") else seg for seg in path.split("/"))


def test_committed_openapi_matches_the_handlers():
    committed = json.loads((REPO_ROOT / "openapi.json").read_text())
    assert committed == build_openapi(), (
        "openapi.json is stale: run `uv run python -m voice_agent_cli.openapi > openapi.json`")


def test_openapi_documents_every_template_route_and_nothing_else():
    document = build_openapi()
    documented = {(method.upper(), _normalise(path))
                  for path, operations in document["paths"].items() for method in operations}
    routes = {(r.method, _normalise(r.path)) for r in load_sam_app().routes}
    assert documented == routes


def test_only_health_is_open():
    document = build_openapi()
    open_operations = [(m, p) for p, ops in document["paths"].items()
                       for m, op in ops.items() if op.get("security") == []]
    assert open_operations == [("get", "/api/health")]
