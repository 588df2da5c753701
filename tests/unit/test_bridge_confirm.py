"""Confirmations: the bridge's wording, a plain yes only, and answers only after the question."""

from __future__ import annotations

import asyncio
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
from bridge.effect_types import Effect
from bridge.lines import LineSource
from bridge.questions import StepView, spoken_question, terminal_question, visible
from tests.fakes.realtime import TERMINAL_QUESTION_MARK, AnsweringStream

REQUEST = ConfirmRequest("PowerShell", "Allow PowerShell …?", "Should I … Please answer yes "
                         "or no.")


@pytest.mark.parametrize("text", ["yes", "Yes.", "yeah, go ahead", "sure", "OK", "do it",
                                  "yes please", "Yes, please do.", "go ahead", "Okay!",
                                  "yes, I confirm"])
def test_clear_yes(text):
    assert is_clear_yes(text)


@pytest.mark.parametrize("text", [
    "no", "yes, but don't delete anything", "not yet", "wait", "what?", "", "maybe",
    "I think you should not", "yes " * 20, "okay, what would that command do?",
    "sure, but first tell me what it deletes", "confirm what exactly?", "yes if it is safe",
    "yes?", "yeah... I guess", "ok, hold on", "sure, after lunch", "uh huh",
    "yes, and also open my email", "probably yes", "yes no", "I'm not sure, yes"])
def test_not_a_clear_yes(text):
    assert not is_clear_yes(text)


def test_question_shows_the_padded_and_long_parts_that_matter():
    padded = "Get-Process" + " " * 400 + "; Remove-Item -Recurse C:\\Users\\v"
    view = StepView("PowerShell", {"command": padded, "timeout": 30}, Effect.RUNS_CODE,
                    "PowerShell that is not one plain command")
    question = terminal_question("Powershell-Tool", [view])
    assert "Get-Process ; Remove-Item -Recurse C:\\Users\\v" in question
    assert "runs code on this PC" in question and "called as Powershell-Tool" in question
    long_path = "C:\\Users\\v\\" + "a" * 500 + "\\report.docx"
    view = StepView("FileSystem", {"path": long_path, "mode": "delete", "content": "x" * 500},
                    Effect.DESTROYS, "FileSystem delete")
    question = terminal_question("FileSystem", [view])
    assert "mode «delete»" in question and long_path in question
    assert "(440 more characters)" in question  # only the harmless content is shortened
    assert "Please answer yes or no." in spoken_question([view])


def test_question_shows_hidden_characters():
    assert visible("dir\nformat c:") == "dir ⏎ format c:"
    assert visible("ab\u202ecd\u200b\x1b[2J") == "ab\\u{202e}cd\\u{200b}\\u{001b}[2J"
    assert visible("a\t\u00a0 b") == "a b"


async def test_terminal_answer_typed_after_the_question_decides():
    for answer, verdict in (("y", Verdict.APPROVED), ("YES", Verdict.APPROVED),
                            ("nope", Verdict.REFUSED), ("yes please", Verdict.REFUSED),
                            (None, Verdict.REFUSED)):
        lines = LineSource.from_lines()
        err = AnsweringStream(TERMINAL_QUESTION_MARK, [answer], lines, end_after=False)
        assert await TerminalConfirmer(lines, err).confirm(REQUEST) is verdict, answer
        assert "Allow PowerShell" in err.getvalue()


async def test_terminal_lines_typed_before_the_question_are_ignored():
    lines = LineSource.from_lines(["y", "yes"])
    await asyncio.sleep(0.01)
    err = AnsweringStream(TERMINAL_QUESTION_MARK, ["n"], lines, end_after=False)
    assert await TerminalConfirmer(lines, err).confirm(REQUEST) is Verdict.REFUSED
    assert "2 line(s) typed before the question were ignored" in err.getvalue()
    # Positive control: the same "y" typed after the question approves.
    err.answers = ["y"]
    assert await TerminalConfirmer(lines, err).confirm(REQUEST) is Verdict.APPROVED


async def test_terminal_silence_times_out_as_a_no():
    err = io.StringIO()
    confirmer = TerminalConfirmer(LineSource.from_lines(), err, timeout_s=0.05)
    assert await confirmer.confirm(REQUEST) is Verdict.TIMED_OUT
    assert "no answer within" in err.getvalue()


class Voice:
    """A speaker that 'reads out' the question and then lets the user speak."""

    def __init__(self, confirmer: UtteranceConfirmer, answer: str | None = None, *,
                 before: str | None = None) -> None:
        self.confirmer = confirmer
        self.answer = answer
        self.before = before
        self.spoken: list[str] = []
        confirmer.speak = self.speak

    async def speak(self, text: str) -> float:
        if self.before is not None:
            await self.confirmer.on_user_utterance(self.before)  # said while it was read out
        self.spoken.append(text)
        await asyncio.sleep(0.001)
        asked_at = time.monotonic()
        if self.answer is not None:
            asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(
                self.confirmer.on_user_utterance(self.answer)))
        return asked_at


@pytest.mark.parametrize(("answer", "verdict"), [
    ("yes", Verdict.APPROVED), ("Yes, go ahead.", Verdict.APPROVED),
    ("yes, but what does it do?", Verdict.REFUSED), ("okay, what?", Verdict.REFUSED),
    ("sure, if it's safe", Verdict.REFUSED), ("no", Verdict.REFUSED),
    (None, Verdict.TIMED_OUT)])
async def test_voice_answer_after_the_bridges_question_decides(answer, verdict):
    confirmer = UtteranceConfirmer(wait_s=0.3)
    voice = Voice(confirmer, answer)
    assert await confirmer.confirm(REQUEST) is verdict
    assert voice.spoken == [REQUEST.spoken]  # the bridge's words, not the model's


async def test_voice_yes_said_before_the_question_does_not_count():
    confirmer = UtteranceConfirmer(wait_s=0.2)
    await confirmer.on_user_utterance("yes please")  # a yes to the model's own question
    Voice(confirmer, None, before="yes")  # and one said while the question was read out
    assert await confirmer.confirm(REQUEST) is Verdict.TIMED_OUT
    # Positive control: a yes after the question approves.
    Voice(confirmer, "yes")
    assert await confirmer.confirm(REQUEST) is Verdict.APPROVED


async def test_voice_one_yes_answers_one_question_only():
    confirmer = UtteranceConfirmer(wait_s=0.2)
    Voice(confirmer, "yes")
    assert await confirmer.confirm(REQUEST) is Verdict.APPROVED

    async def silent(text: str) -> float:
        return time.monotonic()

    confirmer.speak = silent
    assert await confirmer.confirm(REQUEST) is Verdict.TIMED_OUT


async def test_voice_question_that_could_not_be_asked_refuses():
    confirmer = UtteranceConfirmer(wait_s=0.2)
    assert await confirmer.confirm(REQUEST) is Verdict.REFUSED  # no speaker attached

    async def cut_off(text: str) -> None:
        return None

    confirmer.speak = cut_off
    await confirmer.on_user_utterance("yes")
    assert await confirmer.confirm(REQUEST) is Verdict.REFUSED
