"""``--serve``: desktop tools for the web client on 127.0.0.1, token and origin checked."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path

import httpx
import pytest

from bridge.audit import AuditLog
from bridge.confirm import TerminalConfirmer
from bridge.desktop import DesktopExecutor
from bridge.lines import LineSource
from bridge.mcp_client import DesktopClient
from bridge.policy import Policy
from bridge.serve import serve
from tests.fakes.mcp_servers import serve_http
from tests.fakes.realtime import TERMINAL_QUESTION_MARK, AnsweringStream
from tests.processes import INTERRUPTIBLE, interrupt, process_gone

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://127.0.0.1:3000"
TOKEN = "pairing-secret"


@pytest.fixture
async def endpoint(tmp_path):
    """A running --serve endpoint over a fake MCP server; yields (url, recorder, lines)."""
    lines = LineSource.from_lines()
    # Answers the test puts in err.answers are typed once a question is shown.
    err = AnsweringStream(TERMINAL_QUESTION_MARK, [], lines, end_after=False)
    async with serve_http("current") as mcp, DesktopClient(url=mcp.url) as desktop:
        executor = DesktopExecutor(desktop, Policy.load(), TerminalConfirmer(lines, err),
                                   AuditLog(tmp_path / "audit.jsonl"), source="serve")
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        out = io.StringIO()
        task = asyncio.ensure_future(serve(executor, port=0, origins=(ORIGIN,), token=TOKEN,
                                           out=out, ready=ready, stop=stop))
        port = await asyncio.wait_for(ready, 10)
        await asyncio.sleep(0)
        assert f"pairing token: {TOKEN}" in out.getvalue()
        yield f"http://127.0.0.1:{port}", mcp.recorder, lines, err
        stop.set()
        await asyncio.wait_for(task, 10)


def headers(**extra: str) -> dict[str, str]:
    return {"Origin": ORIGIN, "X-Pairing-Token": TOKEN, **extra}


async def test_tools_listed_and_called_with_token_and_origin(endpoint):
    url, recorder, _, _ = endpoint
    async with httpx.AsyncClient() as client:
        listed = await client.get(f"{url}/tools", headers=headers())
        assert listed.status_code == 200
        assert listed.headers["access-control-allow-origin"] == ORIGIN
        names = {t["name"] for t in listed.json()["tools"]}
        assert {"Snapshot", "Click", "PowerShell"} <= names
        called = await client.post(f"{url}/tools/call", headers=headers(),
                                   json={"name": "Click", "arguments": {"loc": [3, 4]}})
    assert called.json() == {"output": "Single left clicked at (3,4).", "is_error": False}
    assert recorder.calls[0]["name"] == "Click"


async def test_wrong_token_or_origin_is_rejected(endpoint):
    url, recorder, _, _ = endpoint
    body = {"name": "Click", "arguments": {"loc": [1, 1]}}
    async with httpx.AsyncClient() as client:
        no_token = await client.post(f"{url}/tools/call", json=body, headers={"Origin": ORIGIN})
        bad_token = await client.post(f"{url}/tools/call", json=body,
                                      headers=headers(**{"X-Pairing-Token": "guess"}))
        evil = await client.post(f"{url}/tools/call", json=body,
                                 headers=headers(Origin="https://evil.example"))
        no_origin = await client.get(f"{url}/tools", headers={"X-Pairing-Token": TOKEN})
    assert (no_token.status_code, bad_token.status_code) == (401, 401)
    assert (evil.status_code, no_origin.status_code) == (403, 403)
    assert "access-control-allow-origin" not in evil.headers
    assert recorder.calls == []


async def test_cors_preflight_only_for_allowed_origins(endpoint):
    url, _, _, _ = endpoint
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,x-pairing-token"}
    async with httpx.AsyncClient() as client:
        ok = await client.options(f"{url}/tools/call", headers={"Origin": ORIGIN, **preflight})
        bad = await client.options(f"{url}/tools/call",
                                   headers={"Origin": "http://localhost:9999", **preflight})
    assert ok.status_code == 200  # Starlette's CORS middleware; any 2xx passes a preflight
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert "X-Pairing-Token" in ok.headers["access-control-allow-headers"]
    assert bad.status_code == 403
    assert "access-control-allow-origin" not in bad.headers


async def test_policy_confirmation_is_asked_in_the_terminal(endpoint):
    url, recorder, lines, err = endpoint
    err.answers = ["n", "y"]
    body = {"name": "PowerShell", "arguments": {"command": "Remove-Item a.txt"}}
    async with httpx.AsyncClient() as client:
        refused = await client.post(f"{url}/tools/call", headers=headers(), json=body)
        approved = await client.post(f"{url}/tools/call", headers=headers(), json=body)
        unknown = await client.post(f"{url}/tools/call", headers=headers(),
                                    json={"name": "Nope", "arguments": {}})
        invalid = await client.post(f"{url}/tools/call", headers=headers(),
                                    json={"arguments": {}})
    assert refused.json()["is_error"] is True and "did not confirm" in refused.json()["output"]
    assert approved.json() == {"output": "Response: ran Remove-Item a.txt\nStatus Code: 0",
                               "is_error": False}
    assert "Allow PowerShell" in err.getvalue()
    assert unknown.json()["is_error"] is True
    assert invalid.status_code == 422
    assert [c["name"] for c in recorder.calls] == ["PowerShell"]


@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:8765",
                                  "127.0.0.1.attacker.example", "localhost.evil", "0.0.0.0",
                                  "10.0.0.5:8765", ""])
async def test_non_loopback_host_is_refused_before_anything_runs(endpoint, host):
    url, recorder, _, _ = endpoint
    body = {"name": "Snapshot", "arguments": {}}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/tools/call", headers=headers(Host=host), json=body)
        control = await client.post(f"{url}/tools/call", headers=headers(), json=body)
    assert response.status_code == 421 and "loopback" in response.json()["error"]
    assert control.status_code == 200  # positive control: the same call with a loopback Host
    assert [c["name"] for c in recorder.calls] == ["Snapshot"]


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1:1", "[::1]:8765", "LOCALHOST"])
async def test_loopback_host_names_are_accepted(endpoint, host):
    url, _, _, _ = endpoint
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/tools", headers=headers(Host=host))
    assert response.status_code == 200


async def test_call_without_a_json_content_type_is_415(endpoint):
    url, recorder, _, _ = endpoint
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/tools/call", headers=headers(**{
            "Content-Type": "text/plain"}), content='{"name": "Snapshot", "arguments": {}}')
    assert response.status_code == 415
    assert recorder.calls == []
    async with httpx.AsyncClient() as client:  # positive control: the same call, as JSON
        control = await client.post(f"{url}/tools/call", headers=headers(),
                                    json={"name": "Snapshot", "arguments": {}})
    assert control.status_code == 200
    assert [c["name"] for c in recorder.calls] == ["Snapshot"]


@pytest.mark.parametrize(("body", "status"), [
    (b"[" * 30_000 + b"]" * 30_000, 422),
    (b'{"name": "Snapshot", "arguments": {"n": ' + b"9" * 5_000 + b"}}", 422),
    (b'{"name": "\xff"}', 422),
    (b'{"name": "Snapshot", "arguments": {"pad": "' + b"x" * 70_000 + b'"}}', 413),
])
async def test_malformed_call_bodies_are_4xx_and_run_nothing(endpoint, body, status):
    url, recorder, _, _ = endpoint
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/tools/call", content=body, headers=headers(**{
            "Content-Type": "application/json"}))
        control = await client.post(f"{url}/tools/call", headers=headers(),
                                    json={"name": "Snapshot", "arguments": {}})
    assert response.status_code == status and "error" in response.json()
    assert control.status_code == 200  # positive control: a well-formed call still runs
    assert [c["name"] for c in recorder.calls] == ["Snapshot"]


@pytest.mark.slow  # two Python processes start and import the MCP SDK
async def test_serve_subprocess_prints_token_binds_loopback_and_stops_on_sigint(tmp_path):
    fake = ROOT / "tests" / "fakes" / "mcp_servers.py"
    pid_file = tmp_path / "mcp.pid"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "--serve", "--port", "0",
        "--mcp-command", f"{sys.executable} {fake} --pid-file {pid_file}",
        "--audit-log", str(tmp_path / "audit.jsonl"), cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, **INTERRUPTIBLE)
    assert proc.stdout is not None
    printed = {}
    while "token" not in printed:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, "bridge exited early"
        if "serving desktop tools on " in line:
            printed["url"] = line.split(" on ")[1].strip()
        if line.startswith("pairing token: "):
            printed["token"] = line.split(": ", 1)[1].strip()
    assert printed["url"].startswith("http://127.0.0.1:")
    async with httpx.AsyncClient() as client:
        listed = await client.get(f"{printed['url']}/tools", headers={
            "Origin": "http://localhost:3000", "X-Pairing-Token": printed["token"]})
    assert listed.status_code == 200 and json.dumps(listed.json()).count("Snapshot") >= 1
    interrupt(proc)
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130  # interrupted, after a clean shutdown
    assert process_gone(int(pid_file.read_text()))
