"""``voice-agent dev``: the whole API on one local port, with the same handlers as on AWS.

Each HTTP request is matched to a route of ``template.yaml``, the authorizer runs first on a
payload-2.0 REQUEST event (as API Gateway runs it), and its context is passed to the route's
``lambda_handler`` in a payload-2.0 proxy event. Memory extraction jobs run in-process through
the worker's handler with SQS-shaped events, unless ``MEMORY_QUEUE_URL`` names a real queue.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from voice_agent.body_checks import JSON_MEDIA_TYPE, check_json_shape, media_type
from voice_agent_cli.devauth import DEV_AUDIENCE, DEV_ISSUER, DevIssuer
from voice_agent_cli.events import (
    HttpRequest,
    RouteMatcher,
    authorizer_event,
    proxy_event,
)
from voice_agent_cli.hostguard import HostGuard, own_origin_request
from voice_agent_cli.local_aws import create_memory_table
from voice_agent_cli.local_function import LocalFunction, lambda_response
from voice_agent_cli.template import Route as ApiRoute
from voice_agent_cli.template import SamApp, load_sam_app

log = logging.getLogger("voice_agent.dev")
REPO_ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = REPO_ROOT / "web"
OPENAPI_FILE = REPO_ROOT / "openapi.json"


WORKER_THREADS = 40  # as many as Starlette's own thread pool (anyio's default limit)
# Characters Starlette's request.url escapes (?, #, \) or urllib drops (tab, CR, LF) in a path.
_URL_REWRITTEN = re.compile(r"[?#\\\t\r\n]")
DEV_TOKEN_MAX_BODY_BYTES = 4096  # {"user": <≤ 128 characters>}


def configure_environment(data_dir: Path) -> DevIssuer | None:
    """Fill in the embedded defaults; explicit environment variables always win.

    Returns the dev issuer when the dev JWT setup is used (no ``JWT_*`` configured).
    """
    os.environ.setdefault("VOICE_AGENT_DATA_DIR", str(data_dir))
    os.environ.setdefault("EMBEDDINGS", "local")
    os.environ.setdefault("MEMORY_LLM", "none")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    issuer = None
    if not any(os.environ.get(k) for k in ("JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS_URL")):
        issuer = DevIssuer(data_dir)
        os.environ["JWT_ISSUER"] = DEV_ISSUER
        os.environ["JWT_AUDIENCE"] = DEV_AUDIENCE
        os.environ["JWT_JWKS_URL"] = issuer.jwks_url
    from voice_agent.settings import reset_settings

    reset_settings()
    return issuer


def ensure_memory_table(template_path: Path | None) -> None:
    """With ``MEMORY_TABLE`` set, use that DynamoDB table; create it from the template if missing.

    The endpoint comes from ``AWS_ENDPOINT_URL_DYNAMODB`` (moto server, LocalStack) or AWS.
    """
    table = os.environ.get("MEMORY_TABLE")
    if not table:
        return
    from voice_agent.aws import aws_client

    create_memory_table(aws_client("dynamodb"), table, template_path)


class LocalApi:
    """The API Gateway stand-in: routing, authorizer, integration, job dispatch."""

    def __init__(self, sam: SamApp) -> None:
        self.sam = sam
        self._functions: dict[str, LocalFunction] = {}
        self._functions_lock = threading.Lock()
        # The handlers run on a plain thread pool: a hand-off through it costs about 30 µs
        # less than one through Starlette's run_in_threadpool (anyio).
        self._workers = ThreadPoolExecutor(max_workers=WORKER_THREADS,
                                           thread_name_prefix="voice-agent-dev")
        self._matchers = sorted(
            ((RouteMatcher.of(r.method, r.path), r) for r in sam.routes),
            key=lambda pair: -pair[0].literal_segments,
        )
        # Routes without parameters, by method and path, each kept only where the ordered
        # search picks that very route for its own path: the lookup gives the same answer.
        self._literal_routes: dict[tuple[str, str], ApiRoute] = {}
        for matcher, route in self._matchers:
            first = self._first_match(matcher.method, route.path)
            if "{" not in route.path and first is not None and first[0] is route:
                self._literal_routes.setdefault((matcher.method, route.path), route)

    def function(self, logical_id: str) -> LocalFunction:
        with self._functions_lock:
            found = self._functions.get(logical_id)
            if found is None:
                found = self._functions[logical_id] = LocalFunction(self.sam.functions[logical_id])
            return found

    def enable_in_process_jobs(self) -> None:
        """Run memory jobs through the worker handler unless a real queue is configured.

        The job queue calls the dispatcher on its own background thread with an SQS-shaped
        event, so the dispatcher simply invokes the worker function.
        """
        if os.environ.get("MEMORY_QUEUE_URL"):
            return
        worker_id = next((fid for fid, spec in self.sam.functions.items()
                          if spec.code_dir.name == "memory_worker"), None)
        if worker_id is None:
            return
        from voice_agent.memory import jobs

        def dispatch(event: dict[str, Any]) -> None:
            try:
                result = self.function(worker_id).invoke(event)
            except Exception:
                log.exception("memory worker crashed")
                return
            if isinstance(result, dict) and result.get("batchItemFailures"):
                log.warning("memory job failed: %s", result["batchItemFailures"])

        jobs.set_local_dispatcher(dispatch)

    def match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        """The template route for a request and its path parameters, as API Gateway picks it."""
        method = method.upper()
        literal = self._literal_routes.get((method, path))
        if literal is not None:
            return literal, {}
        return self._first_match(method, path)

    def _first_match(self, method: str,
                     path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for matcher, route in self._matchers:  # the most literal segments first
            params = matcher.match(method, path)
            if params is not None:
                return route, params
        return None

    async def handle(self, request: Request) -> Response:
        # The scope's own path and query: building request.url costs more than the lookup.
        # A path with a character request.url escapes or drops takes request.url's spelling.
        scope = request.scope
        path: str = scope["path"]
        if not path.startswith("/") or _URL_REWRITTEN.search(path):
            path = request.url.path
        found = self.match(request.method, path)
        if found is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        route, params = found
        http = HttpRequest(
            method=request.method, path=path,
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=request.headers.items(), body=await request.body(),
            source_ip=request.client.host if request.client else "127.0.0.1",
            host=request.headers.get("host", "localhost"),
        )
        route_key = f"{route.method} {route.path}"
        # The authorizer and the route run in one worker-thread job: a hand-off to the
        # thread pool costs about as much as the authorizer itself. Each job runs in a copy
        # of the request's context, as run_in_threadpool runs it.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._workers, context.run, self._authorize_and_invoke, route, route_key, http,
            params)

    def _authorize_and_invoke(self, route: ApiRoute, route_key: str, http: HttpRequest,
                              params: dict[str, str]) -> Response:
        context: dict[str, Any] | None = None
        if route.authorized and self.sam.authorizer_id:
            decision = self.function(self.sam.authorizer_id).invoke(
                authorizer_event(http, route_key, params))
            if not isinstance(decision, dict) or decision.get("isAuthorized") is not True:
                # On AWS a denial is a 403 with no detail; locally we answer 401 as the API
                # contract states for missing or invalid credentials (see README), and 403
                # for a cookie sent from a foreign origin.
                denial = (decision or {}).get("context", {})
                reason = denial.get("reason", "unauthorized")
                if denial.get("status") == 403:
                    return JSONResponse({"error": f"forbidden: {reason}"}, status_code=403)
                return JSONResponse({"error": f"unauthorized: {reason}"}, status_code=401)
            context = decision.get("context") or {}
        event = proxy_event(http, route_key, params, context)
        return lambda_response(self.function(route.function_id).invoke(event))


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not UTF-8, not JSON or too deep."""
    try:
        text = raw.decode("utf-8")
        body = None if check_json_shape(text) else json.loads(text)
    except ValueError:  # not UTF-8, or not JSON
        return None
    return body if isinstance(body, dict) else None


def create_app(data_dir: Path, template_path: Path | None = None,
               bind_host: str = "127.0.0.1") -> Starlette:
    """Build the local API + web client app (the environment is configured first).

    ``bind_host`` is the address the server listens on: with loopback names, the only names
    ``Host`` may carry (:class:`~voice_agent_cli.hostguard.HostGuard`).
    """
    issuer = configure_environment(data_dir)
    sam = load_sam_app(template_path)
    ensure_memory_table(template_path)
    api = LocalApi(sam)
    api.enable_in_process_jobs()

    async def openapi(_request: Request) -> Response:
        return Response(OPENAPI_FILE.read_bytes(), media_type="application/json")

    async def dev_token(request: Request) -> Response:
        if issuer is None:
            return JSONResponse({"error": "dev sign-in is off: JWT_* are configured"},
                                status_code=404)
        # A token for any user: never to a page of another site (or a rebinding one).
        if not own_origin_request(request.headers):
            return JSONResponse({"error": "forbidden: dev sign-in only from this server's "
                                          "own pages"}, status_code=403)
        if media_type(dict(request.headers)) != JSON_MEDIA_TYPE:
            return JSONResponse({"error": f"request body must be {JSON_MEDIA_TYPE}"},
                                status_code=415)
        raw = await request.body()
        if len(raw) > DEV_TOKEN_MAX_BODY_BYTES:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        body = _json_object(raw)
        user = body.get("user") if body is not None else None
        if not isinstance(user, str) or not user.strip() or len(user) > 128:
            return JSONResponse({"error": "user: a non-empty string (≤ 128 chars) is required"},
                                status_code=422)
        return JSONResponse({"token": issuer.issue(user.strip())})

    async def jwks(_request: Request) -> Response:
        if issuer is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(issuer.jwks)

    routes: list[Any] = [
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/dev/token", dev_token, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/api/{rest:path}", api.handle,
              methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
    ]
    if (WEB_DIR / "index.html").exists():
        routes.append(Mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web"))
    else:
        routes.append(Route("/", _placeholder_page, methods=["GET"]))
        routes.append(Route("/docs", lambda _r: RedirectResponse("/api/openapi.json")))
    async def json_not_found(_request: Request, _exc: Exception) -> Response:
        # Paths no route pattern matches (e.g. with an encoded line break) still get the API's
        # JSON error shape rather than Starlette's plain text.
        return JSONResponse({"error": "not found"}, status_code=404)

    app = Starlette(routes=routes, exception_handlers={404: json_not_found},
                    middleware=[Middleware(HostGuard, bind_host=bind_host)])
    app.state.api = api
    app.state.issuer = issuer
    return app


async def _placeholder_page(_request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><title>voice-agent dev</title><h1>voice-agent dev server</h1>"
        "<p>The API runs here with the same handlers and authorizer as on AWS. "
        "See the <a href='/api/openapi.json'>OpenAPI document</a>.</p>")


def run_dev(host: str, port: int, data_dir: Path) -> int:
    """Serve until interrupted."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(data_dir, bind_host=host)
    print(f"voice-agent dev: http://{host}:{port}/  (API under /api, data in {data_dir})",
          flush=True)
    if app.state.issuer is not None:
        print("sign in: `voice-agent token --user YOU` or the web page's dev sign-in",
              flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
