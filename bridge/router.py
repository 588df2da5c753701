"""Routes the model's function calls to whoever executes them.

Memory and search tools go to our HTTP API (with the user's JWT), voice tools are handled
here, desktop tools go through :class:`~bridge.desktop.DesktopExecutor`. Every call yields
exactly one string output; nothing here raises for a failing tool.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from bridge.api_client import ApiClient, ApiError
from bridge.desktop import DesktopExecutor
from bridge.events import FunctionCall
from voice_agent import catalogue

NO_BROWSER_NOTE = ("acknowledged; note: this is the desktop bridge, there is no browser here, "
                   "so nothing changed on screen")


@dataclass
class ToolOutcome:
    """One call's answer: the output string, images for the model, and side effects."""

    output: str
    is_error: bool = False
    kind: str = "unknown"
    images: list[tuple[str, str]] = field(default_factory=list)
    end_conversation: bool = False


def _error(message: str, kind: str) -> ToolOutcome:
    return ToolOutcome(json.dumps({"error": message}), True, kind)


class ToolRouter:
    """Executes function calls of every kind."""

    def __init__(self, api: ApiClient, desktop: DesktopExecutor, *, err: TextIO | None = None
                 ) -> None:
        self.api = api
        self.desktop = desktop
        self._err = err or sys.stderr
        self._api_tools: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "search_memories": lambda a: api.search_memories(str(a["query"]), a.get("limit"),
                                                             a.get("filters")),
            "add_memories": lambda a: api.add_memories(a["messages"]),
            "get_all_memories": lambda a: api.get_all_memories(),
            "web_search": lambda a: api.web_search(str(a["query"])),
        }
        missing = {t["name"] for t in catalogue.API_TOOLS} - set(self._api_tools)
        assert not missing, f"API tools without a route: {missing}"

    def kind_of(self, name: str) -> str:
        """``api``, ``voice``, ``desktop`` or ``unknown``."""
        executor = catalogue.TOOL_EXECUTORS.get(name)
        if executor == "api":
            return "api"
        if executor == "client":
            return "voice"
        if self.desktop.handles(name) or executor == "desktop":
            return "desktop"
        return "unknown"

    async def execute(self, call: FunctionCall) -> ToolOutcome:
        """Run one call and return its single output."""
        kind = self.kind_of(call.name)
        try:
            arguments = call.parsed_arguments()
        except ValueError as exc:
            return _error(f"{call.name}: {exc}", kind)
        if kind == "api":
            return await self._run_api(call.name, arguments)
        if kind == "voice":
            return self._run_voice(call.name)
        if kind == "desktop":
            outcome = await self.desktop.run(call.name, arguments)
            return ToolOutcome(outcome.text, outcome.is_error, "desktop", outcome.images)
        if self.desktop.client is not None:
            # A misspelt or invented desktop name: never run, but audited like any refusal.
            self.desktop.refuse_unknown(call.name, arguments)
        return _error(f"unknown tool {call.name!r}; use only the tools in the session", kind)

    async def _run_api(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            result = await self._api_tools[name](arguments)
        except KeyError as exc:
            return _error(f"{name}: missing argument {exc}", "api")
        except ApiError as exc:
            if exc.is_auth:
                print(f"voice-agent bridge: {exc} (the API refused the token with "
                      f"{exc.status})", file=self._err, flush=True)
            return _error(str(exc), "api")
        return ToolOutcome(json.dumps(result, ensure_ascii=False), False, "api")

    def _run_voice(self, name: str) -> ToolOutcome:
        if name == "endConversation":
            return ToolOutcome(json.dumps({"status": "ending", "note": "say a short goodbye"}),
                               False, "voice", end_conversation=True)
        return ToolOutcome(json.dumps({"status": NO_BROWSER_NOTE}), False, "voice")
