"""The authorizer attack corpus (``data/authorizer_attacks.json``), run two ways.

1. Through the authorizer's ``lambda_handler`` with a payload-2.0 REQUEST event, as API
   Gateway calls it: every forged credential is denied and the handler never raises.
2. Over HTTP against a real ``voice-agent dev`` process trusting the same keys: every forged
   credential gets a JSON 401/403 — never a 2xx, never a 5xx.

A valid token goes through both ways as a control, so the denials are not an artefact of a
broken set-up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import JwtKit, LambdaContext, load_function_module, unique_user
from tests.reliability.attacks import AttackCase, delivery, forge_token, load_corpus
from tests.reliability.servers import DevServer, error_shape_problem

CORPUS = load_corpus()
ATTACKS = [pytest.param(case, mode, id=f"{case.name}-{mode}")
           for case in CORPUS for mode in case.deliver]
PROTECTED_ROUTES = [("GET", "/api/memory"), ("POST", "/api/memory/search"),
                    ("POST", "/api/voice-agent"), ("DELETE", "/api/memory/x")]


@pytest.fixture(scope="module")
def attack_tally() -> Iterator[Counter[str]]:
    """Counts attacks tried and accepted per channel; printed at the end (``-s``)."""
    tally: Counter[str] = Counter()
    yield tally
    print(f"\nauthorizer attacks: handler {tally['handler']} tried, "
          f"{tally['handler_accepted']} accepted; HTTP {tally['http']} tried, "
          f"{tally['http_accepted']} accepted, {tally['http_5xx']} 5xx")


def authorizer_event(headers: dict[str, str], cookies: dict[str, str]) -> dict[str, Any]:
    """A REQUEST authorizer event (payload 2.0) for ``GET /api/memory``."""
    event: dict[str, Any] = {
        "version": "2.0", "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:000000000000:api/$default/GET/api/memory",
        "identitySource": [], "routeKey": "GET /api/memory", "rawPath": "/api/memory",
        "rawQueryString": "", "headers": dict(headers),
        "requestContext": {"http": {"method": "GET", "path": "/api/memory"}},
    }
    if cookies:
        event["cookies"] = [f"{name}={value}" for name, value in cookies.items()]
    return event


def authorize(headers: dict[str, str], cookies: dict[str, str]) -> dict[str, Any]:
    """The authorizer handler's decision; it must return one, not raise."""
    result = load_function_module("authorizer").lambda_handler(
        authorizer_event(headers, cookies), LambdaContext())
    assert isinstance(result, dict) and isinstance(result.get("isAuthorized"), bool)
    return result


def test_corpus_covers_every_required_attack() -> None:
    names = {case.name for case in CORPUS}
    required = {"alg_none", "hs256_keyed_with_rsa_public_key", "expired", "not_yet_valid",
                "wrong_issuer", "wrong_audience", "unknown_kid", "tampered_payload",
                "stripped_signature", "oversized_token", "bad_header_with_good_cookie",
                "unknown_crit_header", "es256_with_rsa_kid", "rs256_with_ec_kid"}
    assert required <= names
    assert len(names) == len(CORPUS), "case names must be unique"


def test_valid_token_is_allowed_by_handler_and_over_http(jwt_kit: JwtKit,
                                                         dev_server: DevServer) -> None:
    user = unique_user()
    token = jwt_kit.token(user)
    assert authorize({"authorization": f"Bearer {token}"}, {}) == {
        "isAuthorized": True, "context": {"sub": user}}
    response = httpx.get(f"{dev_server.base_url}/api/memory",
                         headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize(("case", "mode"), ATTACKS)
def test_forged_credential_is_denied_by_the_handler(case: AttackCase, mode: str,
                                                    jwt_kit: JwtKit,
                                                    attack_tally: Counter[str]) -> None:
    token = forge_token(case, jwt_kit)
    headers, cookies = delivery(mode, token, jwt_kit.token(unique_user()))
    result = authorize(headers, cookies)
    attack_tally["handler"] += 1
    attack_tally["handler_accepted"] += result["isAuthorized"] is True
    assert result["isAuthorized"] is False, f"{case.name} via {mode} was allowed"


@pytest.mark.parametrize(("case", "mode"), ATTACKS)
def test_forged_credential_is_a_json_401_over_http(case: AttackCase, mode: str,
                                                   jwt_kit: JwtKit, dev_server: DevServer,
                                                   attack_tally: Counter[str]) -> None:
    token = forge_token(case, jwt_kit)
    headers, cookies = delivery(mode, token, jwt_kit.token(unique_user()))
    method, path = PROTECTED_ROUTES[len(case.name) % len(PROTECTED_ROUTES)]
    with httpx.Client(base_url=dev_server.base_url, cookies=cookies, timeout=10) as client:
        response = client.request(method, path, headers=headers, json={"query": "x"})
    attack_tally["http"] += 1
    attack_tally["http_accepted"] += response.status_code < 300
    attack_tally["http_5xx"] += response.status_code >= 500
    assert response.status_code in (401, 403), (
        f"{case.name} via {mode}: {method} {path} → {response.status_code} {response.text}")
    assert error_shape_problem(response.status_code, response.json()) is None
