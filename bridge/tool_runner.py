"""Runs the model's function calls: concurrently, one answer each, a notice when one is slow.

Each call runs in its own task. When it finishes, its ``function_call_output`` (and any
screenshot) is sent, unless the realtime session it belonged to has been replaced meanwhile:
the new session does not know that ``call_id``. When a call is still running after
``slow_notice_s``, the assistant is asked (out of band, no tools) to say it is working on it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from bridge import client_events
from bridge.context import ConversationLog
from bridge.events import FunctionCall
from bridge.host import ConversationHost
from bridge.router import ToolOutcome
from bridge.status import Metrics, StatusLine
from bridge.turns import Batch, TurnCoordinator

SLOW_NOTICE = ("A tool ({tool}) is still running. In one short sentence tell the user you are "
               "working on it. Do not call any tool.")


class CallExecutor(Protocol):
    """Runs one call to its outcome (:class:`bridge.router.ToolRouter` in the bridge)."""

    async def execute(self, call: FunctionCall) -> ToolOutcome:
        """Run ``call``; failures are outcomes, not exceptions."""
        ...


class ToolRunner:
    """Starts, times and answers function calls for a conversation."""

    def __init__(self, host: ConversationHost, turns: TurnCoordinator, router: CallExecutor, *,
                 log: ConversationLog, metrics: Metrics, status: StatusLine,
                 slow_notice_s: float, idle_wait_s: float) -> None:
        self.host = host
        self.turns = turns
        self.router = router
        self.log = log
        self.metrics = metrics
        self.status = status
        self.slow_notice_s = slow_notice_s
        self.idle_wait_s = idle_wait_s

    def start(self, call: FunctionCall) -> None:
        """Run ``call`` unless it already runs (calls are announced twice)."""
        batch = self.turns.call_announced(call)
        if batch is not None:
            self.host.spawn(self._run(call, batch), f"call-{call.name}")

    async def _run(self, call: FunctionCall, batch: Batch) -> None:
        started = time.monotonic()
        self.status.set(f"running tool {call.name}")
        finished = asyncio.Event()
        # A timer rather than a watcher task: most calls finish long before it fires.
        notice = asyncio.get_running_loop().call_later(
            self.slow_notice_s, self._start_slow_notice, call.name, finished)
        try:
            outcome = await self.router.execute(call)
        finally:
            notice.cancel()
            finished.set()
            current = self.turns.call_finished(batch)
        self.metrics.record_tool(call.name, (time.monotonic() - started) * 1000)
        self.log.add_tool(call.name, not outcome.is_error)
        if not current:
            return  # the session this call belonged to is gone; its call_id is unknown now
        await self.host.send(client_events.function_output(call.call_id, outcome.output))
        for mime, data in outcome.images:
            await self.host.send(client_events.user_image(
                mime, data, f"Screenshot returned by {call.name} (call {call.call_id})."))
        if self.turns.call_answered(batch, call.call_id,
                                    ends_conversation=outcome.end_conversation):
            await self.host.request_response()
        await self.host.notify()

    def _start_slow_notice(self, tool: str, finished: asyncio.Event) -> None:
        if not finished.is_set() and not self.host.ended:
            self.host.spawn(self._slow_notice(tool, finished), "slow-notice")

    async def _slow_notice(self, tool: str, finished: asyncio.Event) -> None:
        """Let the assistant say it is working while a slow call runs (no extra output)."""
        if not await self.host.wait_until(
                lambda: self.turns.may_request or finished.is_set(), self.idle_wait_s):
            return
        if finished.is_set() or self.host.ended:
            return
        await self.host.request_response(instructions=SLOW_NOTICE.format(tool=tool),
                                         out_of_band=True)
