"""The turn coordinator as a pure state machine: sequences of events in, decisions out."""

from __future__ import annotations

from bridge.events import FunctionCall
from bridge.turns import TurnCoordinator


def call(call_id: str, response_id: str = "r1", name: str = "Click") -> FunctionCall:
    return FunctionCall(call_id=call_id, name=name, arguments="{}", response_id=response_id)


def test_response_request_and_done_one_at_a_time_then_idle():
    turns = TurnCoordinator()
    assert turns.idle and turns.may_request and turns.may_read_line
    turns.response_requested("evt_1")
    assert not turns.may_request and not turns.idle and not turns.may_read_line
    turns.response_created("r1")
    assert not turns.may_request
    outcome = turns.response_done("r1")
    assert not outcome.follow_up and not outcome.end
    assert turns.may_request and turns.idle and turns.may_read_line


def test_calls_answered_after_response_done_follow_up_exactly_once():
    turns = TurnCoordinator()
    turns.response_created("r1")
    first, second = turns.call_announced(call("c1")), turns.call_announced(call("c2"))
    assert first is second is not None and turns.running_calls == 2
    assert turns.response_done("r1").follow_up is False  # two calls still open
    assert not turns.idle
    assert turns.call_finished(first) is True
    assert turns.call_answered(first, "c1", ends_conversation=False) is False
    assert turns.call_finished(second) is True
    assert turns.call_answered(second, "c2", ends_conversation=False) is True
    # Nothing can trigger a second follow-up for the same batch.
    assert turns.call_answered(second, "c2", ends_conversation=False) is False
    assert turns.response_done("r1").follow_up is False
    assert turns.idle


def test_calls_answered_before_response_done_follow_up_on_done():
    turns = TurnCoordinator()
    turns.response_created("r1")
    batch = turns.call_announced(call("c1"))
    assert batch is not None
    turns.call_finished(batch)
    assert turns.call_answered(batch, "c1", ends_conversation=False) is False
    assert not turns.idle  # the batch still owes its follow-up
    assert turns.response_done("r1").follow_up is True
    assert turns.idle


def test_call_announced_twice_runs_once():
    turns = TurnCoordinator()
    assert turns.call_announced(call("c1")) is not None
    assert turns.call_announced(call("c1")) is None
    assert turns.running_calls == 1


def test_calls_of_two_responses_are_separate_batches():
    turns = TurnCoordinator()
    a, b = turns.call_announced(call("c1", "r1")), turns.call_announced(call("c2", "r2"))
    assert a is not None and b is not None and a is not b
    turns.response_done("r1")
    turns.call_finished(a)
    assert turns.call_answered(a, "c1", ends_conversation=False) is True
    assert turns.response_done("r2").follow_up is False  # c2 is still open
    turns.call_finished(b)
    assert turns.call_answered(b, "c2", ends_conversation=False) is True


def test_replaced_session_drops_its_calls_and_response():
    turns = TurnCoordinator()
    turns.response_requested("evt_1")
    turns.response_created("r1")
    batch = turns.call_announced(call("c1"))
    assert batch is not None
    assert turns.session_replaced() == 1
    assert not turns.response_active
    assert turns.call_finished(batch) is False  # not to be answered in the new session
    assert turns.idle
    # Positive control: a call of the new session is answered.
    fresh = turns.call_announced(call("c2", "r2"))
    assert fresh is not None and turns.call_finished(fresh) is True


def test_rollover_waits_for_idle_and_holds_typed_input():
    turns = TurnCoordinator()
    batch = turns.call_announced(call("c1"))
    assert batch is not None
    turns.switching = True
    assert not turns.idle and not turns.may_read_line
    turns.response_done("r1")
    turns.call_finished(batch)
    assert turns.call_answered(batch, "c1", ends_conversation=False) is True
    turns.response_requested("evt_2")
    turns.response_done("r2")
    assert turns.idle and not turns.may_read_line  # idle: rollover may switch now
    turns.switching = False
    assert turns.may_read_line


def test_spoken_question_lets_a_line_answer_while_its_call_is_open():
    turns = TurnCoordinator()
    assert turns.call_announced(call("c1")) is not None
    turns.response_created("rq", question_key="q1")
    assert turns.response_done("rq").question_key == "q1"
    assert not turns.may_read_line  # the call is still open
    turns.answer_wanted = True
    assert turns.may_read_line
    assert turns.response_done("rq").question_key is None  # reported once


def test_refused_response_create_stops_the_wait_and_unrelated_errors_do_not():
    turns = TurnCoordinator()
    turns.response_requested("evt_1")
    assert turns.request_refused("evt_other") is False
    assert turns.request_refused(None) is False
    assert turns.response_active
    assert turns.request_refused("evt_1") is True
    assert turns.may_request


def test_accepted_request_can_no_longer_be_refused():
    turns = TurnCoordinator()
    turns.response_requested("evt_1")
    turns.response_created("r1")
    assert turns.request_refused("evt_1") is False
    assert turns.response_active


def test_goodbye_call_ends_after_the_next_reply():
    turns = TurnCoordinator()
    batch = turns.call_announced(call("c1", name="end_conversation"))
    assert batch is not None
    turns.response_done("r1")
    turns.call_finished(batch)
    assert turns.call_answered(batch, "c1", ends_conversation=True) is True
    turns.response_requested("evt_2")
    assert turns.response_done("r2").end is True


def test_barge_in_cancelled_response_frees_the_turn_without_follow_up():
    # A response cut off by the user's speech ends "cancelled": no calls, no follow-up.
    turns = TurnCoordinator()
    turns.response_requested("evt_1")
    turns.response_created("r1")
    outcome = turns.response_done("r1")
    assert not outcome.follow_up and not outcome.end and turns.idle
