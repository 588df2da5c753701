"""GA event builders (validated by the fake server's checker) and function-call parsing."""

from __future__ import annotations

import json

import pytest

from bridge import client_events, events
from bridge.app import session_tools
from bridge.context import ConversationLog
from bridge.status import Metrics, percentile
from tests.fakes.realtime import validate_client_event


@pytest.mark.parametrize("text_only", [True, False])
def test_session_update_is_ga_and_has_no_beta_fields(text_only):
    event = client_events.session_update(tools=session_tools(None), text_only=text_only)
    assert validate_client_event(event, set()) == []
    session = event["session"]
    assert session["type"] == "realtime"
    assert not {"voice", "modalities", "input_audio_format", "turn_detection"} & set(session)


def test_client_events_pass_the_ga_checker():
    built = [client_events.user_text("hi"), client_events.function_output("c1", "ok"),
             client_events.user_image("image/png", "iVBOR", "note"),
             client_events.response_create(),
             client_events.response_create(instructions="say hi", out_of_band=True),
             client_events.audio_append(b"\x00\x01"), client_events.truncate("item_1", 1200),
             client_events.item_create(client_events.message("assistant", "earlier reply")),
             client_events.item_create(client_events.message("system", "summary"))]
    for event in built:
        assert validate_client_event(event, {"c1"}) == [], event


def test_checker_catches_beta_fields_and_non_string_outputs():
    beta = {"type": "session.update", "session": {"type": "realtime", "voice": "ash"}}
    assert validate_client_event(beta, set())
    bad_output = client_events.item_create({"type": "function_call_output", "call_id": "c1",
                                            "output": {"a": 1}})
    assert validate_client_event(bad_output, {"c1"})


@pytest.mark.parametrize(("event", "problem"), [
    ({"type": "response.create", "response": {"modalities": ["text"]}},
     "Unknown parameter: 'response.modalities'"),
    ({"type": "session.update", "session": {"type": "realtime", "tools": [
        {"type": "function", "name": "x", "parameters": {}, "strict": True}]}},
     "Unknown parameter: 'session.tools.0.strict'"),
    ({"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "x"}]}},
     "Invalid value for 'type'"),
    ({"type": "input_audio_buffer.append", "audio": "not base64!"}, "audio is not base64"),
    ({"type": "session.create"}, "unknown client event type"),
])
def test_checker_reports_what_the_sdk_types_refuse(event, problem):
    problems = validate_client_event(event, set())
    assert any(p.startswith(problem) for p in problems), problems


def test_checker_accepts_the_sdk_shapes_those_refusals_are_near():
    # Positive controls of the refusals above: the same events, spelt as the GA API wants.
    valid = [{"type": "response.create", "response": {"output_modalities": ["text"]}},
             {"type": "session.update", "session": {"type": "realtime", "tools": [
                 {"type": "function", "name": "x", "parameters": {}}]}},
             {"type": "conversation.item.create", "item": {
                 "type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "x"}]}},
             {"type": "input_audio_buffer.append", "audio": "AAE="}]
    assert [validate_client_event(event, set()) for event in valid] == [[]] * len(valid)


def test_function_call_parsing_from_both_events():
    item_event = {"type": "response.output_item.done", "response_id": "r1",
                  "item": {"type": "function_call", "call_id": "c1", "name": "Click",
                           "arguments": '{"loc": [1, 2]}'}}
    call = events.function_call_from(item_event)
    assert call is not None and call.parsed_arguments() == {"loc": [1, 2]}
    args_event = {"type": "response.function_call_arguments.done", "response_id": "r1",
                  "call_id": "c1", "name": "Click", "arguments": ""}
    assert events.function_call_from(args_event).parsed_arguments() == {}
    assert events.function_call_from({"type": "response.function_call_arguments.done",
                                      "call_id": "c1"}) is None
    message = {"type": "response.output_item.done", "item": {"type": "message"}}
    assert events.function_call_from(message) is None


@pytest.mark.parametrize("raw", ["{oops", "[1, 2]"])
def test_bad_arguments_are_reported(raw):
    call = events.FunctionCall("c", "Click", raw, "r")
    with pytest.raises(ValueError):
        call.parsed_arguments()


def test_carry_over_has_summary_then_recent_turns():
    log = ConversationLog(recent_turns=2)
    for i in range(4):
        log.add("user", f"question {i}")
        log.add("assistant", f"answer {i}")
    log.add_tool("Click", True)
    items = log.carry_over_items()
    assert items[0]["role"] == "system"
    summary = items[0]["content"][0]["text"]
    assert "user: question 0" in summary and "Click (ok)" in summary
    assert [i["role"] for i in items[1:]] == ["user", "assistant"]
    assert items[2]["content"][0] == {"type": "output_text", "text": "answer 3"}
    assert all(validate_client_event(client_events.item_create(i), set()) == [] for i in items)
    assert ConversationLog().carry_over_items() == []


def test_metrics_summary_lists_tools_and_percentiles():
    metrics = Metrics()
    for ms in [1, 2, 3, 4, 100]:
        metrics.record_tool("Click", ms)
    metrics.speech_to_audio_ms.append(420)
    text = metrics.summary()
    assert "Click×5" in text and "p50 3.0 ms" in text and "p95 100.0 ms" in text
    assert "speech end → first audio" in text
    assert percentile([], 50) == 0
    assert json.dumps(text)


def test_server_events_parse_into_models_ignoring_unknown_fields_and_nulls():
    done = events.parse_server_event({
        "type": "response.done", "event_id": "e1", "future_field": {"x": 1},
        "response": {"id": "r1", "status": "failed", "metadata": None, "usage": {},
                     "status_details": {"type": "failed", "error": {"message": "boom"}}}})
    assert isinstance(done, events.ResponseDone)
    assert done.response.id == "r1" and done.response.meta("bridge_question") is None
    assert done.response.status_details is not None
    assert done.response.status_details.error is not None
    assert done.response.status_details.error.describe() == "boom"
    error = events.parse_server_event({"type": "error", "error": None})
    assert isinstance(error, events.ServerError) and error.error.event_id is None
    created = events.parse_server_event({"type": "response.created", "response": {
        "id": "r2", "metadata": {"bridge_question": "q1"}}})
    assert isinstance(created, events.ResponseCreated)
    assert created.response.meta("bridge_question") == "q1"


def test_unknown_and_malformed_server_events_parse_to_none():
    assert events.parse_server_event({"type": "rate_limits.updated", "rate_limits": []}) is None
    assert events.parse_server_event({"no": "type"}) is None
    assert events.parse_server_event({"type": "response.done", "response": "not an object"}) \
        is None
    # Positive control: the same event with an object parses.
    assert events.parse_server_event({"type": "response.done", "response": {}}) is not None


def test_every_parsed_model_is_in_the_table_under_its_wire_name():
    for wire_name, model in events.SERVER_EVENT_MODELS.items():
        parsed = events.parse_server_event({"type": wire_name})
        assert type(parsed) is model, wire_name


def test_audio_delta_decodes_and_tolerates_bad_base64():
    good = events.parse_server_event({"type": "response.output_audio.delta", "item_id": "a",
                                      "delta": "AAE="})
    assert isinstance(good, events.AudioDelta) and good.pcm() == b"\x00\x01"
    # "A" is not valid base64 (a lone character cannot be padded).
    bad = events.parse_server_event({"type": "response.output_audio.delta", "delta": "A"})
    assert isinstance(bad, events.AudioDelta) and bad.pcm() == b""


async def test_conversation_handles_every_parsed_event_model():
    from bridge.api_client import ApiClient
    from bridge.conversation import Conversation, ConversationSettings

    api = ApiClient("http://127.0.0.1:9", "token")
    try:
        conversation = Conversation(ConversationSettings(), api, router=None,  # type: ignore[arg-type]
                                    tools=[])
        assert conversation.handled_events == frozenset(events.SERVER_EVENT_MODELS.values())
    finally:
        await api.close()
