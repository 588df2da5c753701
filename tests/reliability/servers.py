"""The local API for reliability tests: in-process (ASGI) and as a `voice-agent dev` process.

Both run the real handlers and authorizer. The in-process app is what the fuzzer drives (fast,
one process); the subprocess is what attack, cross-user and limit tests reach over real HTTP.
Every upstream (OpenAI, Tavily) is a loopback fake; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import BACKEND_ENV
from tests.e2e.devserver import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

# Variables the dev server reads that the shared clean-up does not know about.
EXTRA_ENV = ("MEMORY_MAX_PER_USER", "POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED")


def clean_process_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any backend setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in BACKEND_ENV and k not in EXTRA_ENV}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="true",
               POWERTOOLS_METRICS_DISABLED="true")
    env.update(overrides)
    return env


@dataclass
class DevServer:
    """A running `voice-agent dev` subprocess."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def dev_server_process(data_dir: Path, env: dict[str, str],
                       startup_timeout_s: float = 60) -> Iterator[DevServer]:
    """Start `voice-agent dev` on a free loopback port with exactly ``env``; stop it after.

    Args:
        data_dir: The server's ``--data-dir``.
        env: The complete environment of the process (see `clean_process_env`).
        startup_timeout_s: How long to wait for ``GET /api/health``.
    """
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    # The server logs every request; a file (not a pipe nobody reads) can never fill up and
    # block it.
    log_path = data_dir / "dev-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice_agent_cli.main", "dev", "--host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")
                raise RuntimeError(f"voice-agent dev exited early:\n{output}")
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("voice-agent dev did not start")
            time.sleep(0.1)
        yield DevServer(base, data_dir, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def error_shape_problem(status: int, body: Any) -> str | None:
    """Why a 4xx/5xx answer breaks the API's error contract, or None when it keeps it."""
    if status < 400:
        return None
    if not isinstance(body, dict) or set(body) != {"error"}:
        return f"{status}: body is not {{'error': ...}}: {body!r}"
    if not isinstance(body["error"], str) or not body["error"].strip():
        return f"{status}: error message is not a non-empty string"
    if "Traceback" in body["error"] or 'File "' in body["error"]:
        return f"{status}: error message carries a stack trace"
    return None
