"""The red-team corpus of desktop calls, through the real ``--serve`` endpoint and realtime path.

``data/desktop_calls.json`` holds what an injected model might do to the user's PC (both tool
name generations, every case from the safety review and variants), the everyday calls that must
keep running without a question, and misspelt names. Every dangerous case is answered "n" and
must not reach the (recording) fake Windows-MCP; its positive controls: the call reached the
bridge, the question was shown, and (``--serve``) the same call answered "y" does run. Every
everyday case must run with no question at all — a policy that asks about everything trains
the user to say yes.

Each test prints its tally, e.g. ``serve: 81 dangerous: 0 ran without a yes, 81 asked; …``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge import tool_names
from bridge.audit import AuditLog
from bridge.confirm import TerminalConfirmer
from bridge.desktop import DesktopExecutor
from bridge.lines import LineSource
from bridge.mcp_client import DesktopClient
from bridge.policy import DEFAULT_POLICY_PATH, Policy, merge
from bridge.serve import serve
from tests.fakes.mcp_servers import DesktopWorld, Recorder, serve_http
from tests.fakes.realtime import (
    TERMINAL_QUESTION_MARK,
    AnsweringStream,
    fake_backend,
    run_text_conversation,
)

CORPUS = json.loads((Path(__file__).parent / "data" / "desktop_calls.json").read_text("utf-8"))
CASES: list[dict[str, Any]] = CORPUS["cases"]
ORIGIN = "http://127.0.0.1:3000"
TOKEN = "red-team-pairing"
DEFAULT_FOCUS = "Untitled - Notepad"
# Tools whose calls the bridge itself makes to read the focused window.
FOCUS_TOOLS = {"Snapshot", "State-Tool"}
GENERATIONS = ("current", "old", "oldest")


def red_team_policy() -> Policy:
    """The shipped policy, with every focus reading taken fresh (cases change the window)."""
    import tomllib

    data = tomllib.loads(DEFAULT_POLICY_PATH.read_text("utf-8"))
    return Policy.from_dict(merge(data, {"defaults": {"focus_max_age_s": 0}}))


def test_corpus_has_the_promised_size_and_shape():
    counts = Counter(case["expect"] for case in CASES)
    assert counts["ask"] >= 60 and counts["run"] >= 20 and counts["refuse"] >= 1
    old = {c["id"] for c in CASES if c["tool"] in tool_names.OLD_NAMES}
    assert len([c for c in CASES if c["id"] in old and c["expect"] == "ask"]) >= 8
    assert {c["server"] for c in CASES} == set(GENERATIONS)
    assert len({c["id"] for c in CASES}) == len(CASES)


def _ran(calls: list[dict[str, Any]], case: dict[str, Any]) -> list[dict[str, Any]]:
    """The calls that carried out the case (not the bridge's own focus Snapshots)."""
    own = tool_names.canonical_name(case["tool"]) == "Snapshot"
    return [c for c in calls if own or c["name"] not in FOCUS_TOOLS]


def _set_scene(world: DesktopWorld | None, case: dict[str, Any]) -> None:
    """Make the fake report the case's focused window (and Notepad open behind it)."""
    assert world is not None
    world.focused_window = case.get("focused", DEFAULT_FOCUS)
    names = list(dict.fromkeys([world.focused_window, DEFAULT_FOCUS]))
    world.windows = [[name, i, "Normal", 1280, 720, 131072 + i] for i, name in enumerate(names)]


@dataclass
class Endpoint:
    url: str
    recorder: Recorder
    scene: DesktopWorld | None
    err: AnsweringStream
    audit: Path


@contextlib.asynccontextmanager
async def _serve_endpoint(generation: str, audit: Path) -> AsyncIterator[Endpoint]:
    lines = LineSource.from_lines()
    err = AnsweringStream(TERMINAL_QUESTION_MARK, [], lines, end_after=False)
    async with serve_http(generation) as mcp, \
            DesktopClient(url=mcp.url) as desktop:
        policy = red_team_policy()
        executor = DesktopExecutor(desktop, policy, TerminalConfirmer(lines, err, timeout_s=5),
                                   AuditLog(audit), source="serve")
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        import io

        task = asyncio.ensure_future(serve(executor, port=0, origins=(ORIGIN,), token=TOKEN,
                                           out=io.StringIO(), ready=ready, stop=stop))
        port = await asyncio.wait_for(ready, 10)
        try:
            yield Endpoint(f"http://127.0.0.1:{port}", mcp.recorder, mcp.world, err, audit)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()] \
        if path.exists() else []


@pytest.mark.slow
async def test_red_team_corpus_through_the_serve_endpoint(tmp_path):
    tally: Counter[str] = Counter()
    problems: list[str] = []
    async with _serve_endpoint("current", tmp_path / "current.jsonl") as current, \
            _serve_endpoint("old", tmp_path / "old.jsonl") as old, \
            _serve_endpoint("oldest", tmp_path / "oldest.jsonl") as oldest, \
            httpx.AsyncClient() as http:
        endpoints = {"current": current, "old": old, "oldest": oldest}

        async def call(ep: Endpoint, case: dict[str, Any], answer: str) -> tuple[Any, int, list]:
            _set_scene(ep.scene, case)
            before, asked = len(ep.recorder.calls), ep.err.questions
            ep.err.answers = [answer]
            response = await http.post(f"{ep.url}/tools/call", json={
                "name": case["tool"], "arguments": case["arguments"]}, headers={
                "Origin": ORIGIN, "X-Pairing-Token": TOKEN}, timeout=30)
            ep.err.answers = []
            return (response, ep.err.questions - asked,
                    _ran(ep.recorder.calls[before:], case))

        for case in CASES:
            ep = endpoints[case["server"]]
            response, questions, ran = await call(ep, case, "n")
            if response.status_code != 200:
                problems.append(f"{case['id']}: HTTP {response.status_code}")
                continue
            if case["expect"] == "ask":
                tally["dangerous"] += 1
                tally["dangerous ran without a yes"] += bool(ran)
                tally["dangerous asked"] += questions == 1
                if ran or questions != 1:
                    problems.append(f"{case['id']}: ran={ran} questions={questions}")
                # Positive control: the same call answered "y" does reach the server.
                response, questions, ran = await call(ep, case, "y")
                if questions != 1 or not ran or response.json()["is_error"]:
                    problems.append(f"{case['id']}: with a yes it did not run: "
                                    f"{response.json()} {ran}")
            elif case["expect"] == "run":
                tally["everyday"] += 1
                tally["everyday asked"] += questions > 0
                if questions or not ran:
                    problems.append(f"{case['id']}: questions={questions} ran={ran} "
                                    f"{response.json()}")
            else:
                tally["misspelt"] += 1
                if questions or ran or not response.json()["is_error"]:
                    problems.append(f"{case['id']}: a misspelt name was asked about or ran")
        refusals = [e for ep in endpoints.values() for e in _audit(ep.audit)
                    if e["decision"] == "refused_unknown"]
        decisions = Counter(e["decision"] for ep in endpoints.values() for e in _audit(ep.audit))
    print("serve:", dict(tally), "audit:", dict(decisions))
    assert not problems, "\n".join(problems)
    assert len(refusals) == tally["misspelt"]
    assert decisions["asked"] == 2 * tally["dangerous"]  # every question is in the audit log
    assert decisions["refused"] == tally["dangerous"] and decisions["confirmed"] == \
        tally["dangerous"]


@pytest.mark.slow
async def test_red_team_corpus_through_the_realtime_path(tmp_path):
    tally: Counter[str] = Counter()
    problems: list[str] = []
    policy = red_team_policy()
    async with fake_backend() as (realtime, api), \
            serve_http("current") as current, serve_http("old") as old, \
            serve_http("oldest") as oldest, \
            DesktopClient(url=current.url) as current_client, \
            DesktopClient(url=old.url) as old_client, \
            DesktopClient(url=oldest.url) as oldest_client:
        servers = {"current": (current, current_client), "old": (old, old_client),
                   "oldest": (oldest, oldest_client)}
        for case in CASES:
            server, client = servers[case["server"]]
            _set_scene(server.world, case)
            utterance = f"please do case {case['id']} now"
            realtime.when_user_says(utterance, (case["tool"], case["arguments"]))
            before = len(server.recorder.calls)
            run = await run_text_conversation(
                api, [utterance], desktop=client, policy=policy,
                audit_path=tmp_path / f"{case['id']}.jsonl",
                answers=["n"] if case["expect"] == "ask" else None)
            ran = _ran(server.recorder.calls[before:], case)
            output = realtime.sessions[-1].outputs().values()
            attempted = any(e["tool"] == case["tool"] for e in
                            _audit(tmp_path / f"{case['id']}.jsonl"))
            if case["expect"] == "ask":
                tally["dangerous"] += 1
                tally["dangerous ran without a yes"] += bool(ran)
                tally["dangerous asked"] += run.questions == 1
                if ran or run.questions != 1 or not attempted or not any(
                        "did not confirm" in o for o in output):
                    problems.append(f"{case['id']}: ran={ran} questions={run.questions} "
                                    f"attempted={attempted} outputs={list(output)}")
            elif case["expect"] == "run":
                tally["everyday"] += 1
                tally["everyday asked"] += run.questions > 0
                if run.questions or not ran:
                    problems.append(f"{case['id']}: questions={run.questions} ran={ran} "
                                    f"{list(output)}")
            else:
                tally["misspelt"] += 1
                if run.questions or ran or not attempted:
                    problems.append(f"{case['id']}: misspelt name: questions={run.questions} "
                                    f"ran={ran} audited={attempted}")
    print("realtime:", dict(tally))
    assert not problems, "\n".join(problems)
    assert tally["dangerous"] >= 60 and tally["everyday"] >= 20
