"""``--serve``: the desktop tools over HTTP for the web client, on 127.0.0.1 only.

A browser page can reach loopback servers, so the endpoint needs more than a loopback bind:
every request must name a loopback ``Host`` (a DNS-rebinding page names its own), carry the
pairing token printed at start (``X-Pairing-Token``, compared in constant time) and come from an
allowed ``Origin``; CORS preflight is answered (by Starlette's CORS middleware) for those
origins only. Calls go through the same
policy and the same questions; confirmations are asked in this terminal.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.desktop import DesktopExecutor
from voice_agent.body_checks import (
    JSON_MEDIA_TYPE,
    MAX_BODY_BYTES,
    check_json_shape,
    media_type,
)

TOKEN_HEADER = "X-Pairing-Token"
CORS_MAX_AGE_S = 600

Handler = Callable[[Request], Awaitable[Response]]
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header names this machine's loopback interface (any port)."""
    host = host.strip().lower()
    if host.startswith("["):
        name = host.split("]", 1)[0] + "]"
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in LOOPBACK_HOSTS


class RequestGuard:
    """ASGI middleware refusing a request before anything else sees it.

    A non-loopback ``Host`` is 421 (DNS rebinding: a page on attacker.example that resolves to
    127.0.0.1 reaches this port with its own Host), a missing or foreign ``Origin`` 403. It
    sits outside the CORS middleware, which on its own would answer a foreign origin's
    request (only without CORS headers) instead of refusing it.
    """

    def __init__(self, app: ASGIApp, allowed_origins: frozenset[str]) -> None:
        self.app = app
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the refusal, or pass the request on."""
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            refusal = None
            if not is_loopback_host(headers.get("host", "")):
                refusal = JSONResponse({"error": "Host must be a loopback name (localhost, "
                                                 "127.0.0.1 or [::1])"}, status_code=421)
            elif headers.get("origin", "") not in self.allowed_origins:
                refusal = JSONResponse({"error": "origin not allowed"}, status_code=403)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _json_body(request: Request) -> tuple[Any, Response | None]:
    """The parsed JSON body, or the refusal to answer instead.

    The API's own body checks (media type, size, UTF-8, then nesting depth and number length
    before the parser, which would otherwise recurse into a RecursionError), so malformed input
    is a 4xx here as it is there.
    """
    if media_type(dict(request.headers)) != JSON_MEDIA_TYPE:
        return None, JSONResponse({"error": "Content-Type must be application/json"},
                                  status_code=415)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return None, JSONResponse({"error": f"request body larger than {MAX_BODY_BYTES} "
                                            "bytes"}, status_code=413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, JSONResponse({"error": "body: invalid JSON (not UTF-8 text)"},
                                  status_code=422)
    rejection = check_json_shape(text)
    if rejection is not None:
        return None, JSONResponse({"error": rejection.message}, status_code=rejection.status)
    try:
        return json.loads(text), None
    except ValueError:
        return None, JSONResponse({"error": "body must be JSON"}, status_code=400)


def create_app(executor: DesktopExecutor, token: str, origins: tuple[str, ...]) -> Starlette:
    """The ASGI app: ``GET /tools``, ``POST /tools/call`` and their preflights.

    Middleware, outermost first: :class:`RequestGuard` (Host, Origin), Starlette's
    ``CORSMiddleware`` (preflights and CORS headers for the allowed origins), then the
    routes, each behind the pairing-token check.
    """
    allowed = frozenset(o.rstrip("/") for o in origins)

    def with_token(handler: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            given = request.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"error": f"missing or wrong {TOKEN_HEADER}"},
                                    status_code=401)
            return await handler(request)
        return wrapper

    async def list_tools(request: Request) -> Response:
        tools = [tool.as_function_tool() for tool in (executor.client.tools
                                                       if executor.client else [])]
        return JSONResponse({"tools": tools})

    async def call_tool(request: Request) -> Response:
        body, refusal = await _json_body(request)
        if refusal is not None:
            return refusal
        name = body.get("name") if isinstance(body, dict) else None
        arguments = body.get("arguments", {}) if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return JSONResponse({"error": "name: required (a tool name)"}, status_code=422)
        if not isinstance(arguments, dict):
            return JSONResponse({"error": "arguments: must be an object"}, status_code=422)
        outcome = await executor.run(name, arguments)
        return JSONResponse({"output": outcome.text, "is_error": outcome.is_error})

    return Starlette(
        routes=[Route("/tools", with_token(list_tools), methods=["GET"]),
                Route("/tools/call", with_token(call_tool), methods=["POST"])],
        middleware=[
            Middleware(RequestGuard, allowed_origins=allowed),
            Middleware(CORSMiddleware, allow_origins=sorted(allowed),
                       allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["Content-Type", TOKEN_HEADER], max_age=CORS_MAX_AGE_S),
        ],
    )


async def serve(executor: DesktopExecutor, *, port: int, origins: tuple[str, ...],
                token: str | None = None, out: TextIO | None = None,
                ready: asyncio.Future[int] | None = None,
                stop: asyncio.Event | None = None) -> int:
    """Serve until Ctrl-C (uvicorn's handler) or ``stop`` is set; returns the exit code.

    Args:
        executor: runs the calls under the policy.
        port: TCP port on 127.0.0.1 (0 picks a free one).
        origins: allowed browser origins.
        token: the pairing token (a fresh random one by default).
        out: where the token and the address are printed (stdout).
        ready: resolved with the bound port once listening (tests).
        stop: set it to shut the server down (tests, embedding).
    """
    import uvicorn

    out = out or sys.stdout
    token = token or secrets.token_urlsafe(24)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # loopback only, whatever the caller passes
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(create_app(executor, token, origins), log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)

    async def watch() -> None:
        # uvicorn exposes only a `started` flag, no event to await.
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        # Printed once listening, so whoever reads the token can connect right away.
        print(f"bridge serving desktop tools on http://127.0.0.1:{bound}", file=out, flush=True)
        print(f"pairing token: {token}", file=out, flush=True)
        print("allowed origins: " + ", ".join(origins), file=out, flush=True)
        if ready is not None and not ready.done():
            ready.set_result(bound)
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    try:
        async with asyncio.TaskGroup() as tg:
            watcher = tg.create_task(watch())
            await server.serve(sockets=[sock])
            watcher.cancel()
    finally:
        sock.close()
    return 0
