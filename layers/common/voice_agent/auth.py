"""JWT verification for the Lambda authorizer (and the local runner, which uses the same code).

Rules (ARCHITECTURE.md): RS256/ES256 only; the key is the JWKS entry whose ``kid`` matches the
token's and its type must fit the token's ``alg``; ``iss``/``aud``/``exp``/``sub`` required,
``nbf`` honoured, small leeway; unknown ``crit`` headers and oversized tokens rejected. Every
failure is an :class:`InvalidToken`, whatever the library raised.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import httpx
import jwt

MAX_TOKEN_BYTES = 8 * 1024
LEEWAY_S = 30
JWKS_TIMEOUT_S = 3.0
JWKS_MAX_AGE_S = 3600  # keys rotate rarely; an unknown kid triggers an earlier refresh
JWKS_MIN_REFRESH_INTERVAL_S = 60  # at most one refresh a minute, whatever tokens arrive
# The algorithm a key type may verify: an RSA key never verifies ES256 or HS256, and so on.
ALGORITHM_FOR_KEY_TYPE = {"RSA": "RS256", "EC": "ES256"}
SUPPORTED_CRITICAL_HEADERS: frozenset[str] = frozenset()


# Methods that change state; a browser sends ``Origin`` on every one of them, same-site or not.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class InvalidToken(Exception):
    """The request's credentials are missing, do not verify, or may not be used from here.

    ``status`` is what the local runner answers (401, or 403 for a cookie sent from a foreign
    origin); on AWS every denial is API Gateway's 403.
    """

    def __init__(self, reason: str, *, missing: bool = False, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing
        self.status = status


@dataclass(frozen=True)
class Identity:
    """Who the verified token says the caller is."""

    sub: str
    claims: Mapping[str, Any]


class JwksCache:
    """Keys from a JWKS URL (``https://``, ``http://`` or ``file://``), cached per process.

    Refreshed when older than :data:`JWKS_MAX_AGE_S`, or when a token names an unknown ``kid``
    — but never more than once per :data:`JWKS_MIN_REFRESH_INTERVAL_S`, so a flood of tokens
    with made-up kids cannot turn into a flood of JWKS requests.
    """

    def __init__(self, url: str, clock: Any = time.monotonic) -> None:
        self.url = url
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> jwt.PyJWK | None:
        """Return the key with this ``kid``, refreshing the set if allowed; None if unknown."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > JWKS_MAX_AGE_S
            may_refresh = (self._fetched_at is None
                           or now - self._fetched_at >= JWKS_MIN_REFRESH_INTERVAL_S)
            if stale or (kid not in self._keys and may_refresh):
                self._keys = self._load()
                self._fetched_at = now
            return self._keys.get(kid)

    def _load(self) -> dict[str, jwt.PyJWK]:
        document = _read_jwks_document(self.url)
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, dict) or not entry.get("kid"):
                continue
            if entry.get("kty") not in ALGORITHM_FOR_KEY_TYPE or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue  # one malformed key must not take the others down
        return keys


def _read_jwks_document(url: str) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        # url2pathname turns /C:/Users/… (a Windows file URL's path) into C:\Users\….
        return json.loads(Path(url2pathname(parsed.path)).read_text(encoding="utf-8"))
    response = httpx.get(url, timeout=JWKS_TIMEOUT_S)
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError("JWKS document is not an object")
    return document


_caches: dict[str, JwksCache] = {}
_caches_lock = threading.Lock()


def jwks_cache(url: str) -> JwksCache:
    """The module-scope cache for ``url`` (kept across warm Lambda invocations)."""
    with _caches_lock:
        cache = _caches.get(url)
        if cache is None:
            cache = _caches[url] = JwksCache(url)
        return cache


def extract_token(headers: Mapping[str, str] | None, cookies: Sequence[str] | None,
                  cookie_name: str) -> str:
    """Find the bearer token: the Authorization header, else the named cookie.

    If an Authorization header is present only it counts: a bad header never falls back to
    a cookie (that would let a stale cookie override an explicit credential).
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if "authorization" in lowered:
        scheme, _, value = (lowered["authorization"] or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidToken("Authorization header is not 'Bearer <token>'")
        return value.strip()
    cookie_values = list(cookies or [])
    if not cookie_values and lowered.get("cookie"):
        cookie_values = lowered["cookie"].split(";")
    for cookie in cookie_values:
        name, _, value = cookie.strip().partition("=")
        if name == cookie_name and value:
            return value
    raise InvalidToken("missing credentials", missing=True)


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports and trailing slashes dropped."""
    scheme, sep, rest = value.strip().lower().partition("://")
    if not sep:
        return value.strip().lower()
    host = rest.split("/", 1)[0]
    name, colon, port = host.rpartition(":")
    if colon and "]" not in port and port == _DEFAULT_PORTS.get(scheme):
        host = name
    return f"{scheme}://{host}"


def is_same_origin(origin: str, host: str | None) -> bool:
    """True when ``origin`` names the host (and port) the request was sent to (``Host``)."""
    value = (host or "").strip().lower()
    name, colon, port = value.rpartition(":")
    if colon and "]" not in port and port in _DEFAULT_PORTS.values():
        value = name  # the default port, which an Origin never spells out
    return bool(value) and normalise_origin(origin).partition("://")[2] == value


def check_cookie_origin(headers: Mapping[str, str], method: str,
                        allowed_origins: Sequence[str]) -> None:
    """Refuse a cookie-authenticated request from outside the allowed origins (403).

    The cookie is sent by the browser whatever page made the request, so the cookie alone does
    not show the user meant it: ``SameSite=Lax`` keeps it off most cross-site requests, and
    this is the second line. Allowed: an ``Origin`` among ``allowed_origins`` (the CORS
    origins) or the API's own origin (the ``Host`` the request was sent to). A write without
    any ``Origin`` is refused too: browsers always send it on writes, and clients that are not
    browsers authenticate with the Authorization header, which this check never applies to.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    origin = lowered.get("origin")
    if origin is None:
        if method.upper() in UNSAFE_METHODS:
            raise InvalidToken("cookie sign-in needs an Origin header on writes", status=403)
        return
    allowed = {normalise_origin(o) for o in allowed_origins if o.strip()}
    if normalise_origin(origin) in allowed:
        return
    if is_same_origin(origin, lowered.get("host")):
        return
    raise InvalidToken("origin not allowed for cookie sign-in", status=403)


def verify_token(token: str, *, jwks: JwksCache, issuer: str, audience: str) -> Identity:
    """Verify ``token`` and return the caller's identity, or raise :class:`InvalidToken`."""
    if len(token.encode()) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    try:
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
        key = jwks.get(kid)
        if key is None:
            raise InvalidToken("unknown key id")
        if ALGORITHM_FOR_KEY_TYPE.get(str(key.key_type)) != alg:
            raise InvalidToken("algorithm does not fit the key")
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "sub"], "verify_nbf": True},
        )
    except InvalidToken:
        raise
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"token rejected: {type(exc).__name__}") from exc
    except Exception as exc:  # noqa: BLE001 — pyjwt/cryptography raise TypeError, ValueError, ...
        raise InvalidToken(f"token rejected: {type(exc).__name__}") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise InvalidToken("token has an empty subject")
    return Identity(sub=sub, claims=claims)


def _event_method(event: Mapping[str, Any]) -> str:
    context = event.get("requestContext") or {}
    method = (context.get("http") or {}).get("method")
    if isinstance(method, str) and method:
        return method
    return str(event.get("routeKey") or "").partition(" ")[0]


def authorize_request(event: Mapping[str, Any], *, issuer: str | None, audience: str | None,
                      jwks_url: str | None, cookie_name: str,
                      allowed_origins: Sequence[str] = ()) -> Identity:
    """Authorize an API Gateway payload-2.0 REQUEST authorizer event.

    A token from the cookie also has to come from an allowed origin
    (:func:`check_cookie_origin`); a token in the Authorization header works from anywhere:
    a browser never adds that header by itself, so whoever sends it already holds the token.
    """
    headers = event.get("headers") or {}
    token = extract_token(headers, event.get("cookies"), cookie_name)
    if not any(name.lower() == "authorization" for name in headers):
        check_cookie_origin(headers, _event_method(event), allowed_origins)
    if not (issuer and audience and jwks_url):
        # Misconfiguration must deny, never allow, and never crash the authorizer.
        raise InvalidToken("authorizer is not configured (JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS_URL)")
    return verify_token(token, jwks=jwks_cache(jwks_url), issuer=issuer, audience=audience)
