"""Start `voice-agent dev` as a real subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def running_dev_server(data_dir: Path, env: dict[str, str] | None = None,
                       startup_timeout_s: float = 60) -> Iterator[str]:
    """Yield the base URL of a `voice-agent dev` process; stop it afterwards."""
    port = free_port()
    process_env = {**os.environ, **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_agent_cli.main", "dev", "--port", str(port),
         "--data-dir", str(data_dir)],
        cwd=REPO_ROOT, env=process_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"voice-agent dev exited early:\n{output}")
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("voice-agent dev did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
