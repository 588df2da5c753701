"""Where a request's credentials come from, and whether a cookie may be used from its origin.

The authorizer's first steps (:mod:`voice_agent.auth` verifies the token found here): the
bearer token from the ``Authorization`` header, else the session cookie, and the second line
of defence for cookies, the ``Origin`` check. The local runner's ``Host`` guard shares
:func:`is_same_origin`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
)

__all__ = ["UNSAFE_METHODS", "InvalidToken", "check_cookie_origin", "is_same_origin",
           "normalise_origin", "request_headers", "request_method", "request_token"]

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
