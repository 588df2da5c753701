"""Connection to the local Windows-MCP server (stdio subprocess or streamable HTTP).

The MCP SDK's client is built on anyio task groups, which must be entered and left by the same
task; so one owner task holds the connection for its whole life and the other tasks only call
``call_tool`` on it.

The client offers no MCP sampling: Windows-MCP's ``Scrape`` is asked for ``use_sampling: false``
(see :mod:`bridge.tool_names`), and a server that asks anyway gets the SDK's refusal and
falls back to the raw page, which :func:`bridge.page_text.compact_page` cuts down for speech.

The SDK is imported on first use: it takes seconds to import, and a bridge without a desktop
server should start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
from dataclasses import dataclass, field
from typing import Any

from bridge.page_text import compact_page
from bridge.tool_names import canonical_name
from voice_agent import desktop_tools


class DesktopError(RuntimeError):
    """The desktop server could not be started or reached."""


@dataclass
class DesktopTool:
    """A tool the server offers, as the realtime session needs it."""

    name: str
    description: str
    parameters: dict[str, Any]
    # MCP annotations as the server sent them (readOnlyHint, destructiveHint, …).
    annotations: dict[str, Any] = field(default_factory=dict)

    def as_function_tool(self) -> dict[str, Any]:
        """The GA realtime function-tool shape (flat; no ``strict``), converted the same way as
        the catalogue's recorded tools (see :mod:`voice_agent.desktop_tools`)."""
        return desktop_tools.function_tool(self.name, self.description, self.parameters)


@dataclass
class ToolResult:
    """What a desktop tool returned: text parts, images (mime, base64) and the error flag."""

    text: str
    images: list[tuple[str, str]] = field(default_factory=list)
    is_error: bool = False


def _annotations(tool: Any) -> dict[str, Any]:
    raw = getattr(tool, "annotations", None)
    if raw is None:
        return {}
    if hasattr(raw, "model_dump"):
        return {k: v for k, v in raw.model_dump(by_alias=True).items() if v is not None}
    return dict(raw) if isinstance(raw, dict) else {}


def split_command(command: str, *, windows: bool | None = None) -> list[str]:
    """Split ``--mcp-command`` into the program and its arguments.

    POSIX rules would eat the backslashes of a Windows path (``C:\\Users\\me\\uvx.exe``), so
    on Windows the string is split on unquoted spaces and double quotes only group.

    Args:
        command: the command line as typed.
        windows: split the Windows way (default: on Windows).
    """
    if windows is None:
        windows = os.name == "nt"
    if not windows:
        return shlex.split(command)
    parts = shlex.split(command, posix=False)
    return [part[1:-1] if len(part) >= 2 and part[0] == part[-1] == '"' else part
            for part in parts]


def parse_header(value: str) -> tuple[str, str]:
    """Split ``"Name: value"`` into its parts.

    Raises:
        ValueError: no colon or an empty name.
    """
    name, sep, rest = value.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"header must look like 'Name: value', got {value!r}")
    return name.strip(), rest.strip()


class DesktopClient:
    """One Windows-MCP connection: ``start()`` connects and lists tools, ``close()`` ends it.

    Both are idempotent; ``close()`` also ends the stdio server process.
    """

    def __init__(self, *, command: str | None = None, url: str | None = None,
                 headers: dict[str, str] | None = None, server: Any = None,
                 connect_timeout_s: float = 60.0) -> None:
        """Configure the connection.

        Args:
            command: start the server as a subprocess and talk over stdio (split with shlex).
            url: a streamable-HTTP endpoint (``…/mcp/``).
            headers: extra HTTP headers for ``url`` (auth).
            server: an SDK server object to connect to in-process (tests, benchmarks).
            connect_timeout_s: how long starting and listing may take.
        """
        if sum(x is not None for x in (command, url, server)) != 1:
            raise ValueError("give exactly one of command, url or server")
        self._command = command
        self._url = url
        self._server = server
        self._headers = headers or {}
        self._connect_timeout_s = connect_timeout_s
        self._client: Any = None  # mcp.Client once connected
        self._owner: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stop = asyncio.Event()
        self.tools: list[DesktopTool] = []

    @property
    def names(self) -> set[str]:
        """The exact tool names the server offers."""
        return {tool.name for tool in self.tools}

    def _server_spec(self) -> Any:
        from mcp import StdioServerParameters
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        if self._server is not None:
            return self._server
        if self._command is not None:
            parts = split_command(self._command)
            if not parts:
                raise DesktopError("--mcp-command is empty")
            return StdioServerParameters(command=parts[0], args=parts[1:])
        assert self._url is not None
        http_client = create_mcp_http_client(headers=self._headers or None)
        return streamable_http_client(self._url, http_client=http_client)

    async def start(self) -> None:
        """Connect and discover the tools (``list_tools``); a second call does nothing.

        Raises:
            DesktopError: the server cannot be started or does not answer.
        """
        if self._owner is not None:
            if self._ready is not None:
                await asyncio.shield(self._ready)
            return
        self._ready = asyncio.get_running_loop().create_future()
        self._owner = asyncio.create_task(self._own(), name="mcp-owner")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self._connect_timeout_s)
        except TimeoutError as exc:
            await self.close()
            raise DesktopError(f"the desktop server did not answer within "
                               f"{self._connect_timeout_s:.0f} s") from exc
        except BaseException:
            await self.close()
            raise

    async def _own(self) -> None:
        from mcp import Client

        assert self._ready is not None
        try:
            in_process = self._server is not None
            async with Client(self._server_spec(), mode="auto" if in_process else "legacy"
                              ) as client:
                self._client = client
                listing = await client.list_tools()
                self.tools = [DesktopTool(t.name, t.description or t.name,
                                          dict(t.input_schema or {}), _annotations(t))
                              for t in listing.tools]
                self._ready.set_result(None)
                await self._stop.wait()
        except Exception as exc:  # the SDK raises many kinds; all mean "not reachable"
            if not self._ready.done():
                target = self._command or self._url
                self._ready.set_exception(
                    DesktopError(f"cannot start the desktop server ({target}): {exc!r}"))
        finally:
            self._client = None

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call one tool; MCP-level failures come back as an error result, not an exception."""
        client = self._client
        if client is None:
            return ToolResult("error: the desktop server is not connected", is_error=True)
        try:
            result = await client.call_tool(name, arguments)
        except Exception as exc:  # protocol errors, dead pipe, validation …
            return ToolResult(f"error: {name} failed: {exc}", is_error=True)
        texts: list[str] = []
        images: list[tuple[str, str]] = []
        for item in result.content:
            kind = getattr(item, "type", "")
            if kind == "text":
                texts.append(item.text)
            elif kind == "image":
                images.append((item.mime_type, item.data))
            else:
                texts.append(f"[{kind} content omitted]")
        text = "\n".join(texts)
        if canonical_name(name) == "Scrape" and not result.is_error:
            text = compact_page(text)
        return ToolResult(text, images, bool(result.is_error))

    async def close(self) -> None:
        """End the connection (and the stdio server process); safe to call twice."""
        self._stop.set()
        owner, self._owner = self._owner, None
        if owner is not None:
            try:
                await asyncio.wait_for(owner, 10)
            except TimeoutError:
                owner.cancel()
                with contextlib.suppress(BaseException):
                    await owner
            except Exception:
                pass

    async def __aenter__(self) -> DesktopClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
