"""DNS-rebinding and cross-site guards of ``voice-agent dev``.

A web page on any site can make the browser send requests to ``127.0.0.1``; what keeps it
from reading the answers is the same-origin policy. DNS rebinding defeats that: the attacker's
name (``rebind.attacker.example``) first resolves to their server, then to ``127.0.0.1``, and
the page becomes "same origin" with the dev server. The browser still sends the attacker's
name in ``Host``, so the server answers only when ``Host`` names the address it listens on or
a loopback name (421 otherwise). ``POST /dev/token`` mints a token for any user, so it also
refuses requests another page's script sent (``Origin`` or ``Sec-Fetch-Site`` not its own).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from voice_agent.credentials import is_same_origin

WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})
# Sec-Fetch-Site values of requests no other page started ("none": typed or bookmarked).
OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def host_name(host_header: str) -> str:
    """The name or address in a ``Host`` header, without port, brackets or trailing dot."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def host_allowed(host_header: str | None, bind_host: str) -> bool:
    """True when ``Host`` names ``bind_host`` or a loopback name.

    Loopback names are ``localhost``, ``*.localhost`` (browsers resolve them to loopback
    themselves) and loopback addresses. When the server listens on every interface, any IP
    address is accepted too: rebinding needs a name, an address literal is its own origin.
    """
    if not host_header:
        return False
    name = host_name(host_header)
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _ip(name)
    if address is not None and address.is_loopback:
        return True
    bound = host_name(bind_host)
    if bound in WILDCARD_ADDRESSES:
        return address is not None
    return name == bound


def own_origin_request(headers: Mapping[str, str]) -> bool:
    """True unless the browser says another page sent this request.

    ``Origin`` (sent by browsers on every POST) must name this server (its ``Host``), and
    ``Sec-Fetch-Site``, when present, must be ``same-origin`` or ``none``. A request with
    neither header is not from a browser page (curl, scripts): nothing to forge there.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    site = lowered.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in OWN_FETCH_SITES:
        return False
    origin = lowered.get("origin")
    return origin is None or is_same_origin(origin, lowered.get("host"))


class HostGuard:
    """ASGI middleware: refuse HTTP and WebSocket requests whose ``Host`` is not ours (421)."""

    def __init__(self, app: Any, bind_host: str = "127.0.0.1") -> None:
        self.app = app
        self.bind_host = bind_host

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((value.decode("latin-1") for name, value in scope.get("headers", [])
                     if name == b"host"), None)
        if host_allowed(host, self.bind_host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": "misdirected request: the Host header does not name this "
                                    "server (DNS rebinding protection)"}).encode()
        await send({"type": "http.response.start", "status": 421,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
