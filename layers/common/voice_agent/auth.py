"""JWT verification for the Lambda authorizer (and the local runner, which uses the same code).

Rules (the README's "Authentication" section): RS256/ES256 only; the key is the JWKS entry
whose ``kid`` matches the token's and its type must fit the token's ``alg``;
``iss``/``aud``/``exp``/``sub`` required, ``nbf`` honoured, small leeway; unknown ``crit``
headers and oversized tokens rejected. Every failure is an :class:`InvalidToken`, whatever
the library raised, except an unreachable JWKS (:class:`jwt.PyJWKClientConnectionError`),
which the authorizer reports as unavailable.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import jwt
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
)

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


def _named_cookie(cookies: Sequence[str], cookie_name: str) -> str | None:
    for cookie in cookies:
        name, _, value = cookie.strip().partition("=")
        if name == cookie_name and value:
            return value
    return None


def request_token(event: APIGatewayAuthorizerEventV2, cookie_name: str) -> str:
    """Find the bearer token: the Authorization header, else the named cookie.

    If an Authorization header is present only it counts: a bad header never falls back to
    a cookie (that would let a stale cookie override an explicit credential).
    """
    headers = request_headers(event)
    if "authorization" in headers:
        scheme, _, value = (headers["authorization"] or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidToken("Authorization header is not 'Bearer <token>'")
        return value.strip()
    # Payload 2.0 puts cookies in their own list; the header is the fallback for other callers.
    cookies = event.cookies if event.get("cookies") else (headers.get("cookie") or "").split(";")
    token = _named_cookie(cookies, cookie_name)
    if token is None:
        raise InvalidToken("missing credentials", missing=True)
    return token


def request_headers(event: APIGatewayAuthorizerEventV2) -> Mapping[str, str]:
    """The event's headers, looked up case-insensitively (none when the event has none)."""
    return event.headers if event.get("headers") else {}


def request_method(event: APIGatewayAuthorizerEventV2) -> str:
    """The HTTP method, from the request context or else the route key."""
    if (event.get("requestContext") or {}).get("http", {}).get("method"):
        return event.request_context.http.method
    return str(event.get("routeKey") or "").partition(" ")[0]


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


def verify_token(token: str, *, jwks: jwt.PyJWKClient, issuer: str, audience: str) -> Identity:
    """Verify ``token`` and return the caller's identity, or raise :class:`InvalidToken`.

    Raises:
        InvalidToken: The token breaks a rule, whatever the library raised for it.
        jwt.PyJWKClientConnectionError: The key set could not be fetched.
    """
    if len(token.encode()) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
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
    return Identity(sub=sub, claims=claims)


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
