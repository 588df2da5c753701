"""The bridge's text conversation against the fake realtime server, API and Windows-MCP."""

from __future__ import annotations

import json

import pytest

from tests.fakes.mcp_servers import serve_http
from tests.fakes.realtime import fake_backend, run_text_conversation


@pytest.fixture
async def backend():
    async with fake_backend() as pair:
        yield pair


async def test_text_message_reply_printed_and_session_configured(backend):
    realtime, api = backend
    run = await run_text_conversation(api, ["hello there"])
    assert run.code == 0
    assert "You said: hello there" in run.stdout
    session = realtime.sessions[0]
    update = session.of_type("session.update")[0]["session"]
    assert update["type"] == "realtime"
    assert update["output_modalities"] == ["text"]
    names = {t["name"] for t in update["tools"]}
    assert {"search_memories", "add_memories", "get_all_memories", "web_search",
            "endConversation", "changeBrowserTheme", "executeAppAction"} <= names
    assert session.authorization == "Bearer ek_test_1"
    assert api.calls_to("/api/voice-agent")[0].authorization == "Bearer jwt-test"
    assert realtime.violations == []


async def test_memory_and_search_tools_call_the_api_with_the_jwt(backend):
    realtime, api = backend
    realtime.when_user_says("remember", ("search_memories", {"query": "name", "limit": 3,
                                                             "filters": {"source": "user"}}),
                            ("add_memories", {"messages": "I like tea"}),
                            ("get_all_memories", {}), ("web_search", {"query": "weather"}))
    run = await run_text_conversation(api, ["remember this"])
    assert run.code == 0
    assert api.calls_to("/api/memory/search")[0].body == {"query": "name", "limit": 3,
                                                           "filters": {"source": "user"}}
    memory_calls = {c.method: c for c in api.calls_to("/api/memory")}  # concurrent: any order
    assert sorted(memory_calls) == ["GET", "POST"]
    # What the model stores is marked as the assistant's, so the user can review it.
    assert memory_calls["POST"].body == {"messages": "I like tea",
                                         "metadata": {"source": "assistant"}}
    assert api.calls_to("/api/search")[0].body == {"query": "weather"}
    assert all(c.authorization == "Bearer jwt-test" for c in api.calls)
    session = realtime.sessions[0]
    outputs = session.outputs_by_name()
    assert len(outputs) == 4
    assert json.loads(outputs["search_memories"])["results"][0]["memory"] == "Name is Sam"
    assert json.loads(outputs["add_memories"]) == {"status": "queued", "job_id": "job_1"}
    assert json.loads(outputs["web_search"])["answer"] == "It is sunny."
    # Four calls in one response: exactly one follow-up response.create.
    assert len(session.of_type("response.create")) == 2
    assert "Tool results:" in run.stdout
    assert realtime.violations == []


async def test_expired_token_on_a_tool_gives_clear_output_and_stderr(backend):
    realtime, api = backend
    realtime.when_user_says("search", ("web_search", {"query": "x"}))
    api.fail["/api/search"] = 401
    run = await run_text_conversation(api, ["search please"])
    output = next(iter(realtime.sessions[0].outputs().values()))
    assert "the sign-in has expired: get a new token" in json.loads(output)["error"]
    assert "sign-in has expired" in run.stderr


async def test_expired_token_at_mint_exits_non_zero(backend):
    realtime, api = backend
    run = await run_text_conversation(api, ["hi"], token="wrong")
    assert run.code == 2
    assert "sign-in has expired" in run.stderr
    assert realtime.sessions == []


async def test_unknown_tool_and_bad_json_get_error_outputs_and_conversation_continues(backend):
    realtime, api = backend
    realtime.when_user_says("go", ("noSuchTool", {}), ("web_search", "{not json"))
    run = await run_text_conversation(api, ["go", "and again"])
    outputs = realtime.sessions[0].outputs_by_name()
    assert "unknown tool" in json.loads(outputs["noSuchTool"])["error"]
    assert "not valid JSON" in json.loads(outputs["web_search"])["error"]
    assert "You said: and again" in run.stdout
    assert run.code == 0


async def test_voice_tools_are_acknowledged_locally(backend):
    realtime, api = backend
    realtime.when_user_says("dark", ("changeBrowserTheme", {"theme": "dark"}),
                            ("executeAppAction", {"intent": "open_memory"}))
    await run_text_conversation(api, ["dark mode"])
    outputs = list(realtime.sessions[0].outputs().values())
    assert all("no browser here" in o for o in outputs)


async def test_end_conversation_ends_after_the_goodbye_reply(backend):
    realtime, api = backend
    realtime.when_user_says("bye", ("endConversation", {}))
    run = await run_text_conversation(api, ["bye", "this line is never sent"])
    assert run.code == 0
    assert "Tool results:" in run.stdout  # the goodbye reply was printed
    texts = [e["item"] for e in realtime.sessions[0].of_type("conversation.item.create")
             if e["item"].get("type") == "message"]
    assert all("never sent" not in json.dumps(t) for t in texts)


async def test_desktop_tools_discovered_and_routed_over_http(backend, tmp_path):
    realtime, api = backend
    realtime.when_user_says("click", ("Click", {"loc": [10, 20]}),
                            ("Type", {"loc": [1, 2], "text": "hi"}))
    async with serve_http("current") as server:
        from bridge.mcp_client import DesktopClient

        async with DesktopClient(url=server.url) as desktop:
            run = await run_text_conversation(api, ["click it"], desktop=desktop,
                                              audit_path=tmp_path / "audit.jsonl")
    assert run.code == 0
    # The two calls of one response run concurrently: order is not guaranteed.
    assert sorted(c["name"] for c in server.recorder.calls) == ["Click", "Type"]
    tools = realtime.sessions[0].of_type("session.update")[0]["session"]["tools"]
    names = [t["name"] for t in tools]
    assert "Snapshot" in names and "Clipboard" in names and "search_memories" in names
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sorted((a["tool"], a["decision"], a["status"]) for a in audit) == [
        ("Click", "allowed", "ok"), ("Type", "allowed", "ok")]
    assert realtime.violations == []


async def test_refused_response_create_does_not_wedge_the_turn(backend):
    realtime, api = backend
    realtime.refuse_responses = 1
    run = await run_text_conversation(api, ["first", "second"], end_wait_s=1.0)
    assert run.code == 0
    assert "realtime error: Conversation already has an active response" in run.stderr
    assert "You said: second" in run.stdout
    assert all(e.get("event_id") for e in realtime.sessions[0].of_type("response.create"))
