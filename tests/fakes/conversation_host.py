"""A stand-in for the conversation the bridge's parts run in (``bridge.host.ConversationHost``).

It records what the parts send and ask for; its waits are the conversation's own
``StateSignal``, so a part under test blocks and wakes as it would in the bridge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from bridge.host import StateSignal


class Host:
    """Records events sent and responses requested; runs spawned tasks on the running loop."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.ended = False
        self.signal = StateSignal()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        return task

    async def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)

    async def request_response(self, *, instructions: str | None = None,
                               out_of_band: bool = False,
                               metadata: dict[str, str] | None = None) -> None:
        request: dict[str, Any] = {"instructions": instructions, "out_of_band": out_of_band}
        if metadata is not None:
            request["metadata"] = metadata
        self.requests.append(request)
        await self.notify()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        return await self.signal.wait_until(predicate, timeout_s)

    async def notify(self) -> None:
        await self.signal.notify()

    async def handle(self, event: Any) -> None:
        raise AssertionError("no part under test hands events back")

    def outputs(self) -> list[str]:
        return [e["item"]["call_id"] for e in self.sent
                if e["item"]["type"] == "function_call_output"]
