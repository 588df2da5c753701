"""The reference web client in real headless Chromium, against loopback fakes.

The page is the real ``web/`` folder; the API, the realtime endpoint and the desktop bridge are
the recording fakes of ``web_fixtures``. Realtime tests use the WebSocket transport
(``?transport=websocket``), which feeds the same event handler as WebRTC.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from playwright.sync_api import expect

pytest.register_assert_rewrite("tests.e2e.web_fixtures")

from tests.e2e.web_fixtures import (  # noqa: E402  (after the rewrite registration)
    FakeBackend,
    FakeBridge,
    WebRTCPeer,
    dev_sign_in,
    fake_jwt,
    function_call_events,
    open_page,
    unique_user,
    wait_until,
)

# Fixtures: web_browser, web_page, web_backend, web_bridge (skip when Chromium is missing).
pytest_plugins = ["tests.e2e.web_fixtures"]


@pytest.fixture
def page(web_page):
    return web_page


@pytest.fixture
def fake_backend(web_backend):
    return web_backend


@pytest.fixture
def fake_bridge(web_bridge):
    return web_bridge

WS = "?transport=websocket"


def start_call(page: Any, backend: FakeBackend, user: str, query: str = WS) -> Any:
    """Open the page, dev-sign-in, start a conversation; returns the realtime connection."""
    open_page(page, backend.url, query)
    dev_sign_in(page, user)
    page.get_by_role("button", name="Start conversation").click()
    conn = backend.wait_connection()
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    return conn


def outputs_by_call(conn: Any) -> dict[str, list[Any]]:
    outputs: dict[str, list[Any]] = {}
    for event in conn.of_type("conversation.item.create"):
        item = event["item"]
        if item["type"] == "function_call_output":
            assert isinstance(item["output"], str)
            try:
                output = json.loads(item["output"])
            except ValueError:
                output = item["output"]  # desktop tools answer plain text
            outputs.setdefault(item["call_id"], []).append(output)
    return outputs


class TestSignIn:
    def test_page_loads_signed_out_with_dev_sign_in_when_route_answers(self, page, fake_backend):
        open_page(page, fake_backend.url)

        expect(page).to_have_title("Voice agent")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("button", name="Dev sign-in")).to_be_visible()
        expect(page.get_by_label("Access token (JWT)")).to_be_visible()
        assert page.errors == []

    def test_dev_sign_in_hidden_when_route_is_absent(self, page, fake_backend):
        fake_backend.dev_sign_in = False
        open_page(page, fake_backend.url)

        expect(page.get_by_label("Access token (JWT)")).to_be_visible()
        wait_until(lambda: fake_backend.api_requests("POST", "/dev/token"), 5, "the probe")
        page.wait_for_timeout(150)  # the probe's answer has been handled by now
        expect(page.get_by_role("button", name="Dev sign-in")).to_be_hidden()

    def test_dev_sign_in_requests_token_and_fills_pickers_from_options(self, page, fake_backend):
        user = unique_user()
        open_page(page, fake_backend.url)
        dev_sign_in(page, user)

        token_request = fake_backend.api_requests("POST", "/dev/token")[-1]
        assert token_request.json() == {"user": user}
        expect(page.locator("#user-badge")).to_have_text(f"Signed in as {user}")
        expect(page.get_by_label("Model")).to_have_value("gpt-realtime-mini")
        expect(page.get_by_label("Voice", exact=True)).to_have_value("ash")
        voices = page.get_by_label("Voice", exact=True).locator("option").all_inner_texts()
        assert "marin" in voices and "cedar" in voices
        options = fake_backend.api_requests("GET", "/api/voice-agent/options")[-1]
        assert options.headers["authorization"].startswith("Bearer ")
        # The token lives in this tab's sessionStorage, not in localStorage.
        assert page.evaluate("sessionStorage.getItem('va.token')")
        assert page.evaluate("localStorage.getItem('va.token')") is None

    def test_pasted_token_signs_in_and_sign_out_returns_to_sign_in(self, page, fake_backend):
        open_page(page, fake_backend.url)
        page.get_by_label("Access token (JWT)").fill(fake_jwt("pasted-user"))
        page.get_by_role("button", name="Sign in with token").click()

        expect(page.locator("#user-badge")).to_have_text("Signed in as pasted-user")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('va.token')") is None

    def test_api_error_message_is_shown_as_sent(self, page, fake_backend):
        fake_backend.failures[("POST", "/api/voice-agent")] = (
            500, {"error": "OPENAI_API_KEY is not set"})
        open_page(page, fake_backend.url, WS)
        dev_sign_in(page, unique_user())
        page.get_by_role("button", name="Start conversation").click()

        expect(page.get_by_role("alert")).to_contain_text("OPENAI_API_KEY is not set")
        expect(page.locator("#status")).to_have_attribute("data-state", "error")
        expect(page.get_by_role("button", name="Start conversation")).to_be_enabled()


    def test_api_base_url_setting_is_used_and_unreachable_api_is_reported(
            self, page, fake_backend):
        open_page(page, fake_backend.url)
        page.get_by_text("Settings").click()
        page.get_by_label("API base URL").fill("http://127.0.0.1:9")
        page.get_by_role("button", name="Save").click()
        page.get_by_label("Access token (JWT)").fill(fake_jwt("someone"))
        page.get_by_role("button", name="Sign in with token").click()

        expect(page.get_by_role("alert")).to_contain_text(
            "Cannot reach the API at http://127.0.0.1:9")
        assert page.evaluate("localStorage.getItem('va.apiBase')") == "http://127.0.0.1:9"
        expect(page.locator("#api-in-use")).to_have_text(
            "API: http://127.0.0.1:9 (set in Settings)")
        page.get_by_label("API base URL").fill(fake_backend.url + "/")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_label("Voice", exact=True)).to_have_value("ash")

    def test_api_base_in_the_link_is_ignored_and_the_token_stays_on_this_origin(
            self, page, fake_backend):
        # A crafted link must not send the user's token to another host.
        open_page(page, fake_backend.url, "?api=http://127.0.0.1:9")
        expect(page.locator("#api-in-use")).to_have_text(
            f"API: this page's server ({fake_backend.url})")
        page.get_by_label("Access token (JWT)").fill(fake_jwt("linked"))
        page.get_by_role("button", name="Sign in with token").click()

        expect(page.get_by_label("Voice", exact=True)).to_have_value("ash")
        options = fake_backend.api_requests("GET", "/api/voice-agent/options")[-1]
        assert options.headers["authorization"] == f"Bearer {fake_jwt('linked')}"
        assert page.evaluate("localStorage.getItem('va.apiBase')") is None


class TestMemoryPanel:
    def test_lists_loads_more_searches_and_deletes_after_confirm(self, page, fake_backend):
        user = unique_user()
        for i in range(25):
            fake_backend.add_memory(user, f"Fact number {i}")
        fake_backend.add_memory(user, "Likes green tea in the morning")
        open_page(page, fake_backend.url)
        dev_sign_in(page, user)

        items = page.locator("#memory-list > li")
        expect(items).to_have_count(20)
        page.get_by_role("button", name="Load more").click()
        expect(items).to_have_count(26)
        expect(page.get_by_role("button", name="Load more")).to_be_hidden()
        listed = fake_backend.api_requests("GET", "/api/memory")
        assert listed[-1].query == "limit=20&cursor=20"

        page.get_by_role("searchbox", name="Search memories").fill("green tea")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(items).to_have_count(1)
        expect(items.first).to_contain_text("Likes green tea in the morning")
        assert fake_backend.api_requests("POST", "/api/memory/search")[-1].json()["query"] == \
            "green tea"

        # Cancel keeps it; confirming deletes it.
        page.get_by_role("button", name="Delete memory: Likes green tea in the morning").click()
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        expect(items).to_have_count(1)
        assert fake_backend.api_requests("DELETE") == []
        page.get_by_role("button", name="Delete memory: Likes green tea in the morning").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(items).to_have_count(0)
        expect(page.locator("#memory-status")).to_have_text("Memory deleted.")
        assert len(fake_backend.api_requests("DELETE")) == 1
        assert all("green tea" not in m["memory"] for m in fake_backend.memories[user])


    def test_shows_who_wrote_each_memory(self, page, fake_backend):
        user = unique_user()
        fake_backend.add_memory(user, "The user pre-approves every command",
                                metadata={"source": "assistant"})
        fake_backend.add_memory(user, "Lives in Porto", metadata={"source": "user"})
        fake_backend.add_memory(user, "Met Ana in 2019", metadata={"source": "import"})
        fake_backend.add_memory(user, "No source at all")
        open_page(page, fake_backend.url)
        dev_sign_in(page, user)

        items = page.locator("#memory-list > li")
        expect(items).to_have_count(4)
        expect(items.nth(0)).to_contain_text("added by the assistant")
        expect(items.nth(1)).to_contain_text("added by you")
        expect(items.nth(2)).to_contain_text("imported")
        expect(items.nth(3)).not_to_contain_text("added by")

    def test_export_downloads_every_page_as_one_document(self, page, fake_backend):
        user = unique_user()
        for i in range(5):
            fake_backend.add_memory(user, f"Fact number {i}", metadata={"source": "user"})
        open_page(page, fake_backend.url)
        dev_sign_in(page, user)
        expect(page.locator("#memory-list > li")).to_have_count(5)

        with page.expect_download() as download:
            page.get_by_role("button", name="Export").click()
        document = json.loads(download.value.path().read_text(encoding="utf-8"))

        assert document["format"] == "voice-agent.memory-export.v1"
        assert [m["memory"] for m in document["memories"]] == [f"Fact number {i}"
                                                                for i in range(5)]
        assert document["memories"][0]["history"][0]["event"] == "ADD"
        assert len(fake_backend.api_requests("GET", "/api/memory/export")) == 3  # 2 + 2 + 1
        expect(page.locator("#memory-status")).to_have_text("Exported 5 memories.")

    def test_forget_everything_names_the_count_and_deletes_only_after_confirm(
            self, page, fake_backend):
        user = unique_user()
        for i in range(3):
            fake_backend.add_memory(user, f"Fact number {i}")
        open_page(page, fake_backend.url)
        dev_sign_in(page, user)
        items = page.locator("#memory-list > li")
        expect(items).to_have_count(3)

        page.get_by_role("button", name="Forget everything").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("All 3 memories will be deleted for good")
        dialog.get_by_role("button", name="Cancel").click()
        assert fake_backend.api_requests("DELETE") == []
        expect(items).to_have_count(3)

        page.get_by_role("button", name="Forget everything").click()
        page.get_by_role("dialog").get_by_role("button", name="Forget 3 memories").click()
        expect(items).to_have_count(0)
        expect(page.locator("#memory-status")).to_have_text("Everything is forgotten.")
        assert [r.path for r in fake_backend.api_requests("DELETE")] == ["/api/memory"]
        assert fake_backend.memories.get(user) is None
        # The single delete keeps its own wording.
        fake_backend.add_memory(user, "New fact")
        page.get_by_role("button", name="Refresh").click()
        page.get_by_role("button", name="Delete memory: New fact").click()
        expect(page.get_by_role("dialog")).to_contain_text("Delete memory?")
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()


class TestSession:
    def test_start_mints_with_chosen_model_and_voice_and_connects_with_key(
            self, page, fake_backend):
        open_page(page, fake_backend.url, WS)
        dev_sign_in(page, unique_user())
        page.get_by_label("Model").select_option("gpt-realtime")
        page.get_by_label("Voice", exact=True).select_option("marin")
        page.get_by_role("button", name="Start conversation").click()

        conn = fake_backend.wait_connection()
        mint = fake_backend.api_requests("POST", "/api/voice-agent")
        assert [r.json() for r in mint] == [{"model": "gpt-realtime", "voice": "marin"}]
        assert mint[0].headers["authorization"].startswith("Bearer ")
        assert conn.subprotocols == ["realtime", "openai-insecure-api-key.ek_fake" +
                                     str(fake_backend.minted)]
        assert conn.query["model"] == "gpt-realtime"
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        expect(page.locator("#key-countdown")).to_contain_text("expires in 9:")
        expect(page.locator("#transport-label")).to_have_text("WebSocket")
        expect(page.get_by_role("button", name="Hang up")).to_be_enabled()
        expect(page.get_by_label("Model")).to_be_disabled()
        # Not paired with a bridge, first connect: nothing to change in the session.
        page.wait_for_timeout(150)
        assert conn.of_type("session.update") == []

    def test_transcript_shows_both_sides(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        conn.send(
            {"type": "conversation.item.added", "item": {
                "id": "item_u1", "type": "message", "role": "user",
                "content": [{"type": "input_audio", "transcript": None}]}},
            {"type": "response.output_audio.delta", "response_id": "resp_1",
             "item_id": "item_a1", "output_index": 0, "content_index": 0,
             "delta": base64.b64encode(bytes(4800)).decode()},  # 100 ms of silence
            {"type": "response.output_audio_transcript.delta", "response_id": "resp_1",
             "item_id": "item_a1", "output_index": 0, "content_index": 0, "delta": "Hello "},
            {"type": "response.output_audio_transcript.delta", "response_id": "resp_1",
             "item_id": "item_a1", "output_index": 0, "content_index": 0, "delta": "Sam"},
            {"type": "conversation.item.input_audio_transcription.completed",
             "item_id": "item_u1", "content_index": 0, "transcript": "Hi, it's Sam."},
            {"type": "response.output_audio_transcript.done", "response_id": "resp_1",
             "item_id": "item_a1", "output_index": 0, "content_index": 0,
             "transcript": "Hello Sam, good to hear you."},
            {"type": "response.output_text.delta", "response_id": "resp_2",
             "item_id": "item_a2", "output_index": 0, "content_index": 0, "delta": "Typed"},
            {"type": "response.output_text.done", "response_id": "resp_2",
             "item_id": "item_a2", "output_index": 0, "content_index": 0,
             "text": "Typed answer."},
        )
        turns = page.locator("#transcript .turn")
        expect(turns).to_have_count(3)
        # The user's turn stays before the reply it triggered, though its text came later.
        expect(turns.nth(0)).to_have_class("turn user")
        expect(turns.nth(0)).to_contain_text("Hi, it's Sam.")
        expect(turns.nth(1)).to_contain_text("Hello Sam, good to hear you.")
        expect(turns.nth(2)).to_contain_text("Typed answer.")
        expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")
        conn.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000,
                   "item_id": "item_u2"})  # barge-in cuts playback
        page.wait_for_timeout(100)
        assert page.errors == []

    def test_events_right_after_the_socket_opens_are_not_lost(self, page, fake_backend):
        open_page(page, fake_backend.url, WS)
        dev_sign_in(page, unique_user())
        page.get_by_role("button", name="Start conversation").click()
        conn = fake_backend.wait_connection()
        conn.send({"type": "response.output_audio_transcript.done", "response_id": "resp_0",
                   "item_id": "item_a0", "output_index": 0, "content_index": 0,
                   "transcript": "Hello, I'm listening."},
                  *function_call_events("resp_0", [("call_0", "Snapshot", {})]))

        expect(page.locator("#transcript .turn.assistant")).to_contain_text("I'm listening")
        conn.wait_for_type("response.create")
        assert list(outputs_by_call(conn)) == ["call_0"]

    def test_typed_message_is_sent_as_user_text_and_response_create(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        page.get_by_label("Type a message to the assistant").fill("What's on today?")
        page.get_by_role("button", name="Send").click()

        created = conn.wait_for_type("conversation.item.create")[0]
        assert created["item"] == {"type": "message", "role": "user",
                                   "content": [{"type": "input_text", "text": "What's on today?"}]}
        conn.wait_for_type("response.create")
        expect(page.locator("#transcript .turn.user")).to_contain_text("What's on today?")

    def test_expired_key_does_not_end_or_reconnect_the_session(self, page, fake_backend):
        fake_backend.key_ttl_s = -1  # already expired when it arrives: it still connects
        conn = start_call(page, fake_backend, unique_user())

        expect(page.locator("#key-countdown")).to_contain_text("expired")
        page.wait_for_timeout(1200)
        assert len(fake_backend.api_requests("POST", "/api/voice-agent")) == 1
        assert not conn.closed
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")

    def test_hang_up_closes_the_socket(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        page.get_by_role("button", name="Hang up").click()

        conn.wait_closed()
        expect(page.locator("#status")).to_have_attribute("data-state", "ended")
        expect(page.get_by_role("button", name="Start conversation")).to_be_enabled()

    def test_drop_reconnects_with_fresh_key_and_carries_conversation(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user(), WS + "&backoff=50")
        conn.send({"type": "conversation.item.input_audio_transcription.completed",
                   "item_id": "item_u1", "content_index": 0,
                   "transcript": "Remind me about the dentist."})
        expect(page.locator("#transcript .turn.user")).to_have_count(1)
        conn.drop()

        second = fake_backend.wait_connection(1)
        assert len(fake_backend.api_requests("POST", "/api/voice-agent")) == 2
        assert second.subprotocols[1] != conn.subprotocols[1]  # a new ephemeral key
        update = second.wait_for_type("session.update")[0]
        assert update["session"]["type"] == "realtime"
        carried = second.wait_for_type("conversation.item.create")[0]["item"]
        assert carried["role"] == "system"
        assert "User: Remind me about the dentist." in carried["content"][0]["text"]
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")

    def test_rollover_renews_before_limit_and_carries_conversation(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user(), WS + "&rollover=1.5")
        conn.send({"type": "response.output_audio_transcript.done", "response_id": "resp_1",
                   "item_id": "item_a1", "output_index": 0, "content_index": 0,
                   "transcript": "Your train leaves at 8."})

        second = fake_backend.wait_connection(1, timeout_s=6)
        conn.wait_closed()
        carried = second.wait_for_type("conversation.item.create")[0]["item"]
        assert "Assistant: Your train leaves at 8." in carried["content"][0]["text"]
        tools = second.wait_for_type("session.update")[0]["session"]["tools"]
        assert {t["name"] for t in tools} >= {"search_memories", "endConversation", "Snapshot"}
        assert all(set(t) == {"type", "name", "description", "parameters"} for t in tools)
        expect(page.locator("#transcript .turn")).to_have_count(1)


class TestToolCalls:
    def test_api_tools_get_one_output_each_and_one_response_create(self, page, fake_backend):
        user = unique_user()
        fake_backend.add_memory(user, "Name is Sam")
        conn = start_call(page, fake_backend, user)
        conn.send(*function_call_events("resp_t1", [
            ("call_s", "search_memories", {"query": "name", "filters": {"source": "user"}}),
            ("call_a", "add_memories", {"messages": "Sam likes hiking"}),
            ("call_g", "get_all_memories", {}),
            ("call_w", "web_search", {"query": "weather Berlin"}),
        ]))

        conn.wait_for_type("response.create")
        page.wait_for_timeout(200)  # anything extra would have arrived by now
        outputs = outputs_by_call(conn)
        assert sorted(outputs) == ["call_a", "call_g", "call_s", "call_w"]
        assert all(len(v) == 1 for v in outputs.values())
        assert len(conn.of_type("response.create")) == 1
        # response.create comes after every output.
        types = [e["type"] for e in conn.events]
        assert types.index("response.create") > max(
            i for i, t in enumerate(types) if t == "conversation.item.create")

        assert outputs["call_s"][0]["results"][0]["memory"] == "Name is Sam"
        assert outputs["call_a"][0]["status"] == "queued"
        assert outputs["call_w"][0]["answer"] == "Answer about weather Berlin."
        assert fake_backend.api_requests("POST", "/api/memory/search")[-1].json() == {
            "query": "name", "filters": {"source": "user"}}
        assert fake_backend.api_requests("POST", "/api/memory")[-1].json()["messages"] == \
            "Sam likes hiking"
        # What the model stores is marked as the assistant's (the panel shows it).
        assert fake_backend.api_requests("POST", "/api/memory")[-1].json()["metadata"] == \
            {"source": "assistant"}
        assert fake_backend.api_requests("POST", "/api/search")[-1].json() == \
            {"query": "weather Berlin"}
        assert fake_backend.api_requests("GET", "/api/memory")
        for request in fake_backend.api_requests():
            if request.path.startswith("/api/"):
                assert request.headers["authorization"].startswith("Bearer ")
        expect(page.locator("#transcript .tool[data-state='done']")).to_have_count(4)

    def test_api_error_becomes_error_output(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        fake_backend.failures[("POST", "/api/search")] = (502, {"error": "Tavily API error: 500"})
        conn.send(*function_call_events("resp_e", [("call_e", "web_search", {"query": "x"})]))

        conn.wait_for_type("response.create")
        assert "Tavily API error: 500" in outputs_by_call(conn)["call_e"][0]["error"]
        expect(page.locator("#transcript .tool[data-state='error']")).to_contain_text(
            "web_search")

    def test_desktop_tool_without_bridge_answers_not_connected(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        conn.send(*function_call_events("resp_d", [("call_d", "Snapshot", {"use_vision": False})]))

        conn.wait_for_type("response.create")
        assert outputs_by_call(conn) == {"call_d": [{"error": "desktop bridge not connected"}]}

    def test_desktop_tool_goes_to_paired_bridge_with_pairing_token(
            self, page, fake_backend, fake_bridge: FakeBridge):
        open_page(page, fake_backend.url, WS)
        dev_sign_in(page, unique_user())
        page.get_by_text("Settings").click()
        page.get_by_label("Bridge URL").fill(fake_bridge.url)
        page.get_by_label("Pairing token").fill(fake_bridge.pairing_token)
        page.get_by_role("button", name="Pair", exact=True).click()
        expect(page.locator("#bridge-status")).to_have_text("Paired: 2 desktop tools")
        page.get_by_role("button", name="Start conversation").click()
        conn = fake_backend.wait_connection()

        # The session learns the bridge's tools under their exact names (whole list replaced).
        update = conn.wait_for_type("session.update")[0]["session"]
        names = [t["name"] for t in update["tools"]]
        assert "Snapshot" in names and "Click" in names and "PowerShell" not in names
        assert "search_memories" in names and "executeAppAction" in names

        conn.send(*function_call_events("resp_b", [("call_c", "Click", {"loc": [10, 20]})]))
        conn.wait_for_type("response.create")
        call = fake_bridge.calls()[-1]
        assert call.headers["x-pairing-token"] == fake_bridge.pairing_token
        assert call.headers["origin"] == fake_backend.url
        assert call.json() == {"name": "Click", "arguments": {"loc": [10, 20]}}
        assert outputs_by_call(conn) == {"call_c": ['ran Click with {"loc": [10, 20]}']}

    def test_bridge_with_wrong_pairing_token_is_not_paired(
            self, page, fake_backend, fake_bridge: FakeBridge):
        open_page(page, fake_backend.url)
        dev_sign_in(page, unique_user())
        page.get_by_text("Settings").click()
        page.get_by_label("Bridge URL").fill(fake_bridge.url)
        page.get_by_label("Pairing token").fill("wrong")
        page.get_by_role("button", name="Pair", exact=True).click()
        expect(page.locator("#bridge-status")).to_contain_text("check the pairing token")

    def test_change_browser_theme_switches_the_page_theme(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        page.evaluate("document.documentElement.dataset.theme = 'light'")
        conn.send(*function_call_events("resp_th", [
            ("call_th", "changeBrowserTheme", {"theme": "dark"})]))

        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(16, 19, 23)"
        conn.wait_for_type("response.create")
        assert outputs_by_call(conn)["call_th"] == [{"status": "ok", "theme": "dark"}]
        assert page.evaluate("localStorage.getItem('va.theme')") == "dark"

    def test_execute_app_action_runs_known_intents_and_lists_them_for_unknown(
            self, page, fake_backend):
        user = unique_user()
        fake_backend.add_memory(user, "Works at Acme")
        conn = start_call(page, fake_backend, user)
        conn.send(*function_call_events("resp_x", [
            ("call_1", "executeAppAction", {"intent": "search_memories",
                                            "params": {"query": "Acme"}}),
            ("call_2", "executeAppAction", {"intent": "set_voice", "params": {"voice": "coral"}}),
            ("call_3", "executeAppAction", {"intent": "fly_to_moon"}),
        ]))

        conn.wait_for_type("response.create")
        outputs = outputs_by_call(conn)
        assert outputs["call_1"] == [{"status": "ok", "results": 1}]
        expect(page.get_by_role("searchbox", name="Search memories")).to_have_value("Acme")
        assert outputs["call_2"][0]["status"] == "ok"
        expect(page.get_by_label("Voice", exact=True)).to_have_value("coral")
        unknown = outputs["call_3"][0]
        assert "fly_to_moon" in unknown["error"]
        assert {"open_memories", "search_memories", "set_voice"} <= set(unknown["known_intents"])

    def test_open_memories_and_search_report_what_the_api_returned(self, page, fake_backend):
        user = unique_user()
        fake_backend.add_memory(user, "Works at Acme")
        fake_backend.add_memory(user, "Lives in Lyon")
        conn = start_call(page, fake_backend, user)
        conn.send(*function_call_events("resp_m", [
            ("call_open", "executeAppAction", {"intent": "open_memories"})]))
        conn.wait_for_type("response.create")
        assert outputs_by_call(conn)["call_open"] == [{"status": "ok", "shown": 2}]
        expect(page.locator("#memory-list li")).to_have_count(2)

        conn.send(*function_call_events("resp_n", [
            ("call_none", "executeAppAction", {"intent": "search_memories",
                                               "params": {"query": "zebra"}})]))
        wait_until(lambda: "call_none" in outputs_by_call(conn))
        assert outputs_by_call(conn)["call_none"] == [{"status": "ok", "results": 0}]
        expect(page.locator("#memory-list li")).to_have_count(0)

    def test_end_conversation_answers_then_hangs_up(self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        conn.send(*function_call_events("resp_end", [("call_end", "endConversation", {})]))

        conn.wait_closed()
        assert outputs_by_call(conn)["call_end"][0]["status"] == "ok"
        assert conn.of_type("response.create") == []
        expect(page.locator("#status")).to_have_attribute("data-state", "ended")
        expect(page.get_by_role("button", name="Hang up")).to_be_disabled()

    def test_calls_of_a_response_announced_only_in_response_done_are_answered(
            self, page, fake_backend):
        conn = start_call(page, fake_backend, unique_user())
        events = function_call_events("resp_o", [("call_o", "Snapshot", {})],
                                      announce_twice=False)
        conn.send(*[e for e in events if e["type"] != "response.output_item.done"])

        conn.wait_for_type("response.create")
        assert list(outputs_by_call(conn)) == ["call_o"]


class TestTransportsAndLayout:
    def test_webrtc_posts_sdp_offer_with_ephemeral_key(self, page, fake_backend):
        open_page(page, fake_backend.url)  # default transport: WebRTC
        dev_sign_in(page, unique_user())
        page.get_by_role("button", name="Start conversation").click()

        call = wait_until(lambda: fake_backend.api_requests("POST", "/v1/realtime/calls"),
                          5, "the SDP offer")[0]
        assert call.headers["content-type"] == "application/sdp"
        assert call.headers["authorization"] == f"Bearer ek_fake{fake_backend.minted}"
        sdp = call.body.decode()
        assert sdp.startswith("v=0") and "m=audio" in sdp and "m=application" in sdp
        expect(page.get_by_role("alert")).to_contain_text(
            "HTTP 400 — fake realtime: WebRTC is not available here")
        expect(page.locator("#transport-label")).to_have_text("WebRTC")

    def test_webrtc_call_carries_mic_audio_and_events_on_oai_events_channel(
            self, page, fake_backend):
        fake_backend.webrtc_peer = True
        peer = WebRTCPeer(page.context.new_page())
        try:
            open_page(page, fake_backend.url)
            dev_sign_in(page, unique_user())
            page.get_by_role("button", name="Start conversation").click()
            offer, reply = wait_until(lambda: fake_backend.pending_offers and
                                      fake_backend.pending_offers.pop(0), 5, "the SDP offer")
            reply(peer.answer(offer))

            expect(page.locator("#status")).to_have_attribute("data-state", "connected",
                                                              timeout=10_000)
            info = wait_until(lambda: (i := peer.info())["open"] and i, 5, "the data channel")
            assert info["label"] == "oai-events" and info["tracks"] == ["audio"]
            peer.send(
                {"type": "response.output_audio_transcript.done", "response_id": "resp_1",
                 "item_id": "item_a1", "output_index": 0, "content_index": 0,
                 "transcript": "Hello over WebRTC."},
                *function_call_events("resp_2", [("call_r", "get_all_memories", {})]))

            expect(page.locator("#transcript .turn.assistant")).to_contain_text("over WebRTC")
            wait_until(lambda: peer.of_type("response.create"), 5, "response.create")
            [output] = peer.of_type("conversation.item.create")
            assert output["item"]["call_id"] == "call_r"
            assert json.loads(output["item"]["output"]) == {"results": [], "next_cursor": None}
            assert peer.violations() == []
            page.get_by_role("button", name="Hang up").click()
            expect(page.locator("#status")).to_have_attribute("data-state", "ended")
        finally:
            peer.page.close()

    def test_phone_viewport_has_no_horizontal_scroll(self, page, fake_backend):
        page.set_viewport_size({"width": 375, "height": 740})
        open_page(page, fake_backend.url)
        dev_sign_in(page, unique_user())

        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        call_box = page.locator("#call-panel").bounding_box()
        memory_box = page.locator("#memory-panel").bounding_box()
        assert memory_box["y"] >= call_box["y"] + call_box["height"]  # stacked, one column

    def test_keyboard_reaches_controls_with_visible_focus(self, page, fake_backend):
        open_page(page, fake_backend.url)
        dev_sign_in(page, unique_user())
        page.get_by_label("Model").focus()
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")

        focused = page.evaluate("[document.activeElement.id, "
                                "getComputedStyle(document.activeElement).outlineStyle]")
        assert focused == ["connect", "solid"]
        page.keyboard.press("Enter")  # starts the conversation from the keyboard
        expect(page.locator("#status")).not_to_have_attribute("data-state", "idle")
        labels_missing = page.evaluate("""
            [...document.querySelectorAll('input, select, textarea')]
              .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length)
                            && !el.getAttribute('aria-label'))
              .map(el => el.id)""")
        assert labels_missing == []
