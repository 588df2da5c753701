"""The JWT authorizer: every accepted and every rejected case, through the real handler."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import AUDIENCE, ISSUER, JwtKit, LambdaContext, load_function_module
from tests.fakes.http_server import LoopbackHttpServer, RecordedRequest, ScriptedResponse
from voice_agent import auth


def authorizer_event(headers: dict[str, str] | None = None,
                     cookies: list[str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0", "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:000000000000:api/$default/POST/api/memory",
        "identitySource": [], "routeKey": "POST /api/memory", "rawPath": "/api/memory",
        "rawQueryString": "", "headers": headers or {},
        "requestContext": {"http": {"method": "POST", "path": "/api/memory"}},
    }
    if cookies is not None:
        event["cookies"] = cookies
    return event


def authorize(headers=None, cookies=None) -> dict[str, Any]:
    result = load_function_module("authorizer").lambda_handler(
        authorizer_event(headers, cookies), LambdaContext())
    assert isinstance(result, dict) and isinstance(result["isAuthorized"], bool)
    return result


# A page of the API's own origin: the only one a cookie works from without CORS origins.
OWN_ORIGIN = {"host": "api.example", "origin": "https://api.example"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_rs256_header_token_is_allowed_with_sub_in_context(jwt_kit: JwtKit):
    result = authorize(bearer(jwt_kit.token("alice")))
    assert result == {"isAuthorized": True, "context": {"sub": "alice"}}


def test_valid_es256_token_is_allowed(jwt_kit: JwtKit):
    assert authorize(bearer(jwt_kit.token("bob", alg="ES256")))["isAuthorized"] is True


def test_valid_cookie_token_is_allowed(jwt_kit: JwtKit):
    cookies = ["theme=dark", f"access_token={jwt_kit.token('carol')}"]
    assert authorize(OWN_ORIGIN, cookies=cookies)["context"] == {"sub": "carol"}


def test_cookie_from_an_allowed_cors_origin_is_allowed_and_a_foreign_one_is_403(
        jwt_kit: JwtKit, monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://app.example, http://localhost:3000")
    cookies = [f"access_token={jwt_kit.token('cora')}"]
    allowed = authorize({"origin": "https://app.example"}, cookies)
    default_port = authorize({"origin": "https://APP.example:443"}, cookies)
    foreign = authorize({"origin": "https://evil.example"}, cookies)
    opaque = authorize({"origin": "null"}, cookies)
    assert allowed["context"] == default_port["context"] == {"sub": "cora"}
    for denied in (foreign, opaque):
        assert denied["isAuthorized"] is False and denied["context"]["status"] == 403


def test_cookie_write_without_origin_is_403_and_a_read_without_origin_is_allowed(
        jwt_kit: JwtKit):
    cookies = [f"access_token={jwt_kit.token('cleo')}"]
    write = authorize(cookies=cookies)
    read_event = authorizer_event(cookies=cookies)
    read_event["requestContext"]["http"]["method"] = "GET"
    read = load_function_module("authorizer").lambda_handler(read_event, LambdaContext())
    assert (write["isAuthorized"], write["context"]["status"]) == (False, 403)
    assert read == {"isAuthorized": True, "context": {"sub": "cleo"}}


def test_bearer_token_works_from_any_origin(jwt_kit: JwtKit):
    result = authorize({**bearer(jwt_kit.token("bea")), "origin": "https://evil.example"})
    assert result == {"isAuthorized": True, "context": {"sub": "bea"}}


def test_cookie_name_is_configurable(jwt_kit: JwtKit, monkeypatch):
    monkeypatch.setenv("JWT_COOKIE_NAME", "session")
    assert authorize(OWN_ORIGIN, [f"session={jwt_kit.token('dan')}"])["isAuthorized"] is True
    assert authorize(OWN_ORIGIN,
                     [f"access_token={jwt_kit.token('dan')}"])["isAuthorized"] is False


def test_missing_credentials_are_denied_as_missing(jwt_kit: JwtKit):
    result = authorize()
    assert result["isAuthorized"] is False
    assert result["context"]["missing"] is True


def test_bad_header_does_not_fall_back_to_a_valid_cookie(jwt_kit: JwtKit):
    result = authorize({"authorization": "Bearer garbage"},
                       [f"access_token={jwt_kit.token('eve')}"])
    assert result["isAuthorized"] is False


def _hs256_key_confusion(kit: JwtKit) -> str:
    # Sign with the RSA public key's PEM as an HMAC secret: classic confusion attack.
    pem = kit.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64({'alg': 'HS256', 'kid': 'rsa-1', 'typ': 'JWT'})}.{b64(kit.claims())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _tampered_payload(kit: JwtKit) -> str:
    header, _payload, signature = kit.token("alice").split(".")
    return f"{header}.{b64(kit.claims('mallory'))}.{signature}"


def _stripped_signature(kit: JwtKit) -> str:
    header, payload, _signature = kit.token().split(".")
    return f"{header}.{payload}."


FORGERIES: dict[str, Callable[[JwtKit], str]] = {
    "expired": lambda kit: kit.token(exp=int(time.time()) - 120),
    "not_yet_valid": lambda kit: kit.token(nbf=int(time.time()) + 600),
    "wrong_issuer": lambda kit: kit.token(iss="https://evil.test"),
    "wrong_audience": lambda kit: kit.token(aud="someone-else"),
    "no_exp": lambda kit: kit.token(exp=None),
    "no_sub": lambda kit: kit.token(sub=None),  # type: ignore[arg-type]
    "empty_sub": lambda kit: kit.token(sub=""),
    "unknown_kid": lambda kit: kit.token(kid="nope"),
    "no_kid": lambda kit: jwt.encode(kit.claims(), kit.rsa_key, algorithm="RS256"),
    "alg_none": lambda kit: f"{b64({'alg': 'none', 'kid': 'rsa-1'})}.{b64(kit.claims())}.",
    "hs256_key_confusion": _hs256_key_confusion,
    "es256_with_rsa_kid": lambda kit: kit.token(alg="ES256", kid="rsa-1"),
    "rs256_with_ec_kid": lambda kit: kit.token(alg="RS256", kid="ec-1"),
    "tampered_payload": _tampered_payload,
    "stripped_signature": _stripped_signature,
    "unknown_crit": lambda kit: kit.token(headers={"crit": ["exp-magic"], "exp-magic": 1}),
    "oversized": lambda kit: kit.token(padding="x" * 9000),
    "garbage": lambda _kit: "not.a.jwt",
    "ps256": lambda kit: kit.token(alg="PS256"),
}


def _forge(kit: JwtKit, case: str) -> str:
    return FORGERIES[case](kit)


ATTACKS = list(FORGERIES)


@pytest.mark.parametrize("case", ATTACKS)
def test_invalid_token_is_denied(jwt_kit: JwtKit, case: str):
    token = _forge(jwt_kit, case)
    assert authorize(bearer(token))["isAuthorized"] is False
    assert authorize(cookies=[f"access_token={token}"])["isAuthorized"] is False


def test_small_clock_skew_is_tolerated(jwt_kit: JwtKit):
    now = int(time.time())
    assert authorize(bearer(jwt_kit.token(nbf=now + 10)))["isAuthorized"] is True


def test_unconfigured_authorizer_denies_instead_of_crashing(_jwt_keys: JwtKit):
    assert authorize(bearer(_jwt_keys.token()))["isAuthorized"] is False


def test_unreachable_jwks_denies(jwt_kit: JwtKit, monkeypatch):
    monkeypatch.setenv("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json")
    assert authorize(bearer(jwt_kit.token()))["isAuthorized"] is False


class JwksServer(LoopbackHttpServer):
    """A loopback JWKS endpoint serving whatever key set the test puts in ``document``."""

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__()
        self.document = document

    def default_response(self, request: RecordedRequest) -> ScriptedResponse:
        return ScriptedResponse(200, self.document)


def _key_set(kit: JwtKit, *kids: str) -> dict[str, Any]:
    document = json.loads(kit.jwks_path.read_text())
    return {"keys": [key for key in document["keys"] if key["kid"] in kids]}


def test_unknown_kid_refreshes_jwks_at_most_once_per_interval(jwt_kit: JwtKit):
    with JwksServer(_key_set(jwt_kit, "rsa-1")) as server:
        client = auth.make_jwks_client(f"{server.url}/jwks.json")
        assert client.get_signing_key("rsa-1").key_id == "rsa-1"
        for _ in range(20):
            with pytest.raises(jwt.PyJWKClientError):
                client.get_signing_key("rotated-later")
        assert len(server.requests) == 1


def test_unknown_kid_refresh_finds_a_rotated_key_over_http(jwt_kit: JwtKit, monkeypatch):
    with JwksServer(_key_set(jwt_kit, "rsa-1")) as server:
        monkeypatch.setenv("JWT_JWKS_URL", f"{server.url}/jwks.json")
        assert authorize(bearer(jwt_kit.token("ann")))["isAuthorized"] is True
        assert authorize(bearer(jwt_kit.token("ann", alg="ES256")))["isAuthorized"] is False
        # The EC key is published later; with no refresh interval the next lookup finds it.
        server.document = _key_set(jwt_kit, "rsa-1", "ec-1")
        client = auth.make_jwks_client(f"{server.url}/jwks.json", min_refresh_interval_s=0)
        assert client.get_signing_key("ec-1").key_id == "ec-1"
        identity = auth.verify_token(jwt_kit.token("ann", alg="ES256"), jwks=client,
                                     issuer=ISSUER, audience=AUDIENCE)
        assert identity.sub == "ann"
        assert [r.path for r in server.requests] == ["/jwks.json"] * len(server.requests)


def test_jwks_with_an_hmac_key_never_verifies_an_hs256_token(jwt_kit: JwtKit, monkeypatch):
    secret = b"s" * 32
    oct_key = {"kty": "oct", "kid": "hmac-1", "use": "sig",
               "k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode()}
    with JwksServer({"keys": [*_key_set(jwt_kit, "rsa-1")["keys"], oct_key]}) as server:
        monkeypatch.setenv("JWT_JWKS_URL", f"{server.url}/jwks.json")
        hs256 = jwt.encode(jwt_kit.claims("hal"), secret, algorithm="HS256",
                           headers={"kid": "hmac-1"})
        assert authorize(bearer(hs256))["isAuthorized"] is False
        assert authorize(bearer(jwt_kit.token("hal")))["isAuthorized"] is True


def test_jwks_answering_an_error_denies_without_raising(jwt_kit: JwtKit, monkeypatch):
    with JwksServer({}) as server:
        monkeypatch.setenv("JWT_JWKS_URL", f"{server.url}/jwks.json")
        server.answer_next(500, {"error": "down"})
        assert authorize(bearer(jwt_kit.token()))["context"] == {
            "reason": "authorizer unavailable"}
        server.document = _key_set(jwt_kit, "rsa-1")
        auth.jwks_client.cache_clear()
        assert authorize(bearer(jwt_kit.token()))["isAuthorized"] is True


def test_verify_token_reports_identity(jwt_kit: JwtKit):
    identity = auth.verify_token(jwt_kit.token("zoe"), jwks=auth.jwks_client(jwt_kit.jwks_url),
                                 issuer=ISSUER, audience=AUDIENCE)
    assert identity.sub == "zoe"
