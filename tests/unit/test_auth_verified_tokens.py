"""Verified tokens are remembered, but never past their rules: exp, nbf, audience, key set."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from tests.conftest import AUDIENCE, ISSUER, JwtKit
from voice_agent import auth


class Clock:
    """One settable wall clock for the cache and for PyJWT's exp/nbf checks."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()

    class ClockedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return datetime.fromtimestamp(clock.now, tz or UTC)

    monkeypatch.setattr(jwt.api_jwt, "datetime", ClockedDatetime)
    return clock


def verify(token: str, client: jwt.PyJWKClient, verified: auth.VerifiedTokens,
           audience: str = AUDIENCE, issuer: str = ISSUER) -> auth.Identity:
    return auth.verify_token(token, jwks=client, issuer=issuer, audience=audience,
                             verified=verified)


def test_a_verified_token_is_remembered_and_answered_again(jwt_kit: JwtKit):
    verified = auth.VerifiedTokens()
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    token = jwt_kit.token("ann")
    assert verify(token, client, verified).sub == "ann"
    assert len(verified) == 1
    assert verify(token, client, verified).sub == "ann"
    assert len(verified) == 1


def test_an_expired_token_is_rejected_even_if_remembered(jwt_kit: JwtKit, clock: Clock):
    verified = auth.VerifiedTokens(wall_clock=clock)
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    token = jwt_kit.token("ann", exp=int(clock.now) + 60)
    assert verify(token, client, verified).sub == "ann"
    assert len(verified) == 1
    clock.now += 60 + auth.LEEWAY_S + 1
    with pytest.raises(auth.InvalidToken):
        verify(token, client, verified)
    assert len(verified) == 0


def test_a_remembered_token_is_verified_in_full_once_past_exp(jwt_kit: JwtKit, clock: Clock):
    # Inside the leeway after exp the answer comes from PyJWT's own check, not the cache.
    verified = auth.VerifiedTokens(wall_clock=clock)
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    token = jwt_kit.token("ann", exp=int(clock.now) + 60)
    verify(token, client, verified)
    clock.now += 61
    assert verify(token, client, verified).sub == "ann"
    assert len(verified) == 0  # not remembered again: it is past its exp


def test_a_token_remembered_for_one_audience_is_rejected_for_another(jwt_kit: JwtKit):
    verified = auth.VerifiedTokens()
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    token = jwt_kit.token("ann")
    assert verify(token, client, verified).sub == "ann"
    with pytest.raises(auth.InvalidToken):
        verify(token, client, verified, audience="another-api")
    with pytest.raises(auth.InvalidToken):
        verify(token, client, verified, issuer="https://another-issuer.test")
    assert verify(token, client, verified).sub == "ann"


def test_a_token_inside_the_leeway_before_nbf_is_verified_but_not_remembered(
        jwt_kit: JwtKit):
    verified = auth.VerifiedTokens()
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    token = jwt_kit.token("ann", nbf=int(time.time()) + 10)
    assert verify(token, client, verified).sub == "ann"
    assert len(verified) == 0


def test_remembered_tokens_are_dropped_when_the_key_set_changes(jwt_kit: JwtKit,
                                                                tmp_path: Path):
    path = tmp_path / "jwks.json"
    path.write_text(jwt_kit.jwks_path.read_text())
    client = auth.make_jwks_client(path.as_uri())
    verified = auth.VerifiedTokens()
    token = jwt_kit.token("ann")
    assert verify(token, client, verified).sub == "ann"
    # The RSA key is withdrawn and the client refreshes its key set.
    document = json.loads(path.read_text())
    path.write_text(json.dumps({"keys": [k for k in document["keys"] if k["kid"] != "rsa-1"]}))
    client.get_jwk_set(refresh=True)
    with pytest.raises(auth.InvalidToken, match="unknown key id"):
        verify(token, client, verified)
    assert len(verified) == 0


def test_a_token_is_not_answered_for_another_jwks_client(jwt_kit: JwtKit):
    verified = auth.VerifiedTokens()
    token = jwt_kit.token("ann")
    verify(token, auth.make_jwks_client(jwt_kit.jwks_url), verified)
    unreachable = auth.make_jwks_client("http://127.0.0.1:9/jwks.json")
    with pytest.raises(jwt.PyJWKClientConnectionError):
        verify(token, unreachable, verified)


def test_remembered_tokens_expire_after_the_maximum_age(jwt_kit: JwtKit):
    ticks = [0.0]
    verified = auth.VerifiedTokens(max_age_s=300, monotonic=lambda: ticks[0])
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    token = jwt_kit.token("ann")
    verify(token, client, verified)
    ticks[0] = 300.0
    assert verified.get((token, ISSUER, AUDIENCE, client), client.get_jwk_set()) is None
    assert len(verified) == 0


def test_at_most_max_entries_tokens_are_remembered_oldest_use_first_out(jwt_kit: JwtKit):
    verified = auth.VerifiedTokens(max_entries=2)
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    first, second, third = (jwt_kit.token(sub) for sub in ("a", "b", "c"))
    verify(first, client, verified)
    verify(second, client, verified)
    verify(first, client, verified)  # used again: the second is now the oldest
    verify(third, client, verified)
    assert len(verified) == 2
    key_set = client.get_jwk_set()
    assert verified.get((second, ISSUER, AUDIENCE, client), key_set) is None
    assert verified.get((first, ISSUER, AUDIENCE, client), key_set) is not None


def test_a_remembered_identity_cannot_be_changed_by_its_caller(jwt_kit: JwtKit):
    verified = auth.VerifiedTokens()
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    identity = verify(jwt_kit.token("ann"), client, verified)
    with pytest.raises(TypeError):
        identity.claims["sub"] = "mallory"  # type: ignore[index]


def test_an_oversized_token_is_rejected_before_any_lookup(jwt_kit: JwtKit):
    verified = auth.VerifiedTokens()
    client = auth.make_jwks_client(jwt_kit.jwks_url)
    with pytest.raises(auth.InvalidToken, match="too large"):
        verify("a" * (auth.MAX_TOKEN_BYTES + 1), client, verified)
