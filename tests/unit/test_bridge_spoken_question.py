"""The bridge's spoken question: asked out of band with a key, heard only when completed."""

from __future__ import annotations

import asyncio
import io
import time

from bridge.spoken_question import QUESTION_KEY, SpokenQuestions
from bridge.status import StatusLine
from bridge.turns import TurnCoordinator
from tests.fakes.conversation_host import Host


def questions(host: Host, turns: TurnCoordinator, err: io.StringIO,
              wait_s: float = 5.0) -> SpokenQuestions:
    return SpokenQuestions(host, turns, status=StatusLine(io.StringIO()), err=err,
                           wait_s=wait_s)


async def ask(asker: SpokenQuestions, host: Host, text: str) -> tuple[asyncio.Task, str]:
    task = asyncio.ensure_future(asker.say_exactly(text))
    await host.wait_until(lambda: bool(host.requests), 5.0)
    return task, host.requests[-1]["metadata"][QUESTION_KEY]


async def test_completed_reading_returns_when_heard_and_wants_an_answer():
    host, turns, err = Host(), TurnCoordinator(), io.StringIO()
    asker = questions(host, turns, err)
    before = time.monotonic()
    task, key = await ask(asker, host, "Run «Restart-Service spooler»? Say yes or no.")
    request = host.requests[0]
    assert request["out_of_band"] is True
    assert "---\nRun «Restart-Service spooler»? Say yes or no.\n---" in request["instructions"]
    assert "Restart-Service spooler" in err.getvalue()  # also on screen
    assert asker.key_of(key) == key and asker.key_of("q-unknown") is None
    asker.finished(key, completed=True)
    asked_at = await task
    assert asked_at is not None and asked_at >= before
    assert turns.answer_wanted
    assert asker.key_of(key) is None  # no longer pending


async def test_cut_off_reading_counts_as_not_asked():
    host, turns = Host(), TurnCoordinator()
    asker = questions(host, turns, io.StringIO())
    task, key = await ask(asker, host, "Delete it?")
    asker.finished(key, completed=False)
    assert await task is None
    assert not turns.answer_wanted


async def test_no_reply_within_the_wait_counts_as_not_asked():
    host, turns = Host(), TurnCoordinator()
    asker = questions(host, turns, io.StringIO(), wait_s=0.0)
    assert await asker.say_exactly("Delete it?") is None
    assert not turns.answer_wanted and len(host.requests) == 1
