"""The bridge's own confirmation question, read out by the assistant word for word.

In audio mode the bridge, not the model, asks before a risky desktop action. The question goes
out as an out-of-band ``response.create`` whose instructions quote it between two lines of
dashes and whose metadata carries a key; ``response.created``/``response.done`` bring the key
back, so the bridge knows when the user has heard the whole question (answers only count from
then on) or that it was cut off.
"""

from __future__ import annotations

import asyncio
import time
from typing import TextIO

from bridge.host import ConversationHost
from bridge.status import StatusLine
from bridge.turns import TurnCoordinator

# The markers let the exact text be found again (and the fake server in the tests).
QUESTION_INSTRUCTIONS = ("Read the text between the two lines of dashes to the user, word for "
                         "word, and say nothing else. Do not answer it, do not add to it and do "
                         "not call any tool.\n---\n{question}\n---")
QUESTION_KEY = "bridge_question"


class SpokenQuestions:
    """Asks questions through the assistant's voice and learns when each was heard."""

    def __init__(self, host: ConversationHost, turns: TurnCoordinator, *, status: StatusLine,
                 err: TextIO, wait_s: float) -> None:
        self.host = host
        self.turns = turns
        self.status = status
        self.err = err
        self.wait_s = wait_s
        self._counter = 0
        self._pending: dict[str, asyncio.Future[float | None]] = {}  # key → spoken at

    async def say_exactly(self, text: str) -> float | None:
        """Have the assistant read ``text`` out word for word.

        Returns:
            ``time.monotonic()`` once the reply is complete (answers must start after it), or
            None when it could not be asked (no reply within the wait, or cut off).
        """
        self._counter += 1
        key = f"q{self._counter}"
        spoken: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = spoken
        self.status.clear()
        print(f"\n{text}", file=self.err, flush=True)  # the exact words, also on screen
        try:
            await self.host.request_response(
                instructions=QUESTION_INSTRUCTIONS.format(question=text), out_of_band=True,
                metadata={QUESTION_KEY: key})
            async with asyncio.timeout(self.wait_s):
                asked_at = await spoken
        except TimeoutError:
            return None
        finally:
            self._pending.pop(key, None)
        if asked_at is not None:
            self.turns.answer_wanted = True
            await self.host.notify()
        return asked_at

    def key_of(self, metadata_key: str | None) -> str | None:
        """The key of a question still being asked, from a response's metadata."""
        return metadata_key if metadata_key in self._pending else None

    def finished(self, key: str | None, *, completed: bool) -> None:
        """The response reading question ``key`` ended; heard in full only when completed."""
        spoken = self._pending.get(key or "")
        if spoken is not None and not spoken.done():
            # Cut off (barge-in) or failed: the user did not hear the whole question.
            spoken.set_result(time.monotonic() if completed else None)
