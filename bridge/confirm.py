"""Asking the user before a risky desktop action runs.

Two ways, one interface (:class:`Confirmer`):

* :class:`TerminalConfirmer` (``--text`` and ``--serve``): the question goes to stderr and the
  next typed line answers (y/N); end of input refuses.
* :class:`UtteranceConfirmer` (voice): the model cannot confirm for itself, so the first call
  returns "needs the user's confirmation" (the model then asks aloud); when the model calls
  again with the same arguments, the call runs only if the user's own next utterance — spoken
  after the question was raised — is a clear yes. Tool arguments such as ``confirmed: true``
  play no part.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TextIO

from bridge.lines import LineSource

_YES = {"y", "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "confirmed",
        "affirmative", "absolutely", "correct", "ja", "oui", "si", "go ahead", "do it",
        "please do", "yes please", "go for it", "run it"}
_NO_WORDS = {"no", "not", "don't", "dont", "do not", "stop", "wait", "cancel", "never", "nope",
             "n't", "hold"}


def is_clear_yes(text: str) -> bool:
    """Whether an utterance is an unambiguous yes (no negation anywhere in it)."""
    words = re.findall(r"[a-z']+", text.lower())
    if not words or len(words) > 8:
        return False
    if any(w in _NO_WORDS or w.endswith("n't") for w in words):
        return False
    return words[0] in _YES or " ".join(words[:2]) in _YES or " ".join(words[:3]) in _YES


class Verdict(StrEnum):
    """The answer to a confirmation request."""

    APPROVED = "approved"
    REFUSED = "refused"
    PENDING = "pending"


@dataclass(frozen=True)
class ConfirmRequest:
    """What is about to run."""

    tool: str
    arguments: dict[str, Any]

    @property
    def question(self) -> str:
        """A short human question."""
        args = json.dumps(self.arguments, ensure_ascii=False)
        if len(args) > 300:
            args = args[:300] + "…"
        return f"Allow {self.tool} {args}?"

    @property
    def fingerprint(self) -> str:
        """Identity of the call: the same tool with the same arguments."""
        return self.tool + json.dumps(self.arguments, sort_keys=True, ensure_ascii=False)


class Confirmer(Protocol):
    """Decides whether the user approves one call."""

    async def confirm(self, request: ConfirmRequest) -> Verdict:
        """Approve, refuse, or (voice) say that the user must be asked first."""
        ...


class TerminalConfirmer:
    """Asks on stderr; the next stdin line answers; end of input refuses."""

    def __init__(self, lines: LineSource, err: TextIO | None = None) -> None:
        self._lines = lines
        self._err = err or sys.stderr
        # One question at a time: parallel calls must not share an answer line.
        self._lock = asyncio.Lock()

    async def confirm(self, request: ConfirmRequest) -> Verdict:
        """Print the question and wait for y/N."""
        async with self._lock:
            print(f"\n{request.question} [y/N] ", file=self._err, flush=True)
            answer = await self._lines.readline()
        if answer is None:
            print("(end of input: refused)", file=self._err, flush=True)
            return Verdict.REFUSED
        return Verdict.APPROVED if answer.strip().lower() in ("y", "yes") else Verdict.REFUSED


@dataclass
class _Pending:
    raised_at: float


@dataclass
class _Utterance:
    started_at: float
    text: str


@dataclass
class UtteranceConfirmer:
    """Voice confirmations bound to the user's own words (see module docstring).

    Attributes:
        wait_s: how long a repeated call waits for the user's answer to be transcribed.
        expiry_s: after this long an unanswered question is forgotten.
    """

    wait_s: float = 15.0
    expiry_s: float = 120.0
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _utterances: list[_Utterance] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def on_user_utterance(self, text: str, started_at: float | None = None) -> None:
        """Record what the user said (a transcript or a typed line).

        Args:
            text: the words.
            started_at: ``time.monotonic()`` when the user started speaking (defaults to now);
                an answer must have been started after the question was raised.
        """
        self._utterances.append(_Utterance(started_at or time.monotonic(), text))
        del self._utterances[:-20]
        async with self._changed:
            self._changed.notify_all()

    def _answer_after(self, t: float) -> _Utterance | None:
        return next((u for u in self._utterances if u.started_at > t), None)

    async def confirm(self, request: ConfirmRequest) -> Verdict:
        """First call: PENDING (ask the user). Repeated call: the user's next words decide."""
        now = time.monotonic()
        self._pending = {k: p for k, p in self._pending.items()
                         if now - p.raised_at < self.expiry_s}
        pending = self._pending.get(request.fingerprint)
        if pending is None:
            self._pending[request.fingerprint] = _Pending(now)
            return Verdict.PENDING
        try:
            async with asyncio.timeout(self.wait_s), self._changed:
                await self._changed.wait_for(lambda: self._answer_after(pending.raised_at)
                                             is not None)
        except TimeoutError:
            return Verdict.REFUSED
        finally:
            self._pending.pop(request.fingerprint, None)
        answer = self._answer_after(pending.raised_at)
        return Verdict.APPROVED if answer is not None and is_clear_yes(answer.text) \
            else Verdict.REFUSED
