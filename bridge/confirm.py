"""Asking the user before a risky desktop action runs.

Two ways, one interface (:class:`Confirmer`); in both the question is the bridge's own
(:mod:`bridge.questions`) and only an answer given *after* it counts:

* :class:`TerminalConfirmer` (``--text`` and ``--serve``): the question goes to stderr and the
  first line typed after it answers (y/N). Lines typed before it are dropped; no answer within
  the policy's ``question_timeout_s``, end of input, or anything but ``y``/``yes`` is a no.
* :class:`UtteranceConfirmer` (voice): the bridge has the assistant read the question out word
  for word (an out-of-band ``response.create`` with exact instructions), then the user's first
  utterance that *started* after the question was spoken decides, through :func:`is_clear_yes`.
  The model cannot answer for the user: nothing it says or calls counts as an answer.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TextIO

from bridge.lines import LineSource

# A clear yes is made only of these words, with at least one of _YES_CORE among them.
_YES_CORE = frozenset({"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm",
                       "confirmed", "affirmative", "absolutely", "correct", "approve",
                       "approved", "allow", "ja", "oui", "si", "sí", "y"})
_YES_FILLERS = frozenset({"please", "go", "ahead", "do", "it", "that", "that's", "thats",
                          "fine", "run", "i", "agree", "of", "course", "definitely", "alright",
                          "all", "right", "indeed", "thank", "thanks", "you", "is", "allowed",
                          "proceed", "sir", "really", "for"})
_YES_PHRASES = ("go ahead", "do it", "go for it", "please do", "run it", "all right")
_MAX_YES_WORDS = 6


def is_clear_yes(text: str) -> bool:
    """Whether an utterance is an unambiguous yes and nothing else.

    Only yes-words and politeness fillers may appear; a question mark, a hedge, a condition,
    a negation or any other word ("okay, what would that do?", "sure, but first …",
    "yes if it is safe") makes it not a yes.
    """
    if "?" in text or "¿" in text:
        return False
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.casefold())
    if not words or len(words) > _MAX_YES_WORDS:
        return False
    if any(w not in _YES_CORE and w not in _YES_FILLERS for w in words):
        return False
    joined = " ".join(words)
    return any(w in _YES_CORE for w in words) or any(p in joined for p in _YES_PHRASES)


class Verdict(StrEnum):
    """The answer to a confirmation request."""

    APPROVED = "approved"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class ConfirmRequest:
    """What is about to run, in the bridge's words."""

    tool: str
    question: str
    spoken: str


class Confirmer(Protocol):
    """Decides whether the user approves one call."""

    async def confirm(self, request: ConfirmRequest) -> Verdict:
        """Ask the user and return their verdict (never the model's)."""
        ...


class TerminalConfirmer:
    """Asks on stderr; the first line typed after the question answers; silence refuses."""

    def __init__(self, lines: LineSource, err: TextIO | None = None, *,
                 timeout_s: float = 60.0) -> None:
        self._lines = lines
        self._err = err or sys.stderr
        self.timeout_s = timeout_s
        # One question at a time: parallel calls must not share an answer line.
        self._lock = asyncio.Lock()

    async def confirm(self, request: ConfirmRequest) -> Verdict:
        """Print the question and wait (bounded) for y/N typed after it."""
        async with self._lock:
            asked_at = time.monotonic()
            print(f"\n{request.question} [y/N] ", file=self._err, flush=True)
            try:
                answer, dropped = await self._lines.readline_after(asked_at, self.timeout_s)
            except TimeoutError:
                print(f"(no answer within {self.timeout_s:g} s: refused)", file=self._err,
                      flush=True)
                return Verdict.TIMED_OUT
        if dropped:
            print(f"({dropped} line(s) typed before the question were ignored)",
                  file=self._err, flush=True)
        if answer is None:
            print("(end of input: refused)", file=self._err, flush=True)
            return Verdict.REFUSED
        return Verdict.APPROVED if answer.strip().lower() in ("y", "yes") else Verdict.REFUSED


# Says the question aloud; returns time.monotonic() when it was fully spoken, or None when it
# could not be asked (no session, the response failed).
Speaker = Callable[[str], Awaitable[float | None]]


@dataclass
class _Utterance:
    started_at: float
    text: str


@dataclass
class UtteranceConfirmer:
    """Voice confirmations bound to the user's own words after the bridge's question.

    Attributes:
        wait_s: how long the user's answer is awaited after the question was spoken.
        speak: set by the conversation: has the assistant read a text out word for word.
    """

    wait_s: float = 15.0
    speak: Speaker | None = None
    _utterances: list[_Utterance] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    awaiting_answer: bool = False

    async def on_user_utterance(self, text: str, started_at: float | None = None) -> None:
        """Record what the user said (a transcript or a typed line).

        Args:
            text: the words.
            started_at: ``time.monotonic()`` when the user started speaking (defaults to now);
                only an utterance started after the question was spoken can answer it.
        """
        self._utterances.append(_Utterance(started_at or time.monotonic(), text))
        del self._utterances[:-20]
        async with self._changed:
            self._changed.notify_all()

    def _answer_after(self, t: float) -> _Utterance | None:
        return next((u for u in self._utterances if u.started_at >= t), None)

    async def confirm(self, request: ConfirmRequest) -> Verdict:
        """Have the question spoken, then let the user's next words decide."""
        async with self._lock:
            if self.speak is None:
                return Verdict.REFUSED
            asked_at = await self.speak(request.spoken)
            if asked_at is None:
                return Verdict.REFUSED
            self.awaiting_answer = True
            try:
                async with asyncio.timeout(self.wait_s), self._changed:
                    await self._changed.wait_for(lambda: self._answer_after(asked_at)
                                                 is not None)
            except TimeoutError:
                return Verdict.TIMED_OUT
            finally:
                self.awaiting_answer = False
            answer = self._answer_after(asked_at)
            # Consumed: the same words never answer a second question.
            self._utterances = [u for u in self._utterances if u.started_at > asked_at
                                and u is not answer]
        return Verdict.APPROVED if answer is not None and is_clear_yes(answer.text) \
            else Verdict.REFUSED
