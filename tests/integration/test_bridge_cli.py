"""``python -m bridge`` as a subprocess: --text end to end, Ctrl-C (Ctrl-Break on Windows),
rejected token, non-ASCII text through pipes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.fakes.mcp_servers import read_calls
from tests.fakes.realtime import fake_backend
from tests.processes import INTERRUPTIBLE, interrupt, process_gone

ROOT = Path(__file__).resolve().parents[2]
FAKE_MCP = ROOT / "tests" / "fakes" / "mcp_servers.py"


@pytest.fixture
async def backend():
    async with fake_backend() as pair:
        yield pair


async def start_bridge(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", *args, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, **INTERRUPTIBLE)


@pytest.mark.slow  # two Python processes start and import the MCP SDK
async def test_text_mode_subprocess_prints_replies_and_ends_the_mcp_server(backend, tmp_path):
    realtime, api = backend
    realtime.when_user_says("open notepad", ("App", {"mode": "launch", "name": "notepad"}))
    record, pid_file = tmp_path / "calls.jsonl", tmp_path / "mcp.pid"
    mcp = f"{sys.executable} {FAKE_MCP} --names current --record {record} --pid-file {pid_file}"
    proc = await start_bridge("--api", api.url, "--token", "jwt-test", "--text",
                              "--mcp-command", mcp, "--audit-log", str(tmp_path / "a.jsonl"))
    stdout, stderr = await asyncio.wait_for(
        proc.communicate(b"hello bridge\nplease open notepad\n"), 60)
    out, err = stdout.decode(), stderr.decode()
    assert proc.returncode == 0, err
    assert "You said: hello bridge" in out
    assert "Tool results: Notepad launched." in out
    assert read_calls(record)[0]["name"] == "App"
    assert process_gone(int(pid_file.read_text()))
    assert "tool calls: 1 (App×1)" in err and "p50" in err
    assert realtime.violations == []


@pytest.mark.slow  # two Python processes start and import the MCP SDK
async def test_sigint_shuts_down_cleanly(backend, tmp_path):
    realtime, api = backend
    pid_file = tmp_path / "mcp.pid"
    mcp = f"{sys.executable} {FAKE_MCP} --names current --pid-file {pid_file}"
    proc = await start_bridge("--api", api.url, "--token", "jwt-test", "--text",
                              "--mcp-command", mcp)
    assert proc.stderr is not None and proc.stdin is not None
    seen = ""
    while "listening" not in seen:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert line, seen
        seen += line.decode()
    interrupt(proc)
    _, rest = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130
    assert "interrupted" in rest.decode()
    assert process_gone(int(pid_file.read_text()))
    assert realtime.sessions[0].closed


@pytest.mark.slow  # a Python process starts
async def test_non_ascii_text_through_pipes_arrives_and_prints_intact(backend, tmp_path):
    realtime, api = backend
    proc = await start_bridge("--api", api.url, "--token", "jwt-test", "--text",
                              "--audit-log", str(tmp_path / "a.jsonl"))
    stdout, stderr = await asyncio.wait_for(proc.communicate("café … 24 °C ☕\n".encode()), 60)
    assert proc.returncode == 0, stderr.decode("utf-8", "replace")
    assert "You said: café … 24 °C ☕" in stdout.decode("utf-8")
    assert realtime.violations == []


async def test_rejected_token_exits_non_zero_with_a_clear_message(backend):
    _, api = backend
    proc = await start_bridge("--api", api.url, "--token", "expired", "--text")
    _, stderr = await asyncio.wait_for(proc.communicate(b"hi\n"), 60)
    assert proc.returncode == 2
    assert "the sign-in has expired: get a new token" in stderr.decode()


async def test_missing_token_is_a_usage_error():
    proc = await start_bridge("--api", "http://127.0.0.1:9", "--text")
    _, stderr = await asyncio.wait_for(proc.communicate(b""), 60)
    assert proc.returncode == 2
    assert "--token or --token-file is required" in stderr.decode()
