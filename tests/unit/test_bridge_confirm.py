"""Confirmations: clear-yes detection, terminal answers, voice answers bound to the user."""

from __future__ import annotations

import io
import time

import pytest

from bridge.confirm import (
    ConfirmRequest,
    TerminalConfirmer,
    UtteranceConfirmer,
    Verdict,
    is_clear_yes,
)
from bridge.lines import LineSource


@pytest.mark.parametrize("text", ["yes", "Yes.", "yeah, go ahead", "sure", "OK", "do it",
                                  "yes please"])
def test_clear_yes(text):
    assert is_clear_yes(text)


@pytest.mark.parametrize("text", ["no", "yes, but don't delete anything", "not yet", "wait",
                                  "what?", "", "maybe", "I think you should not",
                                  "yes " * 20])
def test_not_a_clear_yes(text):
    assert not is_clear_yes(text)


def fed(*lines):
    return LineSource.from_lines(list(lines))


async def test_terminal_yes_no_and_end_of_input():
    err = io.StringIO()
    confirmer = TerminalConfirmer(fed("y", "nope", None), err)
    request = ConfirmRequest("PowerShell", {"command": "dir"})
    assert await confirmer.confirm(request) is Verdict.APPROVED
    assert await confirmer.confirm(request) is Verdict.REFUSED
    assert await confirmer.confirm(request) is Verdict.REFUSED
    assert 'Allow PowerShell {"command": "dir"}? [y/N]' in err.getvalue()
    assert "end of input" in err.getvalue()


async def test_voice_first_call_is_pending_then_users_yes_approves():
    confirmer = UtteranceConfirmer(wait_s=1)
    request = ConfirmRequest("PowerShell", {"command": "dir"})
    assert await confirmer.confirm(request) is Verdict.PENDING
    await confirmer.on_user_utterance("yes, go ahead")
    assert await confirmer.confirm(request) is Verdict.APPROVED
    # Approval is one-shot: the next identical call asks again.
    assert await confirmer.confirm(request) is Verdict.PENDING


async def test_voice_words_spoken_before_the_question_do_not_count():
    confirmer = UtteranceConfirmer(wait_s=0.2)
    before = time.monotonic()
    request = ConfirmRequest("PowerShell", {"command": "dir"})
    assert await confirmer.confirm(request) is Verdict.PENDING
    # The transcript of the request itself arrives late: it started before the question.
    await confirmer.on_user_utterance("yes run dir", started_at=before)
    assert await confirmer.confirm(request) is Verdict.REFUSED


async def test_voice_other_arguments_are_a_new_question():
    confirmer = UtteranceConfirmer(wait_s=0.2)
    assert await confirmer.confirm(ConfirmRequest("PowerShell", {"command": "a"})) \
        is Verdict.PENDING
    await confirmer.on_user_utterance("yes")
    assert await confirmer.confirm(ConfirmRequest("PowerShell", {"command": "b"})) \
        is Verdict.PENDING
