"""Property-based fuzzing of every route in ``openapi.json`` against the real ASGI app.

Schemathesis generates requests from the OpenAPI document, valid (``positive``) and invalid
(``negative``), and sends them with a dev token to ``create_app(tmp)`` in this process (the
same handlers and authorizer as ``voice-agent dev``), with the hashing embedder and loopback
OpenAI/Tavily fakes. Every answer must keep the contract:

* never a 5xx (the fakes are healthy, so any 5xx is our bug);
* every 4xx is JSON ``{"error": "<message>"}``;
* every 2xx body matches the response schema of its operation.

``FUZZ_EXAMPLES`` (default 15) bounds the examples per operation and mode, so the whole module
stays well under a minute; ``benchmarks/fuzz_long.py`` runs the same checks for longer.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from tests.reliability.conftest import InProcessApi
from tests.reliability.servers import REPO_ROOT, error_shape_problem

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
SCHEMA = schemathesis.openapi.from_path(str(REPO_ROOT / "openapi.json"))
OPERATIONS = {f"{op.method.upper()} {op.path}": op
              for op in (result.ok() for result in SCHEMA.get_all_operations())}

# Statuses the handlers answer that the document does not list (201/202/204 successes, 404,
# 409); their bodies are checked here against the models the handlers return.
UNDOCUMENTED_SUCCESS_MODELS = {
    ("POST /api/memory", 201): "AddMemoryResponse",
    ("POST /api/memory", 202): "QueuedResponse",
}


class FuzzTally:
    """Counts of fuzz cases and of contract violations, printed at the end of the module."""

    def __init__(self) -> None:
        self.cases = 0
        self.server_errors: list[str] = []
        self.statuses: Counter[tuple[str, int]] = Counter()

    def summary(self) -> str:
        """One line per operation and status, then totals."""
        lines = [f"  {name:40s} {status}: {count}"
                 for (name, status), count in sorted(self.statuses.items())]
        lines.append(f"fuzz: {self.cases} cases, {len(self.server_errors)} 5xx")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def fuzz_tally() -> Iterator[FuzzTally]:
    """The module's tally; printed when the module ends (visible with ``-s``)."""
    tally = FuzzTally()
    yield tally
    print("\n" + tally.summary())


def _validate_against_components(model_name: str, body: Any) -> None:
    import jsonschema

    components = SCHEMA.raw_schema["components"]
    schema = {"$ref": f"#/components/schemas/{model_name}", "components": components}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


def check_contract(name: str, case: Any, response: Any, tally: FuzzTally) -> None:
    """Asserts the API contract for one fuzzed request (see the module docstring)."""
    status = response.status_code
    tally.cases += 1
    tally.statuses[(name, status)] += 1
    assert status != 421, f"{name}: the request never reached the API (Host refused)"
    if status >= 500:
        tally.server_errors.append(f"{name} → {status}: {response.text[:200]}")
    assert status < 500, (f"{name} answered {status}: {response.text[:300]}\n"
                          f"request: {case.as_curl_command()[:600]}")
    if status == 204:
        assert not response.content
        return
    try:
        body = response.json()
    except ValueError as error:
        raise AssertionError(f"{name} {status}: body is not JSON: {response.text[:200]!r}\n"
                             f"request: {case.as_curl_command()[:600]}") from error
    if status >= 400:
        problem = error_shape_problem(status, body)
        assert problem is None, f"{name}: {problem}"
        return
    model = UNDOCUMENTED_SUCCESS_MODELS.get((name, status))
    if model is not None:
        _validate_against_components(model, body)
        return
    try:
        case.operation.validate_response(response, case=case)
    except FailureGroup as failures:  # pragma: no cover - the message is the evidence
        raise AssertionError(f"{name} {status}: body does not match the schema: "
                             f"{failures}") from failures


def _has_inputs(name: str) -> bool:
    method, path = name.split(" ", 1)
    definition = SCHEMA.raw_schema["paths"][path][method.lower()]
    return bool(definition.get("parameters") or definition.get("requestBody"))


# Invalid requests exist only for operations that take some input.
FUZZ_TARGETS = [
    pytest.param(name, mode, id=f"{name}-{'valid' if mode.is_positive else 'invalid'}")
    for name in sorted(OPERATIONS)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode.is_positive or _has_inputs(name)
]


@pytest.mark.parametrize(("name", "mode"), FUZZ_TARGETS)
def test_fuzzed_requests_get_no_5xx_json_errors_and_schema_valid_bodies(
        name: str, mode: GenerationMode, in_process_api: InProcessApi,
        fuzz_tally: FuzzTally) -> None:
    operation = OPERATIONS[name]
    headers = in_process_api.auth("fuzz-user")

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        # A loopback Host, as a browser on this machine sends it (others are refused with 421).
        response = case.call(app=in_process_api.app, base_url="http://localhost",
                             headers=headers)
        check_contract(name, case, response, fuzz_tally)

    fuzz()


def test_every_route_of_the_template_is_fuzzed() -> None:
    from voice_agent_cli.template import load_sam_app

    routes = {f"{r.method} {r.path}" for r in load_sam_app().routes}
    fuzzed = {name.replace("{memory_id}", "{id}") for name in OPERATIONS}
    assert routes == fuzzed


@pytest.mark.parametrize("path", ["/api/memory/search", "/api/memory", "/api/search",
                                  "/api/voice-agent"])
def test_non_utf8_json_body_is_a_4xx_not_a_500(path: str, in_process_api: InProcessApi) -> None:
    from starlette.testclient import TestClient

    with TestClient(in_process_api.app, base_url="http://localhost") as client:
        response = client.post(path, content=b"\x80", headers={
            **in_process_api.auth("fuzz-user"), "content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert error_shape_problem(response.status_code, response.json()) is None


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_path_with_a_line_break_gets_a_json_404(method: str,
                                                 in_process_api: InProcessApi) -> None:
    from starlette.testclient import TestClient

    path = "/api/memory/a%0Ab" + ("/history" if method == "GET" else "")
    with TestClient(in_process_api.app, base_url="http://localhost") as client:
        response = client.request(method, path, headers=in_process_api.auth("fuzz-user"))
    assert response.status_code == 404
    assert error_shape_problem(404, response.json()) is None
