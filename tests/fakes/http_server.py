"""A real HTTP server on 127.0.0.1 (port 0) that records requests and answers from a script.

The base of the loopback fakes for OpenAI and Tavily: each test queues the answers it wants
(status, JSON body, delay) and afterwards reads exactly what our code sent.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedResponse:
    status: int = 200
    body: Any = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # Small JSON answers must not wait for Nagle + delayed ACK (~40 ms).
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


class LoopbackHttpServer:
    """Context manager: ``with FakeX() as fake: fake.url ...``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.script: deque[ScriptedResponse] = deque()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                recorded = RecordedRequest(self.command, self.path,
                                           {k.lower(): v for k, v in self.headers.items()},
                                           self.rfile.read(length) if length else b"")
                with owner._lock:
                    owner.requests.append(recorded)
                    scripted = owner.script.popleft() if owner.script else None
                answer = scripted or owner.default_response(recorded)
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                payload = (answer.body if isinstance(answer.body, bytes)
                           else json.dumps(answer.body).encode())
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_DELETE = do_PUT = _handle  # noqa: N815

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def default_response(self, request: RecordedRequest) -> ScriptedResponse:
        return ScriptedResponse(404, {"error": {"message": f"no route {request.path}"}})

    def answer_next(self, status: int = 200, body: Any = None, delay_s: float = 0.0,
                    headers: dict[str, str] | None = None) -> None:
        """Queue the answer to the next request."""
        self.script.append(ScriptedResponse(status, body, delay_s, headers or {}))

    def __enter__(self) -> LoopbackHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
