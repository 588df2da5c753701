"""Bridge overhead per tool call, with a Windows-MCP fake that answers at once.

Two views of the same run:

* inside the bridge: from the moment a call is recognised in a received event to the moment its
  ``function_call_output`` is written to the socket (routing, policy, audit log, the MCP call,
  the reply), minus the MCP call alone (the same in-process fake called directly);
* on the wire: the fake realtime server's clock from emitting the call to receiving the output.
  Fake server and bridge share one event loop here, so this includes the fake's own work
  (sending the rest of the response, JSON) and is an upper bound.

Run: ``uv run python benchmarks/bench_bridge.py [--calls 300]``. Target: bridge overhead
p50 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.mcp_client import DesktopClient  # noqa: E402
from bridge.realtime import RealtimeConnection  # noqa: E402
from bridge.status import percentile  # noqa: E402
from bridge.tool_runner import ToolRunner  # noqa: E402
from tests.fakes.mcp_servers import Recorder, build_server  # noqa: E402
from tests.fakes.realtime import fake_backend, run_text_conversation  # noqa: E402


def instrument() -> tuple[dict[str, float], dict[str, float]]:
    """Timestamp call recognition and output sending inside the bridge (benchmark only)."""
    seen: dict[str, float] = {}
    sent: dict[str, float] = {}
    start_call = ToolRunner.start
    send = RealtimeConnection.send

    def timed_start(self, call):  # type: ignore[no-untyped-def]
        seen.setdefault(call.call_id, time.perf_counter())
        start_call(self, call)

    async def timed_send(self, event):  # type: ignore[no-untyped-def]
        result = await send(self, event)
        item = event.get("item") or {}
        if item.get("type") == "function_call_output":
            sent[item["call_id"]] = time.perf_counter()
        return result

    ToolRunner.start = timed_start  # type: ignore[method-assign]
    RealtimeConnection.send = timed_send  # type: ignore[method-assign]
    return seen, sent


async def measure(calls: int) -> None:
    """Run ``calls`` turns, each with one Click call, and print the figures."""
    seen, sent = instrument()
    server = build_server("current", Recorder())
    async with DesktopClient(server=server) as desktop:
        # The MCP call alone (same fake, same client), for the baseline.
        direct = []
        for _ in range(max(50, calls // 2)):
            start = time.perf_counter()
            await desktop.call_tool("Click", {"loc": [1, 2]})
            direct.append((time.perf_counter() - start) * 1000)

        async with fake_backend() as (realtime, api):
            rule = realtime.when_user_says("click", ("Click", {"loc": [1, 2]}))
            rule.once = False
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                run = await run_text_conversation(
                    api, [f"click {i}" for i in range(calls)], desktop=desktop,
                    audit_path=Path(tmp) / "audit.jsonl", timeout_s=600)
                wall_s = time.perf_counter() - started
            session = realtime.sessions[0]
            round_trip = [(session.output_received_at[c] - t) * 1000
                          for c, t in session.call_sent_at.items()
                          if c in session.output_received_at]
    assert run.code == 0 and len(round_trip) == calls, (run.code, len(round_trip))
    inside = [(sent[c] - t) * 1000 for c, t in seen.items() if c in sent]
    base50, base95 = percentile(direct, 50), percentile(direct, 95)
    in50, in95 = percentile(inside, 50), percentile(inside, 95)
    rt50, rt95 = percentile(round_trip, 50), percentile(round_trip, 95)
    print(f"tool calls: {calls} (one Click per turn, in-process fake MCP, audit log on)")
    print(f"MCP call alone:                        p50 {base50:.2f} ms, p95 {base95:.2f} ms")
    print(f"in the bridge, call seen → output sent: p50 {in50:.2f} ms, p95 {in95:.2f} ms")
    # The MCP call's median is subtracted from both percentiles: a difference of two p95s of
    # independent samples means nothing.
    print(f"bridge overhead (minus MCP median):     p50 {in50 - base50:.2f} ms, "
          f"p95 {in95 - base50:.2f} ms  (target p50 ≤ 5 ms)")
    print(f"on the wire, fake server's clock:       p50 {rt50:.2f} ms, p95 {rt95:.2f} ms "
          "(includes the fake's own work in the same loop)")
    print(f"whole run: {wall_s:.2f} s for {calls} turns "
          f"({wall_s / calls * 1000:.1f} ms per turn incl. fake replies)")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    asyncio.run(measure(parser.parse_args().calls))


if __name__ == "__main__":
    main()
