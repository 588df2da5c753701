"""Loopback fixtures for the web client's browser tests.

* ``FakeBackend`` — one Starlette app on 127.0.0.1 that serves ``web/`` and a fake of our API
  (dev token, options, session minting, memories, search), plus OpenAI's side: client-secret
  minting (so the real dev server can mint against it), the realtime WebSocket and the WebRTC
  calls endpoint. Every request and every client event is recorded; tests push scripted server
  events into a live realtime connection.
* ``FakeBridge`` — the desktop bridge's ``--serve`` endpoint (``GET /tools``,
  ``POST /tools/call``) on its own port, so calls from the page are cross-origin as in real use.
* ``web_browser`` — Debian's Chromium driven by Playwright (its own browser download is not
  reachable here); the tests skip with a clear reason only when Chromium is not installed.

Servers run uvicorn in a thread; the test thread talks to them through thread-safe helpers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.realtime import validate_client_event
from voice_agent import catalogue

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = REPO_ROOT / "web"

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
    # A fake microphone (a tone) so the level meter and the mic path run without hardware.
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str | None:
    """Debian's Chromium (or CHROMIUM_PATH), if installed."""
    candidates = [os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"),
                  "/usr/bin/chromium", shutil.which("chromium-browser")]
    return next((c for c in candidates if c and Path(c).exists()), None)


def wait_until(predicate: Callable[[], Any], timeout_s: float = 5.0,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def fake_jwt(sub: str) -> str:
    """An unsigned token whose payload names ``sub`` (the fake API does not verify it)."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': sub})}.sig"


# --- loopback server plumbing -------------------------------------------------------------------


class LoopbackServer:
    """Runs an ASGI app with uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name=f"loopback-{self.port}", daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))

    def start(self) -> LoopbackServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "the loopback server to start")
        return self

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


@dataclass
class Recorded:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


# --- fake realtime connection ---------------------------------------------------------------------


@dataclass
class RealtimeConnection:
    """One WebSocket the page opened to the fake realtime endpoint."""

    owner: FakeBackend
    subprotocols: list[str]
    query: dict[str, str]
    received: list[dict[str, Any]] = field(default_factory=list)
    # Client events that break the GA shapes (checked with the shared validator).
    violations: list[str] = field(default_factory=list)
    sent_call_ids: set[str] = field(default_factory=set)
    closed: bool = False
    outbox: asyncio.Queue[dict[str, Any] | None] | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        """Client events except microphone audio."""
        return [e for e in list(self.received) if e.get("type") != "input_audio_buffer.append"]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == event_type]

    def send(self, *events: dict[str, Any]) -> None:
        """Push server events to the page (thread-safe)."""
        for event in events:
            event = {"event_id": f"event_{uuid.uuid4().hex[:12]}", **event}
            items = [event, event.get("item") or {},
                     *((event.get("response") or {}).get("output") or [])]
            self.sent_call_ids.update(i["call_id"] for i in items if i.get("call_id"))
            assert self.outbox is not None
            self.owner.server.call_soon(self.outbox.put_nowait, event)

    def drop(self) -> None:
        """Close the socket from the server side (an unexpected drop for the page)."""
        assert self.outbox is not None
        self.owner.server.call_soon(self.outbox.put_nowait, None)

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], Any], timeout_s: float = 10.0,
                 what: str = "client events") -> Any:
        return wait_until(lambda: predicate(self.events), timeout_s, what)

    def wait_for_type(self, event_type: str, count: int = 1,
                      timeout_s: float = 10.0) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            found = self.of_type(event_type)
            return found if len(found) >= count else None

        return wait_until(enough, timeout_s, f"{count} × {event_type}")

    def wait_closed(self, timeout_s: float = 10.0) -> None:
        wait_until(lambda: self.closed, timeout_s, "the page to close the realtime socket")


def function_call_events(response_id: str, calls: list[tuple[str, str, dict[str, Any]]],
                         *, announce_twice: bool = True) -> list[dict[str, Any]]:
    """Server events of one response carrying function calls, as the GA API sends them.

    Each call is announced by ``response.function_call_arguments.done`` and by
    ``response.output_item.done`` (both happen for real); ``response.done`` ends the response.
    """
    events: list[dict[str, Any]] = [{"type": "response.created",
                                     "response": {"id": response_id, "status": "in_progress"}}]
    items = []
    for index, (call_id, name, arguments) in enumerate(calls):
        item = {"id": f"item_{call_id}", "type": "function_call", "status": "completed",
                "call_id": call_id, "name": name, "arguments": json.dumps(arguments)}
        items.append(item)
        if announce_twice:
            events.append({"type": "response.function_call_arguments.done",
                           "response_id": response_id, "item_id": item["id"],
                           "output_index": index, "call_id": call_id, "name": name,
                           "arguments": item["arguments"]})
        events.append({"type": "response.output_item.done", "response_id": response_id,
                       "output_index": index, "item": item})
    events.append({"type": "response.done",
                   "response": {"id": response_id, "status": "completed", "output": items}})
    return events


class WebRTCPeer:
    """A second browser tab playing OpenAI's side of a WebRTC call (audio + "oai-events")."""

    _ANSWER_JS = """async (offer) => {
      const pc = new RTCPeerConnection();
      window.peer = pc;
      window.received = [];
      window.trackKinds = [];
      window.channelLabel = null;
      pc.ontrack = (event) => window.trackKinds.push(event.track.kind);
      pc.ondatachannel = (event) => {
        window.channel = event.channel;
        window.channelLabel = event.channel.label;
        event.channel.onmessage = (m) => window.received.push(JSON.parse(m.data));
      };
      await pc.setRemoteDescription({type: "offer", sdp: offer});
      await pc.setLocalDescription(await pc.createAnswer());
      if (pc.iceGatheringState !== "complete") {
        await new Promise((resolve) => {
          pc.onicegatheringstatechange = () => {
            if (pc.iceGatheringState === "complete") resolve();
          };
          setTimeout(resolve, 3000);
        });
      }
      return pc.localDescription.sdp;
    }"""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.sent_call_ids: set[str] = set()

    def answer(self, offer_sdp: str) -> str:
        return str(self.page.evaluate(self._ANSWER_JS, offer_sdp))

    def info(self) -> dict[str, Any]:
        return dict(self.page.evaluate(
            "({tracks: window.trackKinds, label: window.channelLabel, "
            "open: !!window.channel && window.channel.readyState === 'open'})"))

    def send(self, *events: dict[str, Any]) -> None:
        for event in events:
            items = [event, event.get("item") or {},
                     *((event.get("response") or {}).get("output") or [])]
            self.sent_call_ids.update(i["call_id"] for i in items if i.get("call_id"))
        self.page.evaluate("(events) => events.forEach((e) => window.channel.send("
                           "JSON.stringify(e)))", list(events))

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.page.evaluate("window.received || []"))

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == event_type]

    def violations(self) -> list[str]:
        return [v for e in self.events for v in validate_client_event(e, self.sent_call_ids)]


# --- the fake backend ---------------------------------------------------------------------------


class FakeBackend:
    """Our API (faked), OpenAI's realtime side (faked), and the real ``web/`` folder."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.connections: list[RealtimeConnection] = []
        self.memories: dict[str, list[dict[str, Any]]] = {}
        self.minted = 0
        # Per-route overrides: (method, path) -> (status, body) for the next requests.
        self.failures: dict[tuple[str, str], tuple[int, Any]] = {}
        self.dev_sign_in = True
        # WebRTC: with webrtc_peer set, offers wait in pending_offers for a test to answer.
        self.webrtc_peer = False
        self.pending_offers: list[tuple[str, Callable[[str], None]]] = []
        self.key_ttl_s = 600
        self.server = LoopbackServer(self._app())

    # -- lifecycle --

    def start(self) -> FakeBackend:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        self.requests.clear()
        self.connections.clear()
        self.memories.clear()
        self.failures.clear()
        self.dev_sign_in = True
        self.webrtc_peer = False
        self.pending_offers.clear()
        self.key_ttl_s = 600

    @property
    def url(self) -> str:
        return self.server.url

    # -- helpers for tests --

    def api_requests(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in list(self.requests)
                if (method is None or r.method == method) and (path is None or r.path == path)]

    def add_memory(self, user: str, text: str, created_at: str | None = None,
                   metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        memory = {"id": f"mem_{uuid.uuid4().hex[:10]}", "memory": text,
                  "metadata": metadata or {},
                  "created_at": created_at or "2026-11-20T09:30:00Z",
                  "updated_at": created_at or "2026-11-20T09:30:00Z"}
        self.memories.setdefault(user, []).append(memory)
        return memory

    def wait_connection(self, index: int = 0, timeout_s: float = 10.0) -> RealtimeConnection:
        def ready() -> RealtimeConnection | None:
            if len(self.connections) > index and self.connections[index].outbox is not None:
                return self.connections[index]
            return None

        return wait_until(ready, timeout_s, f"realtime connection #{index + 1}")

    # -- the app --

    def _app(self) -> Starlette:
        routes = [
            Route("/dev/token", self._dev_token, methods=["POST"]),
            Route("/api/voice-agent/options", self._options, methods=["GET"]),
            Route("/api/voice-agent", self._mint, methods=["POST"]),
            Route("/api/memory/search", self._memory_search, methods=["POST"]),
            Route("/api/memory", self._memory_list, methods=["GET"]),
            Route("/api/memory", self._memory_add, methods=["POST"]),
            Route("/api/memory/jobs/{job_id}", self._memory_job, methods=["GET"]),
            Route("/api/memory/export", self._memory_export, methods=["GET"]),
            Route("/api/memory", self._memory_forget, methods=["DELETE"]),
            Route("/api/memory/{id}", self._memory_delete, methods=["DELETE"]),
            Route("/api/search", self._search, methods=["POST"]),
            Route("/v1/realtime/client_secrets", self._client_secrets, methods=["POST"]),
            Route("/tavily/search", self._tavily_search, methods=["POST"]),
            Route("/v1/realtime/calls", self._calls, methods=["POST"]),
            WebSocketRoute("/v1/realtime", self._realtime),
            Mount("/", StaticFiles(directory=WEB_DIR, html=True)),
        ]
        return Starlette(routes=routes)

    async def _record(self, request: Request) -> Recorded:
        recorded = Recorded(request.method, request.url.path, request.url.query,
                            {k.lower(): v for k, v in request.headers.items()},
                            await request.body())
        self.requests.append(recorded)
        return recorded

    def _user(self, recorded: Recorded) -> str | None:
        auth = recorded.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        try:
            payload = auth.removeprefix("Bearer ").split(".")[1]
            return str(json.loads(base64.urlsafe_b64decode(payload + "==="))["sub"])
        except (IndexError, KeyError, ValueError):
            return None

    async def _api(self, request: Request) -> tuple[Recorded, str | None, Response | None]:
        recorded = await self._record(request)
        failure = self.failures.get((request.method, request.url.path))
        if failure:
            status, body = failure
            return recorded, None, JSONResponse(body, status_code=status)
        user = self._user(recorded)
        if user is None:
            return recorded, None, JSONResponse({"error": "missing or invalid credentials"},
                                                status_code=401)
        return recorded, user, None

    async def _dev_token(self, request: Request) -> Response:
        recorded = await self._record(request)
        if not self.dev_sign_in:
            return JSONResponse({"error": "not found"}, status_code=404)
        user = (recorded.json() or {}).get("user")
        if not isinstance(user, str) or not user.strip():
            return JSONResponse({"error": "user: a non-empty string is required"}, status_code=422)
        return JSONResponse({"token": fake_jwt(user.strip())})

    async def _options(self, request: Request) -> Response:
        _, _, error = await self._api(request)
        return error or JSONResponse({
            "models": list(catalogue.REALTIME_MODELS), "default_model": catalogue.DEFAULT_MODEL,
            "voices": list(catalogue.VOICES), "default_voice": catalogue.DEFAULT_VOICE})

    def session_object(self, model: str, voice: str) -> dict[str, Any]:
        self.minted += 1
        expires_at = int(time.time()) + self.key_ttl_s
        ws = self.url.replace("http://", "ws://")
        return {
            "id": f"sess_fake{self.minted}", "model": model, "expires_at": expires_at,
            "client_secret": {"value": f"ek_fake{self.minted}", "expires_at": expires_at},
            "modalities": ["audio"], "instructions": "Be brief.", "voice": voice,
            "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad"},
            "tools": catalogue.session_tools(),
            "realtime": {"websocket_url": f"{ws}/v1/realtime?model={model}",
                         "calls_url": f"{self.url}/v1/realtime/calls"},
        }

    async def _mint(self, request: Request) -> Response:
        recorded, _, error = await self._api(request)
        if error:
            return error
        body = recorded.json() or {}
        return JSONResponse(self.session_object(body.get("model", catalogue.DEFAULT_MODEL),
                                                body.get("voice", catalogue.DEFAULT_VOICE)))

    async def _memory_list(self, request: Request) -> Response:
        _, user, error = await self._api(request)
        if error:
            return error
        items = self.memories.get(user or "", [])
        limit = int(request.query_params.get("limit", "20"))
        start = int(request.query_params.get("cursor") or 0)
        page = items[start:start + limit]
        next_cursor = str(start + limit) if start + limit < len(items) else None
        return JSONResponse({"results": page, "next_cursor": next_cursor})

    async def _memory_search(self, request: Request) -> Response:
        recorded, user, error = await self._api(request)
        if error:
            return error
        body = recorded.json() or {}
        words = str(body.get("query", "")).lower().split()
        scored = []
        for memory in self.memories.get(user or "", []):
            hits = sum(word in memory["memory"].lower() for word in words)
            if hits:
                scored.append({**memory, "score": round(hits / max(1, len(words)), 2)})
        scored.sort(key=lambda m: -m["score"])
        return JSONResponse({"results": scored[: int(body.get("limit", 5))]})

    async def _memory_add(self, request: Request) -> Response:
        recorded, user, error = await self._api(request)
        if error:
            return error
        body = recorded.json() or {}
        messages = body.get("messages")
        text = messages if isinstance(messages, str) else " ".join(
            m.get("content", "") for m in messages or [])
        memory = self.add_memory(user or "", text)
        return JSONResponse({"status": "queued", "job_id": f"job_{memory['id']}"}, status_code=202)

    async def _memory_job(self, request: Request) -> Response:
        _, _, error = await self._api(request)
        return error or JSONResponse({"status": "done", "results": []})

    EXPORT_PAGE = 2  # small pages, so the client has to follow next_cursor

    async def _memory_export(self, request: Request) -> Response:
        _, user, error = await self._api(request)
        if error:
            return error
        items = self.memories.get(user or "", [])
        limit = min(int(request.query_params.get("limit", "500")), self.EXPORT_PAGE)
        start = int(request.query_params.get("cursor") or 0)
        page = [{**m, "history": [{"memory": m["memory"], "event": "ADD",
                                   "at": m["created_at"], "previous_memory": None}]}
                for m in items[start:start + limit]]
        next_cursor = str(start + limit) if start + limit < len(items) else None
        return JSONResponse({"format": "voice-agent.memory-export.v1", "total": len(items),
                             "memories": page, "next_cursor": next_cursor})

    async def _memory_forget(self, request: Request) -> Response:
        _, user, error = await self._api(request)
        if error:
            return error
        self.memories.pop(user or "", None)
        return Response(status_code=204)

    async def _memory_delete(self, request: Request) -> Response:
        _, user, error = await self._api(request)
        if error:
            return error
        items = self.memories.get(user or "", [])
        for memory in items:
            if memory["id"] == request.path_params["id"]:
                items.remove(memory)
                return Response(status_code=204)
        return JSONResponse({"error": "memory not found"}, status_code=404)

    async def _search(self, request: Request) -> Response:
        recorded, _, error = await self._api(request)
        if error:
            return error
        query = (recorded.json() or {}).get("query", "")
        return JSONResponse({"query": query, "answer": f"Answer about {query}.",
                             "results": [{"title": "Example", "url": "https://example.com/",
                                          "content": "Example content.", "score": 0.9}]})

    # -- OpenAI's and Tavily's side (the real dev server calls these) --

    async def _client_secrets(self, request: Request) -> Response:
        recorded = await self._record(request)
        body = recorded.json() or {}
        self.minted += 1
        expires_at = int(time.time()) + int(body.get("expires_after", {}).get("seconds", 600))
        session = {"id": f"sess_fake{self.minted}", "object": "realtime.session",
                   **body.get("session", {})}
        return JSONResponse({"value": f"ek_fake{self.minted}", "expires_at": expires_at,
                             "session": session})

    async def _tavily_search(self, request: Request) -> Response:
        recorded = await self._record(request)
        query = (recorded.json() or {}).get("query", "")
        return JSONResponse({"query": query, "answer": f"Sunny in {query}, 24 degrees.",
                             "results": [{"title": f"Weather {query}",
                                          "url": "https://weather.example/",
                                          "content": "Sunny all day.", "score": 0.9}],
                             "response_time": 0.01})

    async def _calls(self, request: Request) -> Response:
        recorded = await self._record(request)
        if self.webrtc_peer:
            # A test answers the offer (with a second browser tab as the realtime peer).
            loop = asyncio.get_running_loop()
            answer: asyncio.Future[str] = loop.create_future()
            self.pending_offers.append(
                (recorded.body.decode(),
                 lambda sdp: loop.call_soon_threadsafe(answer.set_result, sdp)))
            sdp = await asyncio.wait_for(answer, 15)
            return Response(sdp, status_code=201, media_type="application/sdp")
        # No WebRTC peer here: answer like the API does for a key it does not accept.
        return JSONResponse({"error": {"message": "fake realtime: WebRTC is not available here",
                                       "type": "invalid_request_error", "code": None,
                                       "param": None}}, status_code=400)

    async def _realtime(self, websocket: WebSocket) -> None:
        protocols = list(websocket.scope.get("subprotocols", []))
        conn = RealtimeConnection(self, protocols, dict(websocket.query_params))
        await websocket.accept(subprotocol="realtime" if "realtime" in protocols else None)
        conn.outbox = asyncio.Queue()
        self.connections.append(conn)
        await websocket.send_text(json.dumps({
            "type": "session.created", "event_id": "event_created",
            "session": {"type": "realtime", "id": f"sess_ws{len(self.connections)}",
                        "model": conn.query.get("model", "")}}))

        async def pump() -> None:
            assert conn.outbox is not None
            while True:
                event = await conn.outbox.get()
                if event is None:
                    await websocket.close(code=1011, reason="fake drop")
                    return
                await websocket.send_text(json.dumps(event))

        sender = asyncio.create_task(pump())
        try:
            while True:
                event = json.loads(await websocket.receive_text())
                conn.received.append(event)
                conn.violations.extend(validate_client_event(event, conn.sent_call_ids))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            conn.closed = True
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender


# --- the fake desktop bridge ----------------------------------------------------------------------


class FakeBridge:
    """``voice-agent bridge --serve`` as the web client sees it."""

    def __init__(self, allowed_origin: str, pairing_token: str = "pair-123") -> None:
        self.pairing_token = pairing_token
        self.requests: list[Recorded] = []
        self.tools = [
            {"name": "Snapshot", "description": "Look at the screen.",
             "inputSchema": {"type": "object",
                             "properties": {"use_vision": {"type": "boolean"}}}},
            {"name": "Click", "description": "Click somewhere.",
             "inputSchema": {"type": "object", "properties": {
                 "loc": {"type": "array", "items": {"type": "integer"}}}}},
        ]

        async def guard(request: Request) -> tuple[Recorded, Response | None]:
            recorded = Recorded(request.method, request.url.path, request.url.query,
                                {k.lower(): v for k, v in request.headers.items()},
                                await request.body())
            self.requests.append(recorded)
            if recorded.headers.get("x-pairing-token") != self.pairing_token:
                return recorded, JSONResponse({"error": "bad pairing token"}, status_code=401)
            return recorded, None

        async def tools(request: Request) -> Response:
            _, error = await guard(request)
            return error or JSONResponse({"tools": self.tools})

        async def call(request: Request) -> Response:
            recorded, error = await guard(request)
            if error:
                return error
            body = recorded.json()
            output = f"ran {body['name']} with {json.dumps(body['arguments'])}"
            return JSONResponse({"output": output, "is_error": False})

        app = Starlette(
            routes=[Route("/tools", tools, methods=["GET"]),
                    Route("/tools/call", call, methods=["POST"])],
            middleware=[Middleware(CORSMiddleware, allow_origins=[allowed_origin],
                                   allow_methods=["GET", "POST"],
                                   allow_headers=["X-Pairing-Token", "Content-Type"])],
        )
        self.server = LoopbackServer(app)

    @property
    def url(self) -> str:
        return self.server.url

    def calls(self) -> list[Recorded]:
        return [r for r in list(self.requests) if r.path == "/tools/call"]


# --- pytest fixtures ------------------------------------------------------------------------------
# Prefixed with web_ because a plugin's fixtures lose against any conftest fixture of the same name.


@pytest.fixture(scope="session")
def web_chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (run scripts/install-browser.sh, or set "
                    "CHROMIUM_PATH); the web client's browser tests need it")
    return path


@pytest.fixture(scope="module")
def web_browser(web_chromium: str) -> Iterator[Any]:
    # Module scope, not session: while the sync API is open its event loop counts as running
    # in this thread, which would break every asyncio test that runs after the web tests.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=web_chromium,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def web_backend_server() -> Iterator[FakeBackend]:
    backend = FakeBackend().start()
    yield backend
    backend.stop()


@pytest.fixture
def web_backend(web_backend_server: FakeBackend) -> Iterator[FakeBackend]:
    """The fake backend, emptied; afterwards every client event must have had a GA shape."""
    web_backend_server.reset()
    yield web_backend_server
    violations = [v for c in web_backend_server.connections for v in c.violations]
    assert violations == [], f"the page sent events the GA API would refuse: {violations}"


@pytest.fixture(scope="session")
def web_bridge_server(web_backend_server: FakeBackend) -> Iterator[FakeBridge]:
    bridge = FakeBridge(allowed_origin=web_backend_server.url)
    bridge.server.start()
    yield bridge
    bridge.server.stop()


@pytest.fixture
def web_bridge(web_bridge_server: FakeBridge) -> FakeBridge:
    web_bridge_server.requests.clear()
    return web_bridge_server


@pytest.fixture(scope="module")
def _web_shared_page(web_browser: Any) -> Iterator[Any]:
    # One tab for the whole run: a new renderer per test costs more than the test itself.
    context = web_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def web_page(_web_shared_page: Any) -> Iterator[Any]:
    """The browser tab, blank, with empty storage; uncaught page errors land in ``page.errors``."""
    page = _web_shared_page
    # Generous bounds: a busy CI machine is slow, a passing test never waits for them.
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)
    page.errors.clear()
    yield page
    # Leave nothing behind: storage of the origin under test, open sockets, the viewport.
    with contextlib.suppress(Exception):
        page.evaluate("localStorage.clear(); sessionStorage.clear()")
    page.goto("about:blank")
    page.set_viewport_size({"width": 1280, "height": 900})


def open_page(page: Any, base_url: str, query: str = "") -> None:
    """Load the client and wait for its module to finish starting."""
    page.goto(f"{base_url}/{query}")
    page.wait_for_selector("body[data-ready='true']", state="attached")


def dev_sign_in(page: Any, user: str) -> None:
    page.get_by_role("button", name="Dev sign-in").wait_for()
    page.get_by_label("User name").fill(user)
    page.get_by_role("button", name="Dev sign-in").click()
    page.wait_for_selector("#app-view:not([hidden])")


def unique_user() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"

