"""JWT verification for the Lambda authorizer (and the local runner, which uses the same code).

Rules (the README's "Authentication" section): RS256/ES256 only; the key is the JWKS entry
whose ``kid`` matches the token's and its type must fit the token's ``alg``;
``iss``/``aud``/``exp``/``sub`` required, ``nbf`` honoured, small leeway; unknown ``crit``
headers and oversized tokens rejected. Every failure is an :class:`InvalidToken`, whatever
the library raised, except an unreachable JWKS (:class:`jwt.PyJWKClientConnectionError`),
which the authorizer reports as unavailable.

A token that passed every rule is remembered for a while (:class:`VerifiedTokens`), so a warm
authorizer does not check the signature of the same token on every request.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import jwt
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
)

from voice_agent.credentials import (
    InvalidToken,
    check_cookie_origin,
    request_headers,
    request_method,
    request_token,
)

MAX_TOKEN_BYTES = 8 * 1024
LEEWAY_S = 30
JWKS_TIMEOUT_S = 3.0
JWKS_MAX_AGE_S = 3600  # keys rotate rarely; an unknown kid triggers an earlier refresh
JWKS_MIN_REFRESH_INTERVAL_S = 60  # at most one refresh a minute, whatever tokens arrive
# The algorithm a key type may verify: an RSA key never verifies ES256 or HS256, and so on.
ALGORITHM_FOR_KEY_TYPE = {"RSA": "RS256", "EC": "ES256"}
SUPPORTED_CRITICAL_HEADERS: frozenset[str] = frozenset()
VERIFIED_TOKENS_MAX_ENTRIES = 512
VERIFIED_TOKENS_MAX_AGE_S = 300.0


@dataclass(frozen=True)
class Identity:
    """Who the verified token says the caller is."""

    sub: str
    claims: Mapping[str, Any]


class FileJwksClient(jwt.PyJWKClient):
    """A :class:`jwt.PyJWKClient` reading its key set from a local file.

    The local runner signs with its own key and publishes it as a file. pyjwt accepts only
    ``http(s)`` URIs (a URI taken from a token's ``jku`` header must never read local files);
    this path comes from configuration only, and :meth:`fetch_data` is its one reader, so the
    caching, cooldown and lock stay pyjwt's.
    """

    def __init__(self, path: Path, **options: Any) -> None:
        super().__init__("http://127.0.0.1/unused", **options)
        self.uri = path.as_uri()
        self._path = path

    def fetch_data(self) -> Any:
        """Read the key set from the file (a missing or broken file is a connection error)."""
        try:
            document = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise jwt.PyJWKClientConnectionError(f"cannot read {self.uri}: {exc}") from exc
        document = self._as_jwk_set_payload(document)
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(document)
        return document


def make_jwks_client(
    url: str, *,
    min_refresh_interval_s: float = JWKS_MIN_REFRESH_INTERVAL_S,
) -> jwt.PyJWKClient:
    """A JWKS client for ``url`` (``https://``, ``http://`` or ``file://``).

    The key set is cached for :data:`JWKS_MAX_AGE_S`; a token naming an unknown ``kid``
    refreshes it early, but at most once per ``min_refresh_interval_s``, so a flood of tokens
    with made-up kids cannot turn into a flood of JWKS requests.
    """
    options: dict[str, Any] = {"lifespan": JWKS_MAX_AGE_S, "timeout": JWKS_TIMEOUT_S,
                               "cooldown_duration": min_refresh_interval_s}
    parsed = urlparse(url)
    if parsed.scheme == "file":
        # url2pathname turns /C:/Users/… (a Windows file URL's path) into C:\Users\….
        return FileJwksClient(Path(url2pathname(parsed.path)), **options)
    return jwt.PyJWKClient(url, **options)


@functools.cache
def jwks_client(url: str) -> jwt.PyJWKClient:
    """The module-scope client for ``url`` (its cache is kept across warm invocations)."""
    return make_jwks_client(url)


def _checked_header(token: str) -> tuple[str, str]:
    """The token's ``alg`` and ``kid`` once its header passes the contract's rules."""
    header = jwt.get_unverified_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHM_FOR_KEY_TYPE.values():
        raise InvalidToken(f"algorithm {alg!r} not accepted")
    critical = header.get("crit")
    if critical is not None and (not isinstance(critical, list)
                                 or set(critical) - SUPPORTED_CRITICAL_HEADERS):
        raise InvalidToken("unsupported critical header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("token has no key id")
    return alg, kid


def _signing_key(jwks: jwt.PyJWKClient, kid: str, alg: str) -> jwt.PyJWK:
    try:
        key = jwks.get_signing_key(kid)
    except jwt.PyJWKClientConnectionError:
        raise  # the key set is unreachable: the authorizer is unavailable, the token not bad
    except jwt.PyJWKClientError as exc:
        raise InvalidToken("unknown key id") from exc
    if ALGORITHM_FOR_KEY_TYPE.get(str(key.key_type)) != alg:
        raise InvalidToken("algorithm does not fit the key")
    return key


def _cached_key_set(jwks: jwt.PyJWKClient) -> jwt.PyJWKSet | None:
    """The key set ``jwks`` holds now, if it holds an unexpired one (never fetches)."""
    cache = jwks.jwk_set_cache
    return cache.get() if cache is not None else None


def _claim_time(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class _Verified:
    identity: Identity
    key_set: jwt.PyJWKSet  # the key set the signature was checked with
    not_before: float  # wall clock: the token's nbf (or when it was verified)
    expires: float  # wall clock: its exp
    stored: float  # monotonic clock


class VerifiedTokens:
    """Tokens that passed :func:`verify_token`, kept so a warm function does not verify again.

    Bounded: at most ``max_entries`` tokens (least recently used dropped first), each for at
    most ``max_age_s``, never past its ``exp`` and never before its ``nbf`` (no clock leeway
    either way: past ``exp`` the token is verified in full, leeway included). An entry is
    keyed by the token, the issuer, the audience and the JWKS client it was verified with,
    and counts only while that client still holds the very key set it was verified with:
    when the key set changes (refreshed, rotated, expired), every entry is dropped.
    """

    def __init__(self, max_entries: int = VERIFIED_TOKENS_MAX_ENTRIES,
                 max_age_s: float = VERIFIED_TOKENS_MAX_AGE_S,
                 wall_clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._entries: OrderedDict[Hashable, _Verified] = OrderedDict()
        self._key_set: jwt.PyJWKSet | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._entries.clear()
            self._key_set = None

    def _follow_key_set(self, key_set: jwt.PyJWKSet) -> None:
        # Called with the lock held.
        if key_set is not self._key_set:
            self._entries.clear()
            self._key_set = key_set

    def get(self, key: Hashable, key_set: jwt.PyJWKSet | None) -> Identity | None:
        """The identity remembered for ``key`` while ``key_set`` is current, else None."""
        if key_set is None:
            return None
        now, age_now = self._wall_clock(), self._monotonic()
        with self._lock:
            self._follow_key_set(key_set)
            entry = self._entries.get(key)
            if entry is None:
                return None
            if (entry.key_set is not key_set or not entry.not_before <= now < entry.expires
                    or age_now - entry.stored >= self.max_age_s):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry.identity

    def put(self, key: Hashable, identity: Identity, key_set: jwt.PyJWKSet | None,
            used_key: jwt.PyJWK) -> None:
        """Remember a verified token, unless it is not valid right now without leeway.

        ``used_key`` is the key its signature was checked with: the token is remembered only
        if ``key_set`` (the client's current set) is the set that key came from.
        """
        expires = _claim_time(identity.claims, "exp")
        not_before = _claim_time(identity.claims, "nbf")
        now = self._wall_clock()
        if (key_set is None or expires is None or now >= expires
                or (not_before is not None and now < not_before)
                or not any(candidate is used_key for candidate in key_set.keys)):
            return
        entry = _Verified(identity=identity, key_set=key_set,
                          not_before=now if not_before is None else not_before,
                          expires=expires, stored=self._monotonic())
        with self._lock:
            self._follow_key_set(key_set)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


VERIFIED_TOKENS = VerifiedTokens()
"""The tokens this process has verified (shared by every function instance in it)."""


def verify_token(token: str, *, jwks: jwt.PyJWKClient, issuer: str, audience: str,
                 verified: VerifiedTokens | None = VERIFIED_TOKENS) -> Identity:
    """Verify ``token`` and return the caller's identity, or raise :class:`InvalidToken`.

    A token ``verified`` still holds for this issuer, audience and key set is not verified
    again; pass ``verified=None`` to verify in full.

    Raises:
        InvalidToken: The token breaks a rule, whatever the library raised for it.
        jwt.PyJWKClientConnectionError: The key set could not be fetched.
    """
    if len(token.encode()) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    cache_key = (token, issuer, audience, jwks)
    if verified is not None:
        known = verified.get(cache_key, _cached_key_set(jwks))
        if known is not None:
            return known
    identity, key = _verify_in_full(token, jwks=jwks, issuer=issuer, audience=audience)
    if verified is not None:
        verified.put(cache_key, identity, _cached_key_set(jwks), key)
    return identity


def _verify_in_full(token: str, *, jwks: jwt.PyJWKClient, issuer: str,
                    audience: str) -> tuple[Identity, jwt.PyJWK]:
    """The token's identity and the key that verified it, after every rule."""
    try:
        alg, kid = _checked_header(token)
        key = _signing_key(jwks, kid, alg)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "sub"], "verify_nbf": True},
        )
    except (InvalidToken, jwt.PyJWKClientConnectionError):
        raise
    except Exception as exc:  # noqa: BLE001 — pyjwt/cryptography raise TypeError, ValueError, ...
        raise InvalidToken(f"token rejected: {type(exc).__name__}") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise InvalidToken("token has an empty subject")
    # Read-only: a remembered identity is handed to every later request with the token.
    return Identity(sub=sub, claims=MappingProxyType(claims)), key


def authorize_request(event: APIGatewayAuthorizerEventV2, *, issuer: str | None,
                      audience: str | None, jwks_url: str | None, cookie_name: str,
                      allowed_origins: Sequence[str] = ()) -> Identity:
    """Authorize an API Gateway payload-2.0 REQUEST authorizer event.

    A token from the cookie also has to come from an allowed origin
    (:func:`check_cookie_origin`); a token in the Authorization header works from anywhere:
    a browser never adds that header by itself, so whoever sends it already holds the token.
    """
    headers = request_headers(event)
    token = request_token(event, cookie_name)
    if "authorization" not in headers:
        check_cookie_origin(headers, request_method(event), allowed_origins)
    if not (issuer and audience and jwks_url):
        # Misconfiguration must deny, never allow, and never crash the authorizer.
        raise InvalidToken("authorizer is not configured (JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS_URL)")
    return verify_token(token, jwks=jwks_client(jwks_url), issuer=issuer, audience=audience)
