"""Fake Windows-MCP servers built with the ``mcp`` SDK, for the bridge's tests.

Three tool generations are offered:

* ``current`` — Windows-MCP 0.8.8. Its tools (names, titles, descriptions, input schemas and
  annotations) are listed exactly as recorded in ``voice_agent/windows_mcp_tools.json``, and
  every call is checked against the recorded input schema, as the real server does (unknown
  arguments are refused: the schemas say ``additionalProperties: false``).
* ``old`` — the ``*-Tool`` generation with ``App-Tool`` (``State-Tool``, ``Click-Tool {loc}``,
  ``Move-Tool {to_loc}``, ``Drag-Tool {to_loc}`` from the pointer, ``Shortcut-Tool {shortcut:
  "ctrl+c"}`` …).
* ``oldest`` — mid-2025 (``Launch-Tool {name}``, ``Switch-Tool {name}``, ``Key-Tool {key}``,
  ``Clipboard-Tool {mode: copy|paste, text}``, ``Click-Tool``/``Type-Tool`` with only ``loc``,
  ``Drag-Tool {from_loc, to_loc}``, ``Shortcut-Tool {shortcut: ["ctrl", "c"]}``: a string is
  refused).

The replies follow the real servers' texts (``Single left clicked at (1,2).``, the Snapshot's
``Focused Window:`` table …). Besides the desktop tools there are two test tools: ``Fail``
(reports an error) and ``Boom`` (raises). ``Wait`` sleeps for real so a slow tool can be
simulated; unlike the real server it accepts fractions of a second so tests stay short.

Every call is recorded in ``server.calls`` (in memory) with the schema defaults filled in (what
the real tool function receives) and, when a record file is given, as one JSON line per call so
a test can read what a subprocess server received.

Run over stdio (as a subprocess of the bridge)::

    python tests/fakes/mcp_servers.py --names current --focused-window "Windows PowerShell" \\
        --record calls.jsonl

or start it over streamable HTTP on 127.0.0.1 with :func:`serve_http` (port 0).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import inspect
import json
import socket
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import (
    CallToolResult,
    ClientCapabilities,
    ImageContent,
    SamplingCapability,
    SamplingMessage,
    TextContent,
    ToolAnnotations,
)
from mcp.types import Tool as MCPTool

from voice_agent import desktop_tools

# A 1×1 transparent PNG: enough for the bridge to see an image content item.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
GENERATIONS = ("current", "old", "oldest")
DEFAULT_FOCUSED_WINDOW = "Untitled - Notepad"
# What the fake's Scrape fetches when a test gives no page: markdown as the real server's
# markdownify produces it, navigation and footer included.
DEFAULT_PAGE = (
    "[Skip to content](#main)\n\n* [Home](https://example.org/)\n* [News](https://example.org/n)"
    "\n* [Sport](https://example.org/s)\n\n![logo](https://example.org/logo.png)\n\n"
    "# Weather in Lisbon\n\nSunny, 24 °C, light wind from the north.\n\n"
    "Accept cookies? [Accept](https://example.org/ok) [Reject](https://example.org/no)\n\n"
    "© 2026 Example Media · [Privacy](https://example.org/p) · [Terms](https://example.org/t)\n"
)


def news_page(paragraphs: int) -> str:
    """A markdown page as markdownify makes one: navigation, article, related links, footer."""
    nav = "\n".join(f"* [Section {i}](https://news.example/s/{i})" for i in range(40))
    article = "\n\n".join(
        f"Paragraph {i}: the council voted on the new tram line, which will run from the "
        f"harbour to the university and open in {2027 + i % 3}. Residents asked about noise, "
        f"fares and the trees on Avenida {i}; the mayor promised answers by spring."
        for i in range(paragraphs))
    related = "\n".join(f"- [Related story number {i}](https://news.example/r/{i})"
                        for i in range(30))
    footer = " · ".join(f"[Link {i}](https://news.example/f/{i})" for i in range(20))
    return (f"[Skip to content](#main)\n\n{nav}\n\n![banner](https://news.example/b.png)\n\n"
            f"# Tram line approved\n\n{article}\n\n## Related\n\n{related}\n\n{footer}\n")


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


# --- the Snapshot text, as Windows-MCP 0.8.8 renders it --------------------------------------

def simple_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A table as ``tabulate(rows, headers, tablefmt="simple")`` draws it (numbers right)."""
    numeric = [all(isinstance(row[i], int) for row in rows) for i in range(len(headers))]
    widths = [max([len(h) + 2] + [len(str(row[i])) for row in rows])
              for i, h in enumerate(headers)]

    def line(cells: list[Any]) -> str:
        parts = [str(c).rjust(w) if num else str(c).ljust(w)
                 for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths),
                      *(line(row) for row in rows)])


WINDOW_HEADERS = ["Name", "Depth", "Status", "Width", "Height", "Handle"]


def snapshot_text(*, focused_window: str | None, windows: list[list[Any]],
                  cursor: tuple[int, int] = (960, 540), desktop: str = "Desktop 1",
                  ui_tree: str | None = "No elements") -> str:
    """The text part of a 0.8.8 ``Snapshot`` (``Screenshot`` when ``ui_tree`` is None).

    The real server fills a ``textwrap.dedent`` template with multi-line tables, so nothing is
    dedented: the headings keep four spaces and the table lines after the first start at
    column 0. ``focused_window`` is the first row of ``windows`` shown under
    ``Focused Window:``.
    """
    focused_rows = [row for row in windows if row[0] == focused_window][:1]
    active = (simple_table(WINDOW_HEADERS, focused_rows) if focused_rows
              else "No active window found")
    opened = simple_table(WINDOW_HEADERS, windows) if windows else "No windows found"
    desktops = simple_table(["Name"], [[desktop]])
    text = (f"\n    Cursor Position: ({cursor[0]}, {cursor[1]})\n\n"
            f"    Active Desktop:\n    {desktops}\n\n"
            f"    All Desktops:\n    {desktops}\n\n"
            f"    Focused Window:\n    {active}\n\n"
            f"    Opened Windows:\n    {opened}\n")
    if ui_tree is not None:
        text += f"\n\nUI Tree:\n{ui_tree}"
    return text


# --- a server whose tools are data -------------------------------------------------------------

Handler = Callable[..., Any]


@dataclass
class ToolSpec:
    """One fake tool: what ``list_tools`` says about it and what a call does."""

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    title: str | None = None
    annotations: dict[str, Any] | None = None
    validate_schema: dict[str, Any] | None = None  # when calls are checked differently

    @functools.cached_property
    def validator(self) -> Any:
        """The calls' validator, built (and its schema checked) once, not on every call.

        ``jsonschema.validate`` checks the schema against its metaschema each time, which made
        one fake call take about 4 ms, most of a desktop call's measured floor.
        """
        schema = self.validate_schema or self.input_schema
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)


@dataclass
class DesktopWorld:
    """The fake desktop a server acts on (windows, clipboard, pages, sampling log)."""

    focused_window: str = DEFAULT_FOCUSED_WINDOW
    windows: list[list[Any]] = field(default_factory=list)
    clipboard: str = "hello"
    pages: dict[str, str] = field(default_factory=dict)
    sampling_requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.windows:
            self.windows = [[self.focused_window, 0, "Maximized", 1920, 1032, 198712]]
            if self.focused_window != DEFAULT_FOCUSED_WINDOW:
                self.windows.append([DEFAULT_FOCUSED_WINDOW, 1, "Normal", 1280, 720, 265330])

    def page(self, url: str) -> str:
        return self.pages.get(url, DEFAULT_PAGE)


class FakeWindowsMCP(MCPServer):
    """An SDK server listing ``specs`` verbatim and validating calls against their schemas."""

    def __init__(self, name: str, specs: list[ToolSpec], rec: Recorder,
                 world: DesktopWorld) -> None:
        super().__init__(name=name, log_level="WARNING")
        self.specs = {spec.name: spec for spec in specs}
        self.recorder = rec
        self.world = world

    async def list_tools(self) -> list[MCPTool]:
        """The tools exactly as the specs describe them."""
        return [MCPTool(name=s.name, title=s.title, description=s.description,
                        input_schema=s.input_schema,
                        annotations=ToolAnnotations(**s.annotations) if s.annotations else None)
                for s in self.specs.values()]

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context[Any, Any] | None = None) -> CallToolResult:
        """Validate, record and run one call; a ToolError becomes an error result."""
        spec = self.specs.get(name)
        if spec is None:
            raise ToolError(f"Unknown tool: {name}")
        schema = spec.validate_schema or spec.input_schema
        # The error jsonschema.validate would raise (its best match), from the cached validator.
        error = jsonschema.exceptions.best_match(spec.validator.iter_errors(arguments))
        if error is not None:
            raise ToolError(f"Input validation error: {error.message}")
        filled = {key: prop["default"] for key, prop in schema.get("properties", {}).items()
                  if prop.get("default") is not None}
        filled.update(arguments)
        self.recorder.record(name, filled)
        kwargs = dict(filled)
        if "ctx" in inspect.signature(spec.handler).parameters:
            kwargs["ctx"] = context
        result = spec.handler(**kwargs)
        if isinstance(result, Awaitable):
            result = await result
        return _as_result(result)


def _as_result(result: Any) -> CallToolResult:
    items = result if isinstance(result, list) else [result]
    content: list[TextContent | ImageContent] = []
    for item in items:
        if isinstance(item, bytes):
            content.append(ImageContent(type="image", mime_type="image/png",
                                        data=base64.b64encode(item).decode()))
        else:
            content.append(TextContent(type="text", text=str(item)))
    return CallToolResult(content=content)


def _point(value: Any, name: str = "loc") -> list[int]:
    if isinstance(value, str):  # the real tools accept '[1, 2]' as text
        value = json.loads(value)
    if not isinstance(value, list) or len(value) != 2:
        raise ToolError(f"{name} must be a list of exactly 2 integers [x, y]")
    return [int(v) for v in value]


def _target(loc: Any, label: int | None) -> list[int]:
    if loc is None and label is None:
        raise ToolError("Either loc or label must be provided.")
    if label is not None:
        return [100 + 10 * label, 200]  # where the fake's UI tree puts element ``label``
    return _point(loc)


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _test_tools() -> list[ToolSpec]:
    def fail(reason: str = "it failed") -> str:
        raise ToolError(reason)

    def boom() -> str:
        raise RuntimeError("kaboom")

    return [
        ToolSpec("Fail", "Test tool: always reports an error.",
                 {"type": "object", "properties": {"reason": {"type": "string",
                                                              "default": "it failed"}}}, fail),
        ToolSpec("Boom", "Test tool: raises an unexpected exception.",
                 {"type": "object", "properties": {}}, boom),
        # Tools the safety policy has no rule for, with and without MCP annotations.
        ToolSpec("Inventory", "Test tool: lists installed apps (declared read-only).",
                 {"type": "object", "properties": {}}, lambda: "Notepad, Chrome",
                 annotations={"readOnlyHint": True, "destructiveHint": False}),
        ToolSpec("Wipe", "Test tool: erases a drive (declared destructive).",
                 {"type": "object", "properties": {"drive": {"type": "string"}}},
                 lambda drive="C:": f"wiped {drive}", annotations={"destructiveHint": True}),
        ToolSpec("Mystery", "Test tool: does something (no annotations).",
                 {"type": "object", "properties": {"what": {"type": "string"}}},
                 lambda what="": "done"),
    ]


# --- current generation: Windows-MCP 0.8.8 -----------------------------------------------------

class CurrentTools:
    """One behaviour per recorded 0.8.8 tool on ``world``; the replies follow the real tools'
    texts."""

    def __init__(self, world: DesktopWorld) -> None:
        self.world = world

    def control_status(self) -> str:
        return json.dumps({"owner": "mcp", "user_idle_wait_s": 0})

    def app(self, mode: str = "launch", name: str | None = None, window_loc: Any = None,
            window_size: Any = None, executable: str | None = None, args: Any = None,
            cwd: str | None = None) -> str:
        if mode != "launch_executable" and any(v is not None for v in (executable, args, cwd)):
            raise ToolError('executable, args, and cwd require mode="launch_executable"')
        if mode == "launch_executable":
            if executable is None:
                raise ToolError('executable is required for mode="launch_executable"')
            return json.dumps({"pid": 4242, "executable": executable, "args": args or [],
                               "cwd": cwd}, indent=2)
        if mode == "switch":
            self.world.focused_window = name or self.world.focused_window
            return f"Switched to {name} window."
        if mode == "resize":
            target = name or self.world.focused_window
            return f"{target} resized to {window_size} at {window_loc}."
        return f"{(name or '').title()} launched."

    def display_inventory(self) -> str:
        return json.dumps({"displays": [{"index": 0, "device_name": "\\\\.\\DISPLAY1",
                                         "primary": True, "bounds": [0, 0, 1920, 1080]}]})

    def powershell(self, command: str, timeout: int = 30) -> str:
        return f"Response: ran {command}\nStatus Code: 0"

    def file_system(self, mode: str, path: str, **_rest: Any) -> str:
        return f"{mode} {path}: ok"

    def snapshot(self, use_vision: Any = False, use_dom: Any = False, use_ui_tree: Any = True,
                 **_rest: Any) -> list[Any]:
        if _flag(use_dom) and not _flag(use_ui_tree):
            raise ToolError("use_dom=True requires use_ui_tree=True")
        world = self.world
        text = snapshot_text(focused_window=world.focused_window, windows=world.windows,
                             ui_tree=(f"Window: {world.focused_window}\n"
                                      "└─ [0] Button 'Save' (100,200)")
                             if _flag(use_ui_tree) else "No elements found.")
        return [text, PNG_1X1] if _flag(use_vision) else [text]

    def screenshot(self, **_rest: Any) -> list[Any]:
        world = self.world
        return [snapshot_text(focused_window=world.focused_window, windows=world.windows,
                              ui_tree=None), PNG_1X1]

    def click(self, loc: Any = None, label: int | None = None, button: str = "left",
              clicks: int = 1) -> str:
        x, y = _target(loc, label)
        names = {0: "Hover", 1: "Single", 2: "Double"}
        return f"{names.get(clicks)} {button} clicked at ({x},{y})."

    def type_(self, text: str, loc: Any = None, label: int | None = None, **_rest: Any) -> str:
        x, y = _target(loc, label)
        return f"Typed {text} at ({x},{y})."

    def scroll(self, loc: Any = None, label: int | None = None, type: str = "vertical",
               direction: str = "down", wheel_times: int = 1) -> str:
        if label is not None or loc is not None:
            x, y = _target(loc, label)
            return f"Scrolled {type} {direction} by {wheel_times} wheel times at ({x},{y})."
        return ""

    def move(self, loc: Any = None, label: int | None = None, drag: Any = False,
             from_loc: Any = None, duration: Any = None) -> str:
        x, y = _target(loc, label)
        if (from_loc is not None or duration is not None) and not _flag(drag):
            raise ToolError("from_loc and duration require drag=True")
        if _flag(drag):
            sx, sy = _point(from_loc, "from_loc") if from_loc is not None else (960, 540)
            return f"Dragged from ({sx},{sy}) to ({x},{y})."
        return f"Moved the mouse pointer to ({x},{y})."

    def shortcut(self, shortcut: str) -> str:
        return f"Pressed {shortcut}."

    async def wait(self, duration: float) -> str:
        await asyncio.sleep(duration)
        return f"Waited for {duration} seconds."

    def wait_for(self, condition: str, text: str | None = None, window_name: str | None = None,
                 timeout: float = 10.0, **_rest: Any) -> str:
        if not 0 < timeout <= 120:
            raise ToolError("timeout must be greater than 0 and at most 120 seconds")
        wanted = (window_name or text or "").casefold()
        focused = self.world.focused_window
        if condition in {"active_window", "window"} and wanted in focused.casefold():
            return (f"WaitFor condition 'active_window' satisfied after 0.00s and 1 attempt(s): "
                    f"active window matched {focused!r}.")
        raise ToolError(f"Timed out after {timeout:.2f}s waiting for '{condition}'.")

    async def scrape(self, url: str, query: str | None = None, use_dom: Any = False,
                     use_sampling: Any = True, ctx: Context[Any, Any] | None = None) -> str:
        content = self.world.page(url)
        if _flag(use_sampling) and ctx is not None:
            # As the real tool: ask the client's model to clean the page, and fall back to the
            # raw text when the client offers no sampling or refuses.
            asked = {"url": url, "offered": ctx.session.check_client_capability(
                ClientCapabilities(sampling=SamplingCapability()))}
            self.world.sampling_requests.append(asked)
            try:
                with warnings.catch_warnings():  # the SDK marks sampling as deprecated
                    warnings.simplefilter("ignore")
                    result = await ctx.session.create_message(
                        [SamplingMessage(role="user", content=TextContent(
                            type="text", text=f"Raw scraped content from {url}:\n\n{content}"))],
                        max_tokens=2048, system_prompt="You are a web content extractor.")
                return f"URL: {url}\nContent:\n{getattr(result.content, 'text', '')}"
            except Exception as exc:  # the real tool swallows every sampling failure
                asked["refused"] = str(exc)
        return f"URL: {url}\nContent:\n{content}"

    def multi_select(self, locs: Any = None, labels: Any = None, press_ctrl: Any = True) -> str:
        return f"Selected {len(locs or labels or [])} elements."

    def multi_edit(self, locs: Any = None, labels: Any = None) -> str:
        return f"Edited {len(locs or labels or [])} fields."

    def clipboard(self, mode: str, text: str | None = None) -> str:
        if mode == "set":
            if text is None:
                raise ToolError("text is required for mode='set'")
            self.world.clipboard = text
            return f"Clipboard set to: {text}"
        return f"Clipboard content:\n{self.world.clipboard}"

    def process(self, mode: str, name: str | None = None, pid: int | None = None,
                **_rest: Any) -> str:
        return f"{mode}: ok"

    def notification(self, title: str, message: str, app_id: str) -> str:
        return f"Notification sent: {title}"

    def registry(self, mode: str, path: str, **_rest: Any) -> str:
        return f"{mode} {path}: ok"

    def handlers(self) -> dict[str, Handler]:
        """The tool name → behaviour table (bound methods)."""
        return {
            "ControlStatus": self.control_status, "App": self.app,
            "DisplayInventory": self.display_inventory, "PowerShell": self.powershell,
            "FileSystem": self.file_system, "Snapshot": self.snapshot,
            "Screenshot": self.screenshot, "Click": self.click, "Type": self.type_,
            "Scroll": self.scroll, "Move": self.move, "Shortcut": self.shortcut,
            "Wait": self.wait, "WaitFor": self.wait_for, "Scrape": self.scrape,
            "MultiSelect": self.multi_select, "MultiEdit": self.multi_edit,
            "Clipboard": self.clipboard, "Process": self.process,
            "Notification": self.notification, "Registry": self.registry,
        }


def current_specs(world: DesktopWorld) -> list[ToolSpec]:
    """The recorded 0.8.8 tools, each with its fake behaviour.

    Raises:
        KeyError: the recording names a tool the fake has no behaviour for (drift).
    """
    handlers = CurrentTools(world).handlers()
    specs = []
    for tool in desktop_tools.recorded_tools():
        validate = None
        if tool["name"] == "Wait":  # fractions of a second keep the slow-tool tests short
            validate = json.loads(json.dumps(tool["inputSchema"]))
            validate["properties"]["duration"]["type"] = "number"
        specs.append(ToolSpec(tool["name"], tool["description"], tool["inputSchema"],
                              handlers[tool["name"]], title=tool.get("title"),
                              annotations=tool.get("annotations"), validate_schema=validate))
    return specs


# --- older generations ---------------------------------------------------------------------

_POINT = {"type": "array", "items": {"type": "integer"}}


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _old_common(world: DesktopWorld, *, with_dom: bool) -> list[ToolSpec]:
    """The tools both ``*-Tool`` generations share (arguments as in each generation)."""

    def state(use_vision: bool = False, use_dom: bool = False) -> list[Any]:
        text = f"Focused App:\n{world.focused_window}\nOpened Apps:\n{world.focused_window}"
        return [text, PNG_1X1] if use_vision else [text]

    def click(loc: list[int], button: str = "left", clicks: int = 1) -> str:
        names = {1: "Single", 2: "Double", 3: "Triple"}
        return f"{names.get(clicks)} {button} clicked at ({loc[0]},{loc[1]})."

    def scroll(loc: list[int] | None = None, type: str = "vertical", direction: str = "down",
               wheel_times: int = 1) -> str:
        return f"Scrolled {type} {direction} by {wheel_times} wheel times."

    def move(to_loc: list[int]) -> str:
        return f"Moved the mouse pointer to ({to_loc[0]},{to_loc[1]})."

    def powershell(command: str) -> str:
        return f"Response: ran {command}\nStatus Code: 0"

    async def wait(duration: float) -> str:
        await asyncio.sleep(duration)
        return f"Waited for {duration} seconds."

    def scrape(url: str, use_dom: bool = False) -> str:
        return f"URL:{url}\nContent:\n{world.page(url)}"

    state_props = {"use_vision": {"type": "boolean", "default": False}}
    scrape_props = {"url": {"type": "string"}}
    if with_dom:
        state_props["use_dom"] = {"type": "boolean", "default": False}
        scrape_props["use_dom"] = {"type": "boolean", "default": False}
    direction = {"type": "string", "enum": ["up", "down", "left", "right"], "default": "down"}
    return [
        ToolSpec("State-Tool", "Capture the desktop state.", _schema(state_props), state),
        ToolSpec("Click-Tool", "Click at coordinates [x, y].", _schema(
            {"loc": _POINT, "button": {"type": "string", "enum": ["left", "right", "middle"],
                                       "default": "left"},
             "clicks": {"type": "integer", "default": 1}}, ("loc",)), click),
        ToolSpec("Scroll-Tool", "Scroll at coordinates or the pointer.", _schema(
            {"loc": {"anyOf": [_POINT, {"type": "null"}]},
             "type": {"type": "string", "enum": ["horizontal", "vertical"],
                      "default": "vertical"},
             "direction": direction, "wheel_times": {"type": "integer", "default": 1}}),
            scroll),
        ToolSpec("Move-Tool", "Move the mouse pointer.", _schema({"to_loc": _POINT},
                                                                 ("to_loc",)), move),
        ToolSpec("Powershell-Tool", "Run PowerShell.", _schema(
            {"command": {"type": "string"}}, ("command",)), powershell),
        ToolSpec("Wait-Tool", "Wait a number of seconds.", _schema(
            {"duration": {"type": "number"}}, ("duration",)), wait),
        ToolSpec("Scrape-Tool", "Fetch a web page as markdown.", _schema(scrape_props,
                                                                         ("url",)), scrape),
    ]


def old_specs(world: DesktopWorld) -> list[ToolSpec]:
    """The ``*-Tool`` generation with ``App-Tool`` (late 2025)."""

    def type_(loc: list[int], text: str, clear: bool = False, press_enter: bool = False) -> str:
        return f"Typed {text} at ({loc[0]},{loc[1]})."

    def drag(to_loc: list[int]) -> str:
        return f"Dragged the element to ({to_loc[0]},{to_loc[1]})."

    def shortcut(shortcut: str) -> str:
        return f"Pressed {shortcut}."

    def app(mode: str, name: str | None = None, window_loc: list[int] | None = None,
            window_size: list[int] | None = None) -> str:
        if mode == "switch" and name:
            world.focused_window = name
        return f"{mode} {name}: ok"

    return [*_old_common(world, with_dom=True), *[
        ToolSpec("Type-Tool", "Type text at coordinates [x, y].", _schema(
            {"loc": _POINT, "text": {"type": "string"},
             "clear": {"type": "boolean", "default": False},
             "press_enter": {"type": "boolean", "default": False}}, ("loc", "text")), type_),
        ToolSpec("Drag-Tool", "Drag from the current pointer position to [x, y].", _schema(
            {"to_loc": _POINT}, ("to_loc",)), drag),
        ToolSpec("Shortcut-Tool", 'Press keys joined by +, e.g. "ctrl+c".', _schema(
            {"shortcut": {"type": "string"}}, ("shortcut",)), shortcut),
        ToolSpec("App-Tool", "Launch, resize or switch applications.", _schema(
            {"mode": {"type": "string", "enum": ["launch", "resize", "switch"]},
             "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
             "window_loc": {"anyOf": [_POINT, {"type": "null"}]},
             "window_size": {"anyOf": [_POINT, {"type": "null"}]}}, ("mode",)), app),
    ], *_test_tools()]


def oldest_specs(world: DesktopWorld) -> list[ToolSpec]:
    """Mid-2025: ``Launch-Tool``, ``Switch-Tool``, ``Key-Tool``, ``Clipboard-Tool``."""

    def launch(name: str) -> str:
        world.focused_window = name
        return f"Launched {name.title()}."

    def switch(name: str) -> str:
        world.focused_window = name
        return f"Switched to {name.title()} window."

    def key(key: str = "") -> str:
        return f"Pressed the key {key}."

    def clipboard(mode: str, text: str | None = None) -> str:
        if mode == "copy":
            if not text:
                raise ToolError("No text provided to copy")
            world.clipboard = text
            return f'Copied "{text}" to clipboard'
        return f'Clipboard Content: "{world.clipboard}"'

    def type_(loc: list[int], text: str, clear: bool = False) -> str:
        return f"Typed {text} at ({loc[0]},{loc[1]})."

    def drag(from_loc: list[int], to_loc: list[int]) -> str:
        return (f"Dragged the element from ({from_loc[0]},{from_loc[1]}) to "
                f"({to_loc[0]},{to_loc[1]}).")

    def shortcut(shortcut: list[str]) -> str:
        return f"Pressed {'+'.join(shortcut)}."

    name = {"name": {"type": "string"}}
    return [*_old_common(world, with_dom=False), *[
        ToolSpec("Launch-Tool", "Launch an application from the Start Menu by name.",
                 _schema(name, ("name",)), launch),
        ToolSpec("Switch-Tool", "Bring an application window to the foreground.",
                 _schema(name, ("name",)), switch),
        ToolSpec("Key-Tool", 'Press one key ("enter", "escape", "f5" …).', _schema(
            {"key": {"type": "string", "default": ""}}), key),
        ToolSpec("Clipboard-Tool", 'Clipboard: mode "copy" with text, or "paste".', _schema(
            {"mode": {"type": "string", "enum": ["copy", "paste"]},
             "text": {"type": "string"}}, ("mode",)), clipboard),
        ToolSpec("Type-Tool", "Type text at coordinates [x, y].", _schema(
            {"loc": _POINT, "text": {"type": "string"},
             "clear": {"type": "boolean", "default": False}}, ("loc", "text")), type_),
        ToolSpec("Drag-Tool", "Drag from one point to another.", _schema(
            {"from_loc": _POINT, "to_loc": _POINT}, ("from_loc", "to_loc")), drag),
        ToolSpec("Shortcut-Tool", 'Press keys given as a list, e.g. ["ctrl", "c"].', _schema(
            {"shortcut": {"type": "array", "items": {"type": "string"}}}, ("shortcut",)),
            shortcut),
    ], *_test_tools()]


def build_server(names: str, rec: Recorder, *, focused_window: str = DEFAULT_FOCUSED_WINDOW,
                 pages: dict[str, str] | None = None) -> FakeWindowsMCP:
    """Build the fake server of one generation (``current``, ``old`` or ``oldest``).

    Args:
        names: the tool generation.
        rec: where calls are recorded.
        focused_window: the window title Snapshot reports under ``Focused Window:``.
        pages: url → page text for Scrape (a navigation-heavy page otherwise).
    """
    world = DesktopWorld(focused_window=focused_window, pages=dict(pages or {}))
    if names == "current":
        specs = [*current_specs(world), *_test_tools()]
        return FakeWindowsMCP("fake-windows-mcp", specs, rec, world)
    if names == "old":
        return FakeWindowsMCP("fake-windows-mcp-old", old_specs(world), rec, world)
    if names == "oldest":
        return FakeWindowsMCP("fake-windows-mcp-oldest", oldest_specs(world), rec, world)
    raise ValueError(f"names must be one of {', '.join(GENERATIONS)}, not {names!r}")


def build_current_server(rec: Recorder, *, focused_window: str = DEFAULT_FOCUSED_WINDOW
                         ) -> FakeWindowsMCP:
    """A server with Windows-MCP 0.8.8's recorded tools."""
    return build_server("current", rec, focused_window=focused_window)


def build_old_server(rec: Recorder) -> FakeWindowsMCP:
    """A server with the ``*-Tool`` names of the ``App-Tool`` generation."""
    return build_server("old", rec)


def build_oldest_server(rec: Recorder) -> FakeWindowsMCP:
    """A server with the mid-2025 names (``Launch-Tool``, ``Key-Tool`` …)."""
    return build_server("oldest", rec)


@dataclass
class HttpServerHandle:
    """A running streamable-HTTP fake: its URL, what it recorded and its desktop."""

    url: str
    recorder: Recorder
    world: DesktopWorld | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_http(names: str = "current", *, required_header: tuple[str, str] | None = None,
                     focused_window: str = DEFAULT_FOCUSED_WINDOW,
                     pages: dict[str, str] | None = None) -> AsyncIterator[HttpServerHandle]:
    """Run a fake server over streamable HTTP on 127.0.0.1 inside the current event loop.

    Args:
        names: ``current``, ``old`` or ``oldest``.
        required_header: if set, requests without this exact header get 401 (auth check).
        focused_window: the window title Snapshot reports as focused.
        pages: url → page text for Scrape.

    Yields:
        The URL (ending in ``/mcp/``), the recorder and the fake desktop.
    """
    import uvicorn
    from starlette.responses import JSONResponse

    rec = Recorder()
    fake = build_server(names, rec, focused_window=focused_window, pages=pages)
    app = fake.streamable_http_app(streamable_http_path="/mcp/")
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
        yield HttpServerHandle(url=f"http://127.0.0.1:{port}/mcp/", recorder=rec,
                               world=fake.world)
    finally:
        server.should_exit = True
        await task


def main() -> None:
    """Command line: run a fake server over stdio."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", choices=GENERATIONS, default="current")
    parser.add_argument("--transport", choices=["stdio"], default="stdio")
    parser.add_argument("--record", help="append every call as a JSON line to this file")
    parser.add_argument("--pid-file", help="write this process's pid here (shutdown tests)")
    parser.add_argument("--focused-window", default=DEFAULT_FOCUSED_WINDOW,
                        help="the window title Snapshot reports as focused")
    args = parser.parse_args()
    if args.pid_file:
        import os

        Path(args.pid_file).write_text(str(os.getpid()))
    server = build_server(args.names, Recorder(args.record), focused_window=args.focused_window)
    asyncio.run(server.run_stdio_async())


if __name__ == "__main__":
    main()
