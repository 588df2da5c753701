"""Fake Windows-MCP servers built with the ``mcp`` SDK, for the bridge's tests.

Two name generations are offered: ``current`` (Windows-MCP 0.8.x: ``Snapshot``, ``Click``,
``Move {loc, drag}``, ``PowerShell`` …) and ``old`` (``State-Tool``, ``Click-Tool``,
``Move-Tool {to_loc}``, ``Drag-Tool {from_loc, to_loc}``, ``Powershell-Tool`` …). Argument
names follow the real server (see windows_mcp/tools/*.py). Besides the desktop tools there are
test tools: ``Fail`` (reports an error), ``Boom`` (raises), and ``Wait`` sleeps for real so a
slow tool can be simulated.

Every call is recorded in ``server.calls`` (in memory) and, when a record file is given, as one
JSON line per call so a test can read what a subprocess server received.

Run over stdio (as a subprocess of the bridge)::

    python tests/fakes/mcp_servers.py --names current --transport stdio --record calls.jsonl

or start it over streamable HTTP on 127.0.0.1 with :func:`serve_http` (port 0).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

# A 1×1 transparent PNG: enough for the bridge to see an image content item.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class Recorder:
    """Collects tool calls in memory and optionally appends them to a JSONL file."""

    def __init__(self, path: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.path = Path(path) if path else None

    def record(self, name: str, arguments: dict[str, Any]) -> None:
        entry = {"name": name, "arguments": arguments, "at": time.time()}
        self.calls.append(entry)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")


def read_calls(path: str | Path) -> list[dict[str, Any]]:
    """Calls a subprocess server recorded in ``path`` (empty when nothing was called)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Scene:
    """The desktop the fake reports in its Snapshot: the focused window and the open ones."""

    focused: str = "Untitled - Notepad"
    opened: tuple[str, ...] = ("Untitled - Notepad", "Google Chrome")


def _table(names: list[str]) -> str:
    """Windows-MCP 0.8.x's ``tabulate(..., tablefmt="simple")`` window table."""
    width = max([len("Name"), *(len(n) for n in names)])
    lines = [f"{'Name':<{width}}    Depth  Status      Width    Height    Handle",
             f"{'-' * width}  -------  --------  -------  --------  --------"]
    lines += [f"{n:<{width}}        0  Normal       1280       720    {131072 + i}"
              for i, n in enumerate(names)]
    return "\n".join(lines)


def snapshot_text(scene: Scene) -> str:
    """A Snapshot answer in Windows-MCP 0.8.x's layout (see windows_mcp/tools/_snapshot_helpers)."""
    focused = _table([scene.focused]) if scene.focused else "No active window found"
    return (f"Cursor Position: (640,360)\nActive Desktop:\nDesktop 1\n\nAll Desktops:\nDesktop 1"
            f"\n\nFocused Window:\n{focused}\n\nOpened Windows:\n{_table(list(scene.opened))}"
            "\n\nUI Tree:\n1 Button 'Save' (100,200)")


def state_text(scene: Scene) -> str:
    """A State-Tool answer in the ``*-Tool`` generations' layout (``Focused App:``)."""
    def row(name: str) -> str:
        return f"Name: {name} Depth: 0 Status: Normal Size: (1280,720)"

    return (f"Focused App:\n{row(scene.focused) if scene.focused else 'No active app'}\n\n"
            f"Opened Apps:\n" + "\n".join(row(n) for n in scene.opened) +
            "\n\nList of Interactive Elements:\nNo interactive elements found.")


def _drop_none(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _add_common_tools(server: MCPServer, rec: Recorder) -> None:
    """Tools whose names did not change, plus the test-only tools."""

    @server.tool(name="Fail", description="Test tool: always reports an error.")
    def fail(reason: str = "it failed") -> str:
        rec.record("Fail", {"reason": reason})
        raise ToolError(reason)

    @server.tool(name="Boom", description="Test tool: raises an unexpected exception.")
    def boom() -> str:
        rec.record("Boom", {})
        raise RuntimeError("kaboom")


def _add_annotated_tools(server: MCPServer, rec: Recorder) -> None:
    """Tools the safety policy has no rule for, with and without MCP annotations."""

    @server.tool(name="Inventory", description="Lists installed apps (read-only).",
                 annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False))
    def inventory() -> str:
        rec.record("Inventory", {})
        return "Notepad, Chrome"

    @server.tool(name="Wipe", description="Erases a drive.",
                 annotations=ToolAnnotations(destructive_hint=True))
    def wipe(drive: str = "C:") -> str:
        rec.record("Wipe", {"drive": drive})
        return f"wiped {drive}"

    @server.tool(name="Mystery", description="Does something (no annotations).")
    def mystery(what: str = "") -> str:
        rec.record("Mystery", {"what": what})
        return "done"


def build_current_server(rec: Recorder, scene: Scene | None = None) -> MCPServer:
    """A server with Windows-MCP 0.8.x tool names and arguments."""
    server = MCPServer(name="fake-windows-mcp", log_level="WARNING")
    scene = scene or Scene()

    @server.tool(name="Snapshot", description="Capture the desktop state.",
                 structured_output=False)
    def snapshot(use_vision: bool = False, use_dom: bool = False) -> list[Any]:
        rec.record("Snapshot", {"use_vision": use_vision, "use_dom": use_dom})
        text = snapshot_text(scene)
        return [text, Image(data=PNG_1X1, format="png")] if use_vision else [text]

    @server.tool(name="Screenshot", description="Fast screenshot.", structured_output=False)
    def screenshot() -> list[Any]:
        rec.record("Screenshot", {})
        return ["Cursor at (5,5)", Image(data=PNG_1X1, format="png")]

    @server.tool(name="Click", description="Click.")
    def click(loc: list[int] | None = None, label: int | None = None, button: str = "left",
              clicks: int = 1) -> str:
        rec.record("Click", _drop_none(loc=loc, label=label, button=button, clicks=clicks))
        return f"Single {button} clicked at ({loc[0]},{loc[1]})." if loc else "Clicked label."

    @server.tool(name="Type", description="Type text.")
    def type_(text: str, loc: list[int] | None = None, label: int | None = None,
              clear: bool = False, press_enter: bool = False) -> str:
        rec.record("Type", _drop_none(text=text, loc=loc, label=label, clear=clear,
                                      press_enter=press_enter))
        return f"Typed {text}."

    @server.tool(name="Move", description="Move the mouse; drag=True drags.")
    def move(loc: list[int] | None = None, label: int | None = None, drag: bool = False,
             from_loc: list[int] | None = None) -> str:
        rec.record("Move", _drop_none(loc=loc, label=label, drag=drag, from_loc=from_loc))
        verb = "Dragged to" if drag else "Moved the mouse pointer to"
        return f"{verb} ({loc[0]},{loc[1]})." if loc else f"{verb} label."

    @server.tool(name="Scroll", description="Scroll.")
    def scroll(loc: list[int] | None = None, type: str = "vertical", direction: str = "down",
               wheel_times: int = 1) -> str:
        rec.record("Scroll", _drop_none(loc=loc, type=type, direction=direction,
                                        wheel_times=wheel_times))
        return f"Scrolled {type} {direction}."

    @server.tool(name="Shortcut", description="Press a shortcut.")
    def shortcut(shortcut: str) -> str:
        rec.record("Shortcut", {"shortcut": shortcut})
        return f"Pressed {shortcut}."

    @server.tool(name="Wait", description="Wait (really sleeps).")
    async def wait(duration: float) -> str:
        rec.record("Wait", {"duration": duration})
        await asyncio.sleep(duration)
        return f"Waited for {duration} seconds."

    @server.tool(name="App", description="Launch or switch apps.")
    def app(mode: str = "launch", name: str | None = None, executable: str | None = None,
            args: list[str] | str | None = None, cwd: str | None = None) -> str:
        rec.record("App", _drop_none(mode=mode, name=name, executable=executable, args=args,
                                     cwd=cwd))
        return f"{mode} {name or executable}."

    @server.tool(name="PowerShell", description="Run PowerShell.")
    def powershell(command: str, timeout: int = 30) -> str:
        rec.record("PowerShell", {"command": command, "timeout": timeout})
        return f"Response: ran {command}\nStatus Code: 0"

    @server.tool(name="FileSystem", description="File operations.",
                 annotations=ToolAnnotations(destructive_hint=True))
    def file_system(mode: str, path: str, content: str | None = None,
                    destination: str | None = None, pattern: str | None = None) -> str:
        rec.record("FileSystem", _drop_none(mode=mode, path=path, content=content,
                                            destination=destination, pattern=pattern))
        return f"{mode} {path}: ok"

    @server.tool(name="Registry", description="Registry operations.",
                 annotations=ToolAnnotations(destructive_hint=True))
    def registry(mode: str, path: str, name: str | None = None, value: str | None = None) -> str:
        rec.record("Registry", _drop_none(mode=mode, path=path, name=name, value=value))
        return f"{mode} {path}: ok"

    @server.tool(name="Process", description="List or kill processes.",
                 annotations=ToolAnnotations(destructive_hint=True))
    def process(mode: str, name: str | None = None, pid: int | None = None,
                force: bool | None = None) -> str:
        rec.record("Process", _drop_none(mode=mode, name=name, pid=pid, force=force))
        return f"{mode}: ok"

    @server.tool(name="Scrape", description="Fetch a page.")
    def scrape(url: str) -> str:
        rec.record("Scrape", {"url": url})
        return f"Content of {url}"

    @server.tool(name="Clipboard", description="Clipboard get/set (not in the catalogue).")
    def clipboard(mode: str, text: str | None = None) -> str:
        rec.record("Clipboard", _drop_none(mode=mode, text=text))
        return "Clipboard content:\nhello"

    @server.tool(name="MultiEdit", description="Type into several fields.")
    def multi_edit(locs: list[list[Any]] | None = None) -> str:
        rec.record("MultiEdit", _drop_none(locs=locs))
        return "edited"

    _add_common_tools(server, rec)
    _add_annotated_tools(server, rec)
    return server


def build_old_server(rec: Recorder, scene: Scene | None = None) -> MCPServer:
    """A server with the older ``*-Tool`` names (``Move-Tool {to_loc}``, ``Drag-Tool``)."""
    server = MCPServer(name="fake-windows-mcp-old", log_level="WARNING")
    scene = scene or Scene()

    @server.tool(name="State-Tool", description="Capture the desktop state.",
                 structured_output=False)
    def state(use_vision: bool = False) -> list[Any]:
        rec.record("State-Tool", {"use_vision": use_vision})
        text = state_text(scene)
        return [text, Image(data=PNG_1X1, format="png")] if use_vision else [text]

    @server.tool(name="Click-Tool", description="Click.")
    def click(loc: list[int], button: str = "left", clicks: int = 1) -> str:
        rec.record("Click-Tool", {"loc": loc, "button": button, "clicks": clicks})
        return f"Clicked at ({loc[0]},{loc[1]})."

    @server.tool(name="Type-Tool", description="Type.")
    def type_(loc: list[int], text: str, clear: bool = False, press_enter: bool = False) -> str:
        rec.record("Type-Tool", {"loc": loc, "text": text, "clear": clear,
                                 "press_enter": press_enter})
        return f"Typed {text}."

    @server.tool(name="Move-Tool", description="Move the mouse.")
    def move(to_loc: list[int]) -> str:
        rec.record("Move-Tool", {"to_loc": to_loc})
        return f"Moved to ({to_loc[0]},{to_loc[1]})."

    @server.tool(name="Drag-Tool", description="Drag from one point to another.")
    def drag(from_loc: list[int], to_loc: list[int]) -> str:
        rec.record("Drag-Tool", {"from_loc": from_loc, "to_loc": to_loc})
        return f"Dragged from ({from_loc[0]},{from_loc[1]}) to ({to_loc[0]},{to_loc[1]})."

    @server.tool(name="Scroll-Tool", description="Scroll.")
    def scroll(loc: list[int] | None = None, direction: str = "down") -> str:
        rec.record("Scroll-Tool", _drop_none(loc=loc, direction=direction))
        return "Scrolled."

    @server.tool(name="Shortcut-Tool", description="Shortcut.")
    def shortcut(shortcut: list[str] | str) -> str:
        rec.record("Shortcut-Tool", {"shortcut": shortcut})
        return "Pressed."

    @server.tool(name="App-Tool", description="Apps.")
    def app(mode: str = "launch", name: str | None = None) -> str:
        rec.record("App-Tool", _drop_none(mode=mode, name=name))
        return "ok"

    @server.tool(name="Powershell-Tool", description="Run PowerShell.")
    def powershell(command: str) -> str:
        rec.record("Powershell-Tool", {"command": command})
        return f"Response: ran {command}\nStatus Code: 0"

    @server.tool(name="Wait-Tool", description="Wait.")
    async def wait(duration: float) -> str:
        rec.record("Wait-Tool", {"duration": duration})
        await asyncio.sleep(duration)
        return "Waited."

    @server.tool(name="Scrape-Tool", description="Scrape.")
    def scrape(url: str) -> str:
        rec.record("Scrape-Tool", {"url": url})
        return f"Content of {url}"

    _add_common_tools(server, rec)
    return server


def build_server(names: str, rec: Recorder, scene: Scene | None = None) -> MCPServer:
    """Build the ``current`` or ``old`` fake server."""
    if names == "current":
        return build_current_server(rec, scene)
    if names == "old":
        return build_old_server(rec, scene)
    raise ValueError(f"names must be 'current' or 'old', not {names!r}")


@dataclass
class HttpServerHandle:
    """A running streamable-HTTP fake: its URL and what it recorded."""

    url: str
    recorder: Recorder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_http(names: str = "current", *, required_header: tuple[str, str] | None = None,
                     scene: Scene | None = None) -> AsyncIterator[HttpServerHandle]:
    """Run a fake server over streamable HTTP on 127.0.0.1 inside the current event loop.

    Args:
        names: ``current`` or ``old``.
        required_header: if set, requests without this exact header get 401 (auth check).
        scene: the windows its Snapshot reports (a test may change it while serving).

    Yields:
        The URL (ending in ``/mcp/``) and the recorder.
    """
    import uvicorn
    from starlette.responses import JSONResponse

    rec = Recorder()
    app = build_server(names, rec, scene).streamable_http_app(streamable_http_path="/mcp/")
    asgi: Any = app
    if required_header is not None:
        header_name, header_value = required_header

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                if headers.get(header_name.lower()) != header_value:
                    await JSONResponse({"error": "unauthorized"}, status_code=401)(
                        scope, receive, send)
                    return
            await app(scope, receive, send)

        asgi = guarded

    port = _free_port()
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield HttpServerHandle(url=f"http://127.0.0.1:{port}/mcp/", recorder=rec)
    finally:
        server.should_exit = True
        await task


def main() -> None:
    """Command line: run a fake server over stdio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--names", choices=["current", "old"], default="current")
    parser.add_argument("--transport", choices=["stdio"], default="stdio")
    parser.add_argument("--record", help="append every call as a JSON line to this file")
    parser.add_argument("--pid-file", help="write this process's pid here (shutdown tests)")
    parser.add_argument("--focused-window", default=Scene.focused,
                        help="the focused window title its Snapshot reports")
    args = parser.parse_args()
    if args.pid_file:
        import os

        Path(args.pid_file).write_text(str(os.getpid()))
    scene = Scene(focused=args.focused_window, opened=(args.focused_window, *Scene.opened))
    server = build_server(args.names, Recorder(args.record), scene)
    asyncio.run(server.run_stdio_async())


if __name__ == "__main__":
    main()
