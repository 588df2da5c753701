"""A desktop call through the bridge, with the fake Windows-MCP over stdio, against the floor.

All in one run, with the same fake server (``tests/fakes/mcp_servers.py``) as a subprocess:

* reference: one raw stdio JSON-RPC exchange (``tools/call`` Click written as one line to the
  server's stdin, its answer read from stdout), no MCP client library;
* the bridge's MCP client (``bridge.mcp_client.DesktopClient``) calling Click over stdio;
* the whole desktop call inside the bridge: from the call recognised in a received realtime
  event to its ``function_call_output`` sent (routing, policy, audit log, the MCP call).

    uv run python benchmarks/bench_desktop_call.py [--calls 200]

Target (issue table): the bridge's desktop call p50 ≤ 3 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_bridge import instrument  # noqa: E402

from bridge.mcp_client import DesktopClient  # noqa: E402
from bridge.status import percentile  # noqa: E402
from tests.fakes.realtime import fake_backend, run_text_conversation  # noqa: E402

SERVER = [sys.executable, str(REPO / "tests" / "fakes" / "mcp_servers.py"), "--names", "current"]
CLICK = {"name": "Click", "arguments": {"loc": [1, 2]}}


async def raw_exchanges(count: int) -> list[float]:
    """Milliseconds of raw ``tools/call`` exchanges over the server's stdio."""
    process = await asyncio.create_subprocess_exec(
        *SERVER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    async def request(message_id: int, method: str, params: dict[str, object]) -> None:
        line = {"jsonrpc": "2.0", "id": message_id, "method": method, "params": params}
        stdin.write(json.dumps(line).encode() + b"\n")
        await stdin.drain()
        while True:
            answer = json.loads(await stdout.readline())
            if answer.get("id") == message_id:
                return

    await request(
        0,
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    )
    stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
    times = []
    for i in range(1, count + 21):
        started = time.perf_counter()
        await request(i, "tools/call", CLICK)
        if i > 20:
            times.append((time.perf_counter() - started) * 1000)
    stdin.close()
    await process.wait()
    return times


async def measure(calls: int) -> None:
    """Runs the three measurements and prints them."""
    raw = await raw_exchanges(calls)
    seen, sent = instrument()
    async with DesktopClient(command=" ".join(SERVER)) as desktop:
        client = []
        for i in range(calls + 20):
            started = time.perf_counter()
            await desktop.call_tool("Click", {"loc": [1, 2]})
            if i >= 20:
                client.append((time.perf_counter() - started) * 1000)
        async with fake_backend() as (realtime, api):
            rule = realtime.when_user_says("click", ("Click", {"loc": [1, 2]}))
            rule.once = False
            with tempfile.TemporaryDirectory() as tmp:
                run = await run_text_conversation(
                    api,
                    [f"click {i}" for i in range(calls)],
                    desktop=desktop,
                    audit_path=Path(tmp) / "audit.jsonl",
                    timeout_s=600,
                )
    assert run.code == 0, run.code
    inside = [(sent[c] - t) * 1000 for c, t in seen.items() if c in sent]
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {calls} Click calls "
        "each; fake Windows-MCP over stdio (a subprocess), audit log on"
    )
    for name, times in (
        ("one raw stdio JSON-RPC exchange (reference)", raw),
        ("bridge MCP client call_tool over stdio", client),
        ("desktop call in the bridge (event -> output sent)", inside),
    ):
        print(
            f"  {name:52s} p50 {statistics.median(times):6.2f} ms  "
            f"p95 {percentile(times, 95):6.2f} ms"
        )
    print(
        f"  bridge call minus raw exchange, p50: "
        f"{statistics.median(inside) - statistics.median(raw):.2f} ms (target: call <= 3 ms)"
    )


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(measure(parser.parse_args().calls))


if __name__ == "__main__":
    main()
