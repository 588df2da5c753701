"""Long conversations: reconnect after a dropped socket, rollover before the time limit."""

from __future__ import annotations

import pytest

from tests.fakes.realtime import fake_backend, run_text_conversation


@pytest.fixture
async def backend():
    async with fake_backend() as pair:
        yield pair


def carried_texts(session):
    """Texts of the message items the bridge sent into a session, in order."""
    texts = []
    for event in session.of_type("conversation.item.create"):
        item = event["item"]
        if item.get("type") == "message":
            texts.append((item["role"], " ".join(p.get("text", "") for p in item["content"])))
    return texts


async def test_dropped_socket_reconnects_with_context_carried_over(backend):
    realtime, api = backend
    # session.update, message, response.create, message, response.create → cut.
    realtime.drop_after[0] = 5
    run = await run_text_conversation(api, ["my name is Ada", "I live in Paris",
                                            "what is my name"])
    assert run.code == 0
    assert len(realtime.sessions) == 2
    assert api.minted == 2
    second = realtime.sessions[1]
    assert second.authorization == "Bearer ek_test_2"
    assert second.events[0]["type"] == "session.update"
    texts = carried_texts(second)
    assert texts[0][0] == "system" and "continues from an earlier session" in texts[0][1]
    assert ("user", "my name is Ada") in texts
    assert ("assistant", "You said: my name is Ada") in texts
    assert ("user", "I live in Paris") in texts
    # The reply cut off by the drop was asked for again, and the conversation went on.
    assert "You said: I live in Paris" in run.stdout
    assert "You said: what is my name" in run.stdout
    assert run.metrics.reconnects >= 1
    assert realtime.violations == []


async def test_rollover_moves_to_a_new_session_before_the_limit(backend):
    realtime, api = backend
    realtime.reply_delay_s = 0.15
    lines = [f"message {i}" for i in range(6)]
    run = await run_text_conversation(api, lines, max_session_s=0.35, timeout_s=15)
    assert run.code == 0
    assert len(realtime.sessions) >= 2
    first, second = realtime.sessions[0], realtime.sessions[1]
    assert first.closed
    texts = carried_texts(second)
    assert texts and texts[0][0] == "system"
    assert ("user", "message 0") in texts
    # Turns continued in the renewed sessions, and every line got a reply.
    assert any(s.of_type("response.create") for s in realtime.sessions[1:])
    for i in range(6):
        assert f"You said: message {i}" in run.stdout
    assert realtime.violations == []


async def test_reconnect_gives_up_after_bounded_attempts(backend):
    realtime, api = backend
    realtime.drop_after[0] = 3  # session.update, message, response.create → cut
    api.max_mints = 1
    run = await run_text_conversation(api, ["hello"], reconnect_attempts=3)
    assert run.code == 1
    assert "could not be renewed after 3 attempts" in run.stderr
    assert len(api.calls_to("/api/voice-agent")) == 4  # first mint + 3 attempts
