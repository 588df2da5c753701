"""The fake Windows-MCP servers against the 0.8.8 recording, and Scrape without sampling."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bridge.mcp_client import DesktopClient
from bridge.page_text import PAGE_MAX_CHARS
from tests.fakes.mcp_servers import (
    Recorder,
    build_server,
    news_page,
    serve_http,
    snapshot_text,
)
from tests.fakes.realtime import fake_backend, run_text_conversation
from voice_agent import desktop_tools

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_SAMPLE = json.loads(
    (ROOT / "tests" / "fakes" / "data" / "windows_mcp_0_8_8_snapshot.json").read_text("utf-8"))
TEST_TOOLS = {"Fail", "Boom", "Inventory", "Wipe", "Mystery"}


async def test_current_fake_lists_exactly_the_recorded_tools():
    server = build_server("current", Recorder())
    listed = [t for t in await server.list_tools() if t.name not in TEST_TOOLS]
    as_recorded = [t.model_dump(mode="json", by_alias=True, exclude_none=True,
                                include={"name", "title", "description", "input_schema",
                                         "annotations"}) for t in listed]
    assert as_recorded == desktop_tools.recorded_tools()


async def test_bridge_sees_the_recorded_tools_through_the_fake():
    server = build_server("current", Recorder())
    async with DesktopClient(server=server) as desktop:
        tools = {tool.name: tool for tool in desktop.tools}
    for recorded in desktop_tools.recorded_tools():
        assert tools[recorded["name"]].parameters == recorded["inputSchema"]
        assert tools[recorded["name"]].as_function_tool() == desktop_tools.function_tool(
            recorded["name"], recorded["description"], recorded["inputSchema"])


async def test_fake_refuses_a_click_without_loc_or_label_and_unknown_arguments():
    rec = Recorder()
    async with DesktopClient(server=build_server("current", rec)) as desktop:
        neither = await desktop.call_tool("Click", {"button": "left"})
        unknown = await desktop.call_tool("Move", {"to_loc": [1, 2]})
        ok = await desktop.call_tool("Click", {"loc": [10, 20]})
    assert neither.is_error and "Either loc or label must be provided." in neither.text
    assert unknown.is_error and "to_loc" in unknown.text
    assert not ok.is_error and ok.text == "Single left clicked at (10,20)."
    assert rec.calls[-1]["arguments"] == {"loc": [10, 20], "button": "left", "clicks": 1}


def test_snapshot_text_matches_what_0_8_8_renders():
    state = SNAPSHOT_SAMPLE["state"]
    text = snapshot_text(focused_window=state["focused_window"], windows=state["windows"],
                         cursor=tuple(state["cursor_position"]), desktop=state["desktop"])
    assert text == SNAPSHOT_SAMPLE["text"]
    # Negative control: another focused window renders another table.
    other = snapshot_text(focused_window="Untitled - Notepad", windows=state["windows"],
                          cursor=tuple(state["cursor_position"]), desktop=state["desktop"])
    assert other != SNAPSHOT_SAMPLE["text"]


def _focused_block(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("    Focused Window:")
    return lines[start + 1:start + 4]


@pytest.mark.slow  # starts a Python subprocess that imports the MCP SDK
async def test_focused_window_flag_sets_the_snapshot_focused_window(tmp_path):
    command = (f'"{sys.executable}" tests/fakes/mcp_servers.py --names current '
               f'--focused-window "Windows PowerShell"')
    async with DesktopClient(command=command) as desktop:
        result = await desktop.call_tool("Snapshot", {"use_vision": False})
    block = _focused_block(result.text)
    assert block[0].startswith("    Name") and block[1].startswith("---")
    assert block[2].startswith("Windows PowerShell ")
    assert _focused_block(snapshot_text(focused_window="Windows PowerShell", windows=[
        ["Windows PowerShell", 0, "Maximized", 1920, 1032, 198712]])) == block


async def test_constructor_focused_window_and_default():
    async with DesktopClient(server=build_server("current", Recorder(),
                                                 focused_window="Run")) as desktop:
        run = await desktop.call_tool("Snapshot", {})
    async with DesktopClient(server=build_server("current", Recorder())) as desktop:
        default = await desktop.call_tool("Snapshot", {})
    assert _focused_block(run.text)[2].startswith("Run ")
    assert _focused_block(default.text)[2].startswith("Untitled - Notepad ")


# --- Scrape: no sampling, compacted for speech ----------------------------------------------

async def test_scrape_through_the_bridge_asks_for_no_sampling_and_is_compacted():
    page = news_page(60)
    url = "https://news.example/tram"
    async with fake_backend() as (realtime, api), serve_http(
            "current", pages={url: page}) as server, DesktopClient(url=server.url) as desktop:
        realtime.when_user_says("read", ("Scrape", {"url": url, "query": "tram"}))
        run = await run_text_conversation(api, ["read the news"], desktop=desktop)
        output = realtime.sessions[0].outputs_by_name()["Scrape"]
    assert run.code == 0
    assert server.recorder.calls[0]["arguments"]["use_sampling"] is False
    assert server.world.sampling_requests == []  # the server did not even ask
    assert output.startswith(f"URL: {url}\nContent:\nTram line approved")
    assert "Paragraph 0: the council voted" in output
    assert "Section 3" not in output and "https://" not in output.split("\n", 1)[1]
    assert "more characters of the page left out" in output
    assert len(output) <= PAGE_MAX_CHARS + 200 < len(page)


async def test_sampling_request_from_the_server_is_refused_and_raw_text_returned():
    rec = Recorder()
    server = build_server("current", rec, pages={"https://a.example": "# Hello\n\nWorld."})
    async with DesktopClient(server=server) as desktop:
        result = await desktop.call_tool("Scrape", {"url": "https://a.example",
                                                    "use_sampling": True})
    [asked] = server.world.sampling_requests
    assert asked["offered"] is False and asked["refused"]
    assert not result.is_error
    assert result.text == "URL: https://a.example\nContent:\nHello\n\nWorld."
