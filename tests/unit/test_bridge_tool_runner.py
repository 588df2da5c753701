"""The tool runner with a stand-in conversation: concurrency, one answer per call, notices."""

from __future__ import annotations

import asyncio
import io

from bridge.context import ConversationLog
from bridge.events import FunctionCall
from bridge.router import ToolOutcome
from bridge.status import Metrics, StatusLine
from bridge.tool_runner import SLOW_NOTICE, ToolRunner
from bridge.turns import TurnCoordinator
from tests.fakes.conversation_host import Host


class GatedRouter:
    """Each call waits for its gate; records how many run at the same time."""

    def __init__(self, images: int = 0) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[str] = []
        self.running = self.most_at_once = 0
        self.images = images

    def gate(self, call_id: str) -> asyncio.Event:
        return self.gates.setdefault(call_id, asyncio.Event())

    async def execute(self, call: FunctionCall) -> ToolOutcome:
        self.started.append(call.call_id)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate(call.call_id).wait()
        finally:
            self.running -= 1
        return ToolOutcome(output=f"done {call.call_id}",
                           images=[("image/png", "iVBOR")] * self.images)


def runner(host: Host, turns: TurnCoordinator, router: GatedRouter, *,
           slow_notice_s: float = 60.0) -> ToolRunner:
    return ToolRunner(host, turns, router, log=ConversationLog(), metrics=Metrics(),
                      status=StatusLine(io.StringIO()), slow_notice_s=slow_notice_s,
                      idle_wait_s=2.0)


def call(call_id: str, response_id: str = "r1") -> FunctionCall:
    return FunctionCall(call_id=call_id, name="Click", arguments="{}", response_id=response_id)


async def settle(host: Host) -> None:
    await asyncio.gather(*host.tasks)


async def test_calls_run_concurrently_each_answered_once_then_one_follow_up():
    host, turns, router = Host(), TurnCoordinator(), GatedRouter(images=1)
    tools = runner(host, turns, router)
    for call_id in ("c1", "c2", "c3"):
        tools.start(call(call_id))
    tools.start(call("c2"))  # announced again by the other event: not run twice
    turns.response_done("r1")
    await asyncio.sleep(0)
    assert router.started == ["c1", "c2", "c3"] and router.most_at_once == 3
    for call_id in ("c3", "c1", "c2"):
        router.gate(call_id).set()
    await settle(host)
    assert sorted(host.outputs()) == ["c1", "c2", "c3"]  # exactly one output each
    images = [e for e in host.sent if e["item"]["type"] == "message"]
    assert len(images) == 3
    assert host.requests == [{"instructions": None, "out_of_band": False}]
    assert turns.idle


async def test_outputs_of_a_replaced_session_are_dropped():
    host, turns, router = Host(), TurnCoordinator(), GatedRouter()
    tools = runner(host, turns, router)
    tools.start(call("old"))
    await asyncio.sleep(0)
    turns.session_replaced()
    tools.start(call("new", "r2"))  # positive control in the new session
    turns.response_done("r2")
    router.gate("old").set()
    router.gate("new").set()
    await settle(host)
    assert host.outputs() == ["new"]
    assert len(host.requests) == 1 and turns.idle


async def test_slow_call_gets_one_out_of_band_notice_without_an_extra_output():
    host, turns, router = Host(), TurnCoordinator(), GatedRouter()
    tools = runner(host, turns, router, slow_notice_s=0.0)
    tools.start(call("c1"))
    turns.response_done("r1")
    await host.wait_until(lambda: bool(host.requests), 5.0)
    assert host.requests == [{"instructions": SLOW_NOTICE.format(tool="Click"),
                              "out_of_band": True}]
    router.gate("c1").set()
    await settle(host)
    assert host.outputs() == ["c1"]
    assert [r["out_of_band"] for r in host.requests] == [True, False]


async def test_fast_call_gets_no_notice():
    host, turns, router = Host(), TurnCoordinator(), GatedRouter()
    tools = runner(host, turns, router, slow_notice_s=60.0)
    router.gate("c1").set()
    tools.start(call("c1"))
    turns.response_done("r1")
    await settle(host)
    assert host.outputs() == ["c1"]
    assert host.requests == [{"instructions": None, "out_of_band": False}]
