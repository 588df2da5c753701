"""Start `voice-agent dev` as a real subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str, env: dict[str, str] | None = None,
        input_text: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `voice-agent ARGS` (the installed entry point's module) and capture its output."""
    return subprocess.run([sys.executable, "-m", "voice_agent_cli.main", *args],
                          cwd=REPO_ROOT, env=env or os.environ.copy(), text=True,
                          capture_output=True, input=input_text, timeout=timeout)


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


@contextmanager
def running_dev_server(data_dir: Path, env: dict[str, str] | None = None,
                       startup_timeout_s: float = 60) -> Iterator[str]:
    """Yield the base URL of a `voice-agent dev` process with this process's environment plus
    ``env``; stop it afterwards."""
    with dev_server_process(data_dir, {**os.environ, **(env or {})},
                            startup_timeout_s) as server:
        yield server.base_url
