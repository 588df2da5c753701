"""Audio playback of the assistant's replies, barge-in, and the speech-to-audio figure.

:class:`Playback` plays the reply's audio as it arrives and remembers how much of the current
audio item was sent to the speaker. When the user starts talking over the assistant it stops
playback at once and says how much of the item was actually heard, so the conversation can
tell the server (``conversation.item.truncate``) and the model does not believe the user heard
words that were cut off.
"""

from __future__ import annotations

import time

from bridge.audio import BYTES_PER_MS, AudioOutput
from bridge.status import Metrics


class Playback:
    """Plays reply audio and handles barge-in; without a speaker it only keeps the figures."""

    def __init__(self, audio_out: AudioOutput | None, metrics: Metrics) -> None:
        self.audio_out = audio_out
        self.metrics = metrics
        self._speech_stopped_at: float | None = None
        self._awaiting_first_audio = False
        self._item: tuple[str, float, int] | None = None  # item id, first delta at, bytes
        self._speech_started: dict[str, float] = {}  # user item id → when speech started

    def audio_delta(self, item_id: str, pcm: bytes) -> None:
        """A piece of the reply's audio arrived: play it."""
        now = time.monotonic()
        if self._awaiting_first_audio and self._speech_stopped_at is not None:
            self.metrics.speech_to_audio_ms.append((now - self._speech_stopped_at) * 1000)
            self._awaiting_first_audio = False
        if self._item is None or self._item[0] != item_id:
            self._item = (item_id, now, 0)
        self._item = (item_id, self._item[1], self._item[2] + len(pcm))
        if self.audio_out is not None:
            self.audio_out.play(pcm)

    def speech_started(self, user_item_id: str) -> tuple[str, int] | None:
        """The user began to speak: stop playback (barge-in).

        Returns:
            The assistant item that was playing and how many milliseconds of it were heard
            (what ``conversation.item.truncate`` needs), or None when nothing was playing.
        """
        now = time.monotonic()
        self._speech_started[user_item_id] = now
        if self.audio_out is not None:
            self.audio_out.clear()
        if self._item is None:
            return None
        item_id, first_at, sent = self._item
        self._item = None
        if not item_id:
            return None
        # Heard: what was sent, but no more than the time it has been playing.
        return item_id, min(sent // BYTES_PER_MS, int((now - first_at) * 1000))

    def speech_stopped(self) -> None:
        """The user stopped speaking: the next reply audio measures speech-to-audio."""
        self._speech_stopped_at = time.monotonic()
        self._awaiting_first_audio = True

    def speech_started_at(self, user_item_id: str) -> float | None:
        """When the user's utterance ``user_item_id`` began (once; for confirmations)."""
        return self._speech_started.pop(user_item_id, None)
