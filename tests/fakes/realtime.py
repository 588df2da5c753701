"""Fake OpenAI realtime WebSocket server and fake voice-agent API, both on 127.0.0.1.

:class:`FakeRealtime` speaks the GA realtime event protocol with scripted behaviour: a user
message containing a trigger answers with function calls, tool outputs are answered with a text
reply that quotes them, an out-of-band response gives a short notice, the connection can be
dropped after N client events. Every client event is recorded per session and validated against
the ``openai`` SDK's GA types (see ``tests/fakes/realtime_schema.py``: unknown types, beta
fields, non-string ``function_call_output.output`` …); violations are kept in
``session.violations`` and answered with an ``error`` event as the real API does.

:class:`FakeApi` serves ``POST /api/voice-agent`` (minting sessions that point at the fake
realtime server) and the memory/search routes, checking the bearer token and recording calls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fakes.realtime_schema import validate_client_event

__all__ = ["FakeApi", "FakeRealtime", "validate_client_event"]

# --- scripted realtime server ---------------------------------------------------------------

@dataclass
class Rule:
    """When ``match`` appears in the latest user message (``on="user"``) or in a tool output
    (``on="output"``), answer with these function calls ``[(name, arguments or raw JSON)]``."""

    match: str
    calls: list[tuple[str, dict[str, Any] | str]]
    on: str = "user"
    once: bool = True
    used: bool = False


@dataclass
class FakeSession:
    """One WebSocket connection (one realtime session) and what it received."""

    index: int
    authorization: str
    events: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    items: list[dict[str, Any]] = field(default_factory=list)
    known_calls: set[str] = field(default_factory=set)
    output_modalities: list[str] = field(default_factory=lambda: ["audio"])
    tools: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    connection: Any = field(default=None, repr=False)
    barged_in: bool = False
    call_sent_at: dict[str, float] = field(default_factory=dict)
    output_received_at: dict[str, float] = field(default_factory=dict)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Received events of one type."""
        return [e for e in self.events if e.get("type") == kind]

    def outputs(self) -> dict[str, str]:
        """function_call_output items by call_id."""
        return {i["call_id"]: i["output"] for i in self.items
                if i.get("type") == "function_call_output"}

    def outputs_by_name(self) -> dict[str, str]:
        """function_call_output items by the called tool's name (last call of each name)."""
        names = {i["call_id"]: i["name"] for i in self.items if i.get("type") == "function_call"}
        return {names[call_id]: output for call_id, output in self.outputs().items()}


class FakeRealtime:
    """A GA-speaking realtime server with scripted behaviour (see module docstring).

    Attributes:
        rules: scripted function calls.
        drop_after: {session index: number of client events after which the socket is cut}.
        audio_reply_ms: on the first audio append, stream an audio reply this long.
        barge_in_after_bytes: emit ``speech_started`` once this much input audio arrived.
        reply_delay_s: pause before each scripted response (to keep one "in progress").
        refuse_responses: answer this many ``response.create`` events with an ``error``.
    """

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.drop_after: dict[int, int] = {}
        self.audio_reply_ms = 0
        self.barge_in_after_bytes = 0
        self.reply_delay_s = 0.0
        self.refuse_responses = 0
        self.sessions: list[FakeSession] = []
        self.url = ""
        self._server: Any = None
        self._counter = 0
        self._tasks: set[asyncio.Future[Any]] = set()

    def when_user_says(self, match: str, *calls: tuple[str, dict[str, Any] | str]) -> Rule:
        """Answer a user message containing ``match`` with these calls."""
        rule = Rule(match, list(calls))
        self.rules.append(rule)
        return rule

    def when_output_contains(self, match: str, *calls: tuple[str, dict[str, Any] | str]
                             ) -> Rule:
        """Answer a tool output containing ``match`` with these calls (e.g. an injection)."""
        rule = Rule(match, list(calls), on="output")
        self.rules.append(rule)
        return rule

    async def push(self, event: dict[str, Any], session: int = -1) -> None:
        """Send a server event of the test's choosing into a live session.

        A pushed function call (``response.output_item.done``) registers its ``call_id`` so
        the answer to it validates.
        """
        target = self.sessions[session]
        item = event.get("item") or {}
        if item.get("type") == "function_call":
            target.known_calls.add(item["call_id"])
            target.items.append(item)
        await self._send(target.connection, event)

    @property
    def violations(self) -> list[str]:
        """All GA-shape violations of all sessions."""
        return [v for s in self.sessions for v in s.violations]

    async def start(self) -> None:
        """Listen on 127.0.0.1 (free port)."""
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime-mini"

    async def close(self) -> None:
        """Stop the server and close every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeRealtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _hold(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter}"

    async def _handle(self, ws: ServerConnection) -> None:
        session = FakeSession(len(self.sessions),
                              ws.request.headers.get("Authorization", "") if ws.request else "")
        session.connection = ws
        self.sessions.append(session)
        await self._send(ws, {"type": "session.created", "session": {
            "id": f"sess_{session.index}", "type": "realtime"}})
        try:
            async for raw in ws:
                event = json.loads(raw)
                session.events.append(event)
                await self._on_event(ws, session, event)
                limit = self.drop_after.get(session.index)
                if limit is not None and len(session.events) >= limit:
                    await ws.close(code=1011, reason="dropped by the test")
                    break
        except ConnectionClosed:
            pass
        finally:
            session.closed = True

    async def _send(self, ws: ServerConnection, event: dict[str, Any]) -> None:
        event.setdefault("event_id", self._next_id("event"))
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(event))

    async def _on_event(self, ws: ServerConnection, session: FakeSession,
                        event: dict[str, Any]) -> None:
        problems = validate_client_event(event, session.known_calls)
        if problems:
            session.violations.extend(problems)
            await self._send(ws, {"type": "error", "error": {
                "type": "invalid_request_error", "message": "; ".join(problems),
                "event_id": event.get("event_id")}})
            return
        if event["type"] == "response.create" and self.refuse_responses:
            self.refuse_responses -= 1
            await self._send(ws, {"type": "error", "error": {
                "type": "invalid_request_error", "code": "conversation_already_has_active_response",
                "message": "Conversation already has an active response in progress",
                "event_id": event.get("event_id")}})
            return
        kind = event["type"]
        if kind == "session.update":
            s = event["session"]
            session.output_modalities = s.get("output_modalities", session.output_modalities)
            session.tools = s.get("tools", session.tools)
            await self._send(ws, {"type": "session.updated", "session": s})
        elif kind == "conversation.item.create":
            item = dict(event["item"])
            if item.get("type") == "function_call_output":
                session.output_received_at[item["call_id"]] = time.perf_counter()
            item.setdefault("id", self._next_id("item"))
            session.items.append(item)
            await self._send(ws, {"type": "conversation.item.added", "item": item})
        elif kind == "response.create":
            self._hold(self._respond(ws, session, event.get("response") or {}))
        elif kind == "input_audio_buffer.append":
            before = len(session.audio)
            session.audio.extend(base64.b64decode(event["audio"]))
            if before == 0 and self.audio_reply_ms:
                self._hold(self._audio_reply(ws, session))
            if (self.barge_in_after_bytes and before < self.barge_in_after_bytes
                    <= len(session.audio)):
                session.barged_in = True  # like interrupt_response: the reply stops
                await self._send(ws, {"type": "input_audio_buffer.speech_started",
                                      "item_id": "item_user_speech",
                                      "audio_start_ms": before // 48})

    def _plan(self, session: FakeSession) -> tuple[list[tuple[str, Any]], str]:
        """Calls to make (or none) and the text reply for the latest conversation state."""
        last = session.items[-1] if session.items else {}
        trailing_outputs = []
        for item in reversed(session.items):
            if item.get("type") != "function_call_output":
                break
            trailing_outputs.append(item["output"])
        if trailing_outputs or last.get("type") == "function_call_output":
            joined = " | ".join(reversed(trailing_outputs))
            for rule in self.rules:
                if rule.on == "output" and not rule.used and rule.match in joined:
                    rule.used = rule.once
                    return rule.calls, ""
            return [], f"Tool results: {joined}"
        text = ""
        for item in reversed(session.items):
            if item.get("type") == "message" and item.get("role") == "user":
                text = " ".join(p.get("text", "") for p in item.get("content", []))
                break
        for rule in self.rules:
            if rule.on == "user" and not rule.used and rule.match in text:
                rule.used = rule.once
                return rule.calls, ""
        return [], f"You said: {text}"

    async def _respond(self, ws: ServerConnection, session: FakeSession,
                       options: dict[str, Any]) -> None:
        if self.reply_delay_s:
            await asyncio.sleep(self.reply_delay_s)
        response_id = self._next_id("resp")
        metadata = options.get("metadata")
        await self._send(ws, {"type": "response.created", "response": {
            "id": response_id, "status": "in_progress", "metadata": metadata}})
        if options.get("conversation") == "none":
            # Text between dashed lines is to be read out word for word (the bridge's
            # confirmation questions); a bare out-of-band request is the slow-tool notice.
            quoted = re.search(r"\n---\n(.*)\n---", options.get("instructions") or "", re.S)
            calls, text = [], quoted.group(1) if quoted else "One moment, I'm still working on it."
        else:
            calls, text = self._plan(session)
        output = []
        for name, arguments in calls:
            call_id = self._next_id("call")
            item_id = self._next_id("item")
            args = arguments if isinstance(arguments, str) else json.dumps(arguments)
            session.known_calls.add(call_id)
            item = {"id": item_id, "type": "function_call", "status": "completed",
                    "call_id": call_id, "name": name, "arguments": args}
            session.items.append(item)
            output.append(item)
            session.call_sent_at[call_id] = time.perf_counter()
            await self._send(ws, {"type": "response.function_call_arguments.done",
                                  "response_id": response_id, "item_id": item_id,
                                  "output_index": len(output) - 1, "call_id": call_id,
                                  "name": name, "arguments": args})
            await self._send(ws, {"type": "response.output_item.done",
                                  "response_id": response_id, "output_index": len(output) - 1,
                                  "item": item})
        if text:
            item_id = self._next_id("item")
            if "text" in session.output_modalities:
                await self._send(ws, {"type": "response.output_text.delta",
                                      "response_id": response_id, "item_id": item_id,
                                      "delta": text})
                await self._send(ws, {"type": "response.output_text.done",
                                      "response_id": response_id, "item_id": item_id,
                                      "text": text})
            else:
                await self._send(ws, {"type": "response.output_audio.delta",
                                      "response_id": response_id, "item_id": item_id,
                                      "delta": base64.b64encode(b"\x00\x01" * 240).decode()})
                await self._send(ws, {"type": "response.output_audio_transcript.done",
                                      "response_id": response_id, "item_id": item_id,
                                      "transcript": text})
            if options.get("conversation") != "none":
                session.items.append({"type": "message", "role": "assistant", "id": item_id,
                                      "content": [{"type": "output_text", "text": text}]})
        await self._send(ws, {"type": "response.done", "response": {
            "id": response_id, "status": "completed", "output": output, "metadata": metadata}})

    async def _audio_reply(self, ws: ServerConnection, session: FakeSession) -> None:
        """Stream a long spoken reply (so a barge-in has something to interrupt)."""
        response_id = self._next_id("resp")
        item_id = self._next_id("item")
        await self._send(ws, {"type": "input_audio_buffer.speech_stopped",
                              "item_id": "item_user_speech", "audio_end_ms": 0})
        await self._send(ws, {"type": "response.created",
                              "response": {"id": response_id, "status": "in_progress"}})
        chunk = b"\x10\x00" * 2400  # 100 ms of PCM16 24 kHz
        for _ in range(max(1, self.audio_reply_ms // 100)):
            if session.barged_in:
                await self._send(ws, {"type": "response.done", "response": {
                    "id": response_id, "status": "cancelled", "output": []}})
                return
            await self._send(ws, {"type": "response.output_audio.delta",
                                  "response_id": response_id, "item_id": item_id,
                                  "delta": base64.b64encode(chunk).decode()})
            await asyncio.sleep(0.01)
        await self._send(ws, {"type": "response.output_audio_transcript.done",
                              "response_id": response_id, "item_id": item_id,
                              "transcript": "Here is a long answer."})
        await self._send(ws, {"type": "response.done", "response": {
            "id": response_id, "status": "completed", "output": []}})


# --- the same fake behind OpenAI's URL layout (for the real dev server) ----------------------

class _StarletteSocket:
    """Lets :meth:`FakeRealtime._handle` run on a Starlette WebSocket."""

    def __init__(self, websocket: Any) -> None:
        from types import SimpleNamespace

        self._ws = websocket
        self.request = SimpleNamespace(headers=websocket.headers)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str]:
        from starlette.websockets import WebSocketDisconnect

        try:
            while True:
                yield await self._ws.receive_text()
        except WebSocketDisconnect:
            return

    async def send(self, text: str) -> None:
        try:
            await self._ws.send_text(text)
        except Exception as exc:  # disconnect surfaces as several exception types
            raise ConnectionClosed(None, None) from exc

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await self._ws.close(code, reason)


def openai_app(realtime: FakeRealtime) -> Any:
    """An ASGI app with OpenAI's GA layout: ``POST /v1/realtime/client_secrets`` mints an
    ``ek_`` key and ``/v1/realtime`` is the WebSocket, both on one port, so a server deriving
    the WebSocket URL from ``OPENAI_BASE_URL`` (the real session function) reaches the fake."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    minted = {"n": 0}

    async def client_secrets(request: Request) -> JSONResponse:
        body = await request.json()
        minted["n"] += 1
        session = {"id": f"sess_{minted['n']}", **body.get("session", {})}
        return JSONResponse({"value": f"ek_fake_{minted['n']}", "expires_at": 1767225600,
                             "session": session})

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await realtime._handle(_StarletteSocket(websocket))  # type: ignore[arg-type]

    return Starlette(routes=[Route("/v1/realtime/client_secrets", client_secrets,
                                   methods=["POST"]),
                             WebSocketRoute("/v1/realtime", socket)])


@contextlib.contextmanager
def openai_in_thread(realtime: FakeRealtime) -> Iterator[str]:
    """Serve :func:`openai_app` on 127.0.0.1 from a thread; yields the base URL (``…/v1``)."""
    import threading

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(openai_app(realtime), log_level="warning",
                                           lifespan="off", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)


# --- fake voice-agent API -------------------------------------------------------------------

@dataclass
class ApiCall:
    """One request the fake API received."""

    method: str
    path: str
    authorization: str
    body: Any


class FakeApi:
    """``POST /api/voice-agent`` + memory/search routes on 127.0.0.1.

    Attributes:
        token: the only accepted bearer token (anything else → 401).
        realtime: the fake realtime server minted sessions point at.
        memory_results: what ``/api/memory/search`` returns.
        search_answer: the ``answer`` of ``/api/search``.
        fail: {path: status} to force an error answer on a route.
        max_mints: after this many sessions, minting answers 502.
    """

    def __init__(self, realtime: FakeRealtime, token: str = "jwt-test") -> None:
        self.realtime = realtime
        self.token = token
        self.calls: list[ApiCall] = []
        self.minted = 0
        self.memory_results: list[dict[str, Any]] = [
            {"id": "m1", "memory": "Name is Sam", "score": 0.9, "metadata": {},
             "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}]
        self.search_answer = "It is sunny."
        self.fail: dict[str, int] = {}
        self.max_mints: int | None = None
        self.url = ""
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    def calls_to(self, path: str) -> list[ApiCall]:
        """Recorded calls of one path."""
        return [c for c in self.calls if c.path == path]

    def _app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def handle(request: Request) -> Response:
            body = None
            if request.method == "POST":
                try:
                    body = await request.json()
                except ValueError:
                    body = None
            auth = request.headers.get("authorization", "")
            self.calls.append(ApiCall(request.method, request.url.path, auth, body))
            if auth != f"Bearer {self.token}":
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
            path = request.url.path
            if path in self.fail:
                return JSONResponse({"error": "forced failure"}, status_code=self.fail[path])
            if path == "/api/voice-agent":
                if self.max_mints is not None and self.minted >= self.max_mints:
                    return JSONResponse({"error": "OpenAI API error: 503"}, status_code=502)
                self.minted += 1
                return JSONResponse(self._session(body or {}))
            if path == "/api/memory/search":
                return JSONResponse({"results": self.memory_results})
            if path == "/api/memory" and request.method == "POST":
                return JSONResponse({"status": "queued", "job_id": "job_1"}, status_code=202)
            if path == "/api/memory":
                return JSONResponse({"results": self.memory_results, "next_cursor": None})
            if path == "/api/search":
                return JSONResponse({"query": (body or {}).get("query"),
                                     "answer": self.search_answer, "results": []})
            return JSONResponse({"error": "not found"}, status_code=404)

        return Starlette(routes=[
            Route("/api/voice-agent", handle, methods=["POST"]),
            Route("/api/memory/search", handle, methods=["POST"]),
            Route("/api/memory", handle, methods=["GET", "POST"]),
            Route("/api/search", handle, methods=["POST"]),
        ])

    def _session(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model", "gpt-realtime-mini")
        return {
            "id": f"sess_{self.minted}", "model": model, "expires_at": 1767225600,
            "client_secret": {"value": f"ek_test_{self.minted}", "expires_at": 1767225600},
            "modalities": ["audio"], "instructions": "You are a helpful assistant.",
            "voice": body.get("voice", "ash"), "input_audio_format": "pcm16",
            "output_audio_format": "pcm16", "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad"}, "tools": [],
            "realtime": {"websocket_url": self.realtime.url,
                         "calls_url": "http://127.0.0.1:9/v1/realtime/calls"},
        }

    async def start(self) -> None:
        """Serve on 127.0.0.1 (free port) in the running loop."""
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self._app(), log_level="warning",
                                                     lifespan="off"))
        self._task = asyncio.ensure_future(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Stop serving."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = None

    async def __aenter__(self) -> FakeApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def fake_backend(token: str = "jwt-test") -> AsyncIterator[tuple[FakeRealtime, FakeApi]]:
    """Both fakes, started and stopped together."""
    async with FakeRealtime() as realtime, FakeApi(realtime, token) as api:
        yield realtime, api


# --- driving an in-process bridge against the fakes ------------------------------------------

@dataclass
class BridgeRun:
    """What an in-process conversation produced."""

    code: int
    stdout: str
    stderr: str
    metrics: Any
    questions: int = 0


TERMINAL_QUESTION_MARK = "[y/N]"
SPOKEN_QUESTION_END = "Please answer yes or no."


class AnsweringStream(io.StringIO):
    """An output stream that answers each question written to it with the next answer.

    The bridge refuses lines typed before its question, so a test answers only once the
    question has really been shown (``trigger`` seen in the output).
    """

    def __init__(self, trigger: str, answers: list[Any], source: Any, *,
                 end_after: bool = True) -> None:
        super().__init__()
        self.trigger = trigger
        self.answers = list(answers)
        self.source = source
        self.end_after = end_after
        self.questions = 0

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.trigger in text:
            self.questions += 1
            if self.answers:
                # An answer may be a list: the answer, then lines the user types next.
                answer = self.answers.pop(0)
                for line in answer if isinstance(answer, list) else [answer]:
                    self.source.feed(line)
                if not self.answers and self.end_after:
                    self.source.feed(None)
        return written


async def run_text_conversation(api: FakeApi, lines: list[str | None], *, desktop: Any = None,
                                policy: Any = None, audit_path: Any = None,
                                voice_confirm: bool = False, timeout_s: float = 10.0,
                                token: str | None = None,
                                answers: list[Any] | None = None,
                                **settings: Any) -> BridgeRun:
    """Run :class:`bridge.conversation.Conversation` in text mode with these typed lines.

    ``None`` in ``lines`` is end of input; without it the input ends after the last line, or
    after the last of ``answers`` when there are answers: each is typed once a confirmation
    question has been shown (terminal y/N, or the question the assistant read out).
    """
    import io

    from bridge.api_client import ApiClient
    from bridge.app import session_tools
    from bridge.audit import AuditLog
    from bridge.confirm import TerminalConfirmer, UtteranceConfirmer
    from bridge.conversation import Conversation, ConversationSettings
    from bridge.desktop import DesktopExecutor
    from bridge.lines import LineSource
    from bridge.policy import Policy
    from bridge.router import ToolRouter
    from bridge.status import Metrics, StatusLine

    source = LineSource.from_lines(lines)
    pending = list(answers or [])
    if not pending and (not lines or lines[-1] is not None):
        source.feed(None)
    if audit_path is None:
        # Never the user's real ~/.voice-agent/audit.jsonl from a test.
        import tempfile

        audit_path = Path(tempfile.mkdtemp(prefix="bridge-audit-")) / "audit.jsonl"
    if voice_confirm:
        out: io.StringIO = AnsweringStream(SPOKEN_QUESTION_END, pending, source)
        err: io.StringIO = io.StringIO()
    else:
        out, err = io.StringIO(), AnsweringStream(TERMINAL_QUESTION_MARK, pending, source)
    policy = policy or Policy.load()
    voice = UtteranceConfirmer(wait_s=policy.confirm_wait_s) if voice_confirm else None
    confirmer = voice or TerminalConfirmer(source, err, timeout_s=policy.question_timeout_s)
    client = ApiClient(api.url, token or api.token)
    router = ToolRouter(client, DesktopExecutor(desktop, policy, confirmer,
                                                AuditLog(audit_path)), err=err)
    metrics = Metrics()
    options = {"reconnect_base_s": 0.01, "end_wait_s": 3.0, "idle_wait_s": 3.0, **settings}
    conversation = Conversation(ConversationSettings(text_mode=True, **options), client, router,
                                session_tools(desktop), lines=source,
                                voice_confirmer=voice, out=out, err=err, status=StatusLine(err),
                                metrics=metrics)
    try:
        async with asyncio.timeout(timeout_s):
            code = await conversation.run()
    finally:
        await client.close()
    asked = out if voice_confirm else err
    return BridgeRun(code, out.getvalue(), err.getvalue(), metrics,
                     asked.questions if isinstance(asked, AnsweringStream) else 0)
