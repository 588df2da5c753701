"""The web client served by the real ``voice-agent dev`` server, in headless Chromium.

The dev server runs as a subprocess with the same handlers and authorizer as on AWS; OpenAI's
client-secret endpoint, the realtime WebSocket and Tavily are the loopback fakes of
``web_fixtures`` (its ``OPENAI_BASE_URL`` and ``TAVILY_BASE_URL`` point there). The desktop
bridge is the real ``voice-agent bridge --serve`` over the fake Windows-MCP server of
``tests/fakes/mcp_servers.py``. If the dev server or the bridge cannot start here, the same
tests run against the loopback fakes instead, and say so.

Set ``WEB_SCREENSHOT_PATH`` (e.g. ``docs/web-screenshot.png``) to keep the screenshot of the
page in use that ``test_conversation_...`` takes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

pytest.register_assert_rewrite("tests.e2e.web_fixtures")

from tests.e2e.web_fixtures import (  # noqa: E402  (after the rewrite registration)
    REPO_ROOT,
    FakeBackend,
    FakeBridge,
    dev_sign_in,
    function_call_events,
    open_page,
    unique_user,
    wait_until,
)
from tests.fakes.mcp_servers import read_calls  # noqa: E402

# Fixtures: web_page, web_backend_server (skip when Chromium is missing).
pytest_plugins = ["tests.e2e.web_fixtures"]


@pytest.fixture
def page(web_page: Any) -> Any:
    return web_page

STARTUP_TIMEOUT_S = 30.0
# Backend settings a developer may have exported: never pass them to the dev server.
_STRIPPED_PREFIXES = ("OPENAI_", "TAVILY_", "JWT_", "MEMORY_", "EMBEDDING", "AWS_",
                      "VOICE_AGENT_", "SESSION_")


@dataclass
class Stack:
    """Where the page comes from and where its realtime connections land."""

    url: str
    fakes: FakeBackend
    real: bool

    def token(self, user: str) -> str:
        response = httpx.post(f"{self.url}/dev/token", json={"user": user}, timeout=10)
        response.raise_for_status()
        return str(response.json()["token"])

    def add_memory(self, user: str, text: str) -> None:
        if not self.real:
            self.fakes.add_memory(user, text)
            return
        response = httpx.post(f"{self.url}/api/memory", timeout=20,
                              headers={"Authorization": f"Bearer {self.token(user)}"},
                              json={"messages": text, "infer": False})
        assert response.status_code == 201, response.text

    def memories(self, user: str) -> list[str]:
        if not self.real:
            return [m["memory"] for m in self.fakes.memories.get(user, [])]
        response = httpx.get(f"{self.url}/api/memory?limit=100", timeout=10,
                             headers={"Authorization": f"Bearer {self.token(user)}"})
        response.raise_for_status()
        return [m["memory"] for m in response.json()["results"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Output:
    """Collects a subprocess's output lines in a background thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True).start()

    def tail(self) -> str:
        return "".join(self.lines)[-2000:]


def _launch_dev_server(fakes: FakeBackend, data_dir: Path,
                       port: int) -> tuple[subprocess.Popen[str], _Output]:
    env = _clean_env()
    env.update({
        "OPENAI_API_KEY": "sk-test-web", "OPENAI_BASE_URL": f"{fakes.url}/v1",
        "TAVILY_API_KEY": "tvly-test-web", "TAVILY_BASE_URL": f"{fakes.url}/tavily",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "NO_PROXY": "127.0.0.1,localhost",
    })
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_agent_cli.main", "dev", "--port", str(port),
         "--data-dir", str(data_dir)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, _Output(process)


def _wait_dev_server(process: subprocess.Popen[str], output: _Output, url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                # Load the embedding model now rather than inside the first test.
                token = httpx.post(f"{url}/dev/token", json={"user": "warm-up"}, timeout=10)
                httpx.post(f"{url}/api/memory/search", json={"query": "warm up"}, timeout=30,
                           headers={"Authorization": f"Bearer {token.json()['token']}"})
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"voice-agent dev did not come up: {output.tail()}")


@dataclass
class Bridge:
    """A desktop bridge endpoint the page can pair with."""

    url: str
    pairing_token: str
    calls: Any  # () -> list of {"name", "arguments"} the desktop side received
    real: bool


def _launch_bridge(origins: list[str],
                   record: Path) -> tuple[subprocess.Popen[str], _Output]:
    mcp = f'"{sys.executable}" tests/fakes/mcp_servers.py --names current --transport stdio ' \
          f'--record "{record}"'
    allow = [arg for origin in origins for arg in ("--allow-origin", origin)]
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_agent_cli.main", "bridge", "--serve", "--port", "0",
         *allow, "--mcp-command", mcp, "--audit-log", str(record) + ".audit"],
        cwd=REPO_ROOT, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    return process, _Output(process)


def _wait_bridge(process: subprocess.Popen[str], output: _Output, record: Path) -> Bridge:
    def started() -> tuple[str, str] | None:
        lines = list(output.lines)
        text = "".join(lines)
        url = next((w for w in text.split() if w.startswith("http://127.0.0.1:")), None)
        token = next((line.split(":", 1)[1].strip() for line in lines
                      if line.startswith("pairing token:")), None)
        return (url, token) if url and token and "allowed origins" in text else None

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        found = started()
        if found:
            return Bridge(found[0].rstrip("/"), found[1], lambda: read_calls(record), real=True)
        time.sleep(0.1)
    raise RuntimeError(f"the bridge did not start: {output.tail()}")


@dataclass
class Environment:
    stack: Stack
    bridge: Bridge


@pytest.fixture(scope="module")
def environment(web_backend_server: FakeBackend,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """The dev server and the bridge, started side by side; fakes stand in for either one
    that cannot start here."""
    fakes = web_backend_server
    dev_url = f"http://127.0.0.1:{_free_port()}"
    record = tmp_path_factory.mktemp("bridge") / "mcp-calls.jsonl"
    processes: list[subprocess.Popen[str]] = []
    dev = bridge_process = None
    try:
        dev = _launch_dev_server(fakes, tmp_path_factory.mktemp("dev"),
                                 int(dev_url.rsplit(":", 1)[1]))
        processes.append(dev[0])
    except OSError as err:
        print(f"web tests: using the fake API, the dev server cannot start: {err}")
    try:
        bridge_process = _launch_bridge([dev_url, fakes.url], record)
        processes.append(bridge_process[0])
    except OSError as err:
        print(f"web tests: using the fake bridge, the real one cannot start: {err}")

    stack = Stack(fakes.url, fakes, real=False)
    if dev is not None:
        try:
            _wait_dev_server(*dev, dev_url)
            stack = Stack(dev_url, fakes, real=True)
        except RuntimeError as err:
            print(f"web tests: using the fake API, the dev server is unavailable: {err}")
    fake_bridge = None
    bridge: Bridge | None = None
    if bridge_process is not None:
        try:
            bridge = _wait_bridge(*bridge_process, record)
        except RuntimeError as err:
            print(f"web tests: using the fake bridge, the real one is unavailable: {err}")
    if bridge is None:
        fake_bridge = FakeBridge(allowed_origin=stack.url)
        fake_bridge.server.start()
        bridge = Bridge(fake_bridge.url, fake_bridge.pairing_token,
                        lambda: [r.json() for r in fake_bridge.calls()], real=False)
    yield Environment(stack, bridge)
    if fake_bridge is not None:
        fake_bridge.server.stop()
    for process in processes:
        _stop(process)


@pytest.fixture
def bridge(environment: Environment) -> Bridge:
    return environment.bridge


@pytest.fixture
def fresh(environment: Environment) -> Iterator[Stack]:
    stack = environment.stack
    stack.fakes.reset()
    yield stack
    violations = [v for c in stack.fakes.connections for v in c.violations]
    assert violations == [], f"the page sent events the GA API would refuse: {violations}"


def test_memory_panel_lists_searches_and_deletes_stored_memories(page: Any, fresh: Stack):
    user = unique_user()
    fresh.add_memory(user, "Drinks green tea every morning")
    fresh.add_memory(user, "Works as a data engineer at Acme")
    open_page(page, fresh.url)
    dev_sign_in(page, user)

    items = page.locator("#memory-list > li")
    expect(items).to_have_count(2)
    page.get_by_role("searchbox", name="Search memories").fill("green tea")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#memory-status")).to_contain_text("for “green tea”")
    expect(items.first).to_contain_text("Drinks green tea every morning")

    page.get_by_role("button", name="Delete memory: Drinks green tea every morning").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#memory-status")).to_have_text("Memory deleted.")
    assert fresh.memories(user) == ["Works as a data engineer at Acme"]


def test_conversation_mints_connects_and_routes_tools_through_the_api(
        page: Any, fresh: Stack, tmp_path: Path):
    user = unique_user()
    fresh.add_memory(user, "Name is Sam")
    fresh.add_memory(user, "Lives in Lisbon")
    open_page(page, fresh.url, "?transport=websocket")
    dev_sign_in(page, user)
    page.get_by_label("Voice", exact=True).select_option("marin")
    page.get_by_role("button", name="Start conversation").click()

    conn = fresh.fakes.wait_connection()
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    assert conn.subprotocols[0] == "realtime"
    assert conn.subprotocols[1].startswith("openai-insecure-api-key.ek_")
    if fresh.real:
        # The dev server minted the key at (fake) OpenAI with the GA request shape.
        minted = fresh.fakes.api_requests("POST", "/v1/realtime/client_secrets")[-1].json()
        assert minted["session"]["audio"]["output"]["voice"] == "marin"
        assert minted["session"]["type"] == "realtime"

    conn.send(
        {"type": "conversation.item.added", "item": {
            "id": "item_u1", "type": "message", "role": "user",
            "content": [{"type": "input_audio"}]}},
        {"type": "conversation.item.input_audio_transcription.completed", "item_id": "item_u1",
         "content_index": 0, "transcript": "Hi! What's the weather like where I live?"},
        *function_call_events("resp_1", [
            ("call_m", "search_memories", {"query": "where does the user live"}),
            ("call_w", "web_search", {"query": "Lisbon weather"}),
        ]),
    )
    conn.wait_for_type("response.create")
    outputs = {e["item"]["call_id"]: json.loads(e["item"]["output"])
               for e in conn.of_type("conversation.item.create")}
    assert "Lives in Lisbon" in [r["memory"] for r in outputs["call_m"]["results"]]
    assert "Lisbon" in json.dumps(outputs["call_w"])
    assert len(conn.of_type("response.create")) == 1

    conn.send(
        {"type": "response.output_audio_transcript.done", "response_id": "resp_2",
         "item_id": "item_a1", "output_index": 0, "content_index": 0,
         "transcript": "Hi Sam! It's sunny in Lisbon today, around 24 degrees."},
        {"type": "conversation.item.input_audio_transcription.completed", "item_id": "item_u2",
         "content_index": 0, "transcript": "Great. Remember that I'm cycling to work."},
        *function_call_events("resp_3", [
            ("call_a", "add_memories", {"messages": "I'm cycling to work"})]),
    )
    conn.wait_for_type("response.create", count=2)
    conn.send({"type": "response.output_audio_transcript.done", "response_id": "resp_4",
               "item_id": "item_a2", "output_index": 0, "content_index": 0,
               "transcript": "Noted — you cycle to work. Enjoy the sunshine!"})
    expect(page.locator("#transcript .turn")).to_have_count(4)
    # The panel shows the new memory once its background extraction job is done.
    expect(page.locator("#memory-list > li")).to_have_count(3, timeout=10_000)
    expect(page.locator("#memory-list")).to_contain_text("cycling to work")

    shot = Path(os.environ.get("WEB_SCREENSHOT_PATH") or tmp_path / "web.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_desktop_tool_runs_through_the_paired_bridge(page: Any, fresh: Stack, bridge: Bridge):
    open_page(page, fresh.url, "?transport=websocket")
    dev_sign_in(page, unique_user())
    page.get_by_text("Settings").click()
    page.get_by_label("Bridge URL").fill(bridge.url)
    page.get_by_label("Pairing token").fill(bridge.pairing_token)
    page.get_by_role("button", name="Pair", exact=True).click()
    expect(page.locator("#bridge-status")).to_contain_text("Paired:")
    page.get_by_role("button", name="Start conversation").click()
    conn = fresh.fakes.wait_connection()

    offered = [t["name"] for t in conn.wait_for_type("session.update")[0]["session"]["tools"]]
    assert "Click" in offered and "search_memories" in offered
    conn.send(*function_call_events("resp_b", [("call_k", "Click", {"loc": [120, 240]})]))
    conn.wait_for_type("response.create")

    [created] = conn.of_type("conversation.item.create")
    assert created["item"]["call_id"] == "call_k"
    assert "error" not in created["item"]["output"].lower()
    calls = wait_until(bridge.calls, 5, "the desktop side to receive the click")
    assert calls[-1]["name"] == "Click" and calls[-1]["arguments"]["loc"] == [120, 240]
    expect(page.locator("#transcript .tool[data-tool='Click']")).to_contain_text("desktop")
