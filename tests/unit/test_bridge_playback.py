"""Playback and barge-in: what the speaker gets and what the server is told was heard."""

from __future__ import annotations

from bridge.audio import BYTES_PER_MS
from bridge.playback import Playback
from bridge.status import Metrics


class Speaker:
    def __init__(self) -> None:
        self.played = bytearray()
        self.cleared = 0

    def play(self, pcm16: bytes) -> None:
        self.played += pcm16

    def clear(self) -> None:
        self.cleared += 1

    async def close(self) -> None:
        pass


def test_barge_in_clears_playback_and_reports_at_most_what_was_sent():
    speaker, metrics = Speaker(), Metrics()
    playback = Playback(speaker, metrics)
    playback.audio_delta("a1", b"\x00" * (200 * BYTES_PER_MS))
    playback.audio_delta("a1", b"\x00" * (100 * BYTES_PER_MS))
    assert len(speaker.played) == 300 * BYTES_PER_MS
    heard = playback.speech_started("u1")
    assert speaker.cleared == 1
    assert heard is not None and heard[0] == "a1" and 0 <= heard[1] <= 300
    # The item is over: a second barge-in has nothing to truncate, but still stops playback.
    assert playback.speech_started("u2") is None and speaker.cleared == 2


def test_new_audio_item_restarts_the_count():
    playback = Playback(Speaker(), Metrics())
    playback.audio_delta("a1", b"\x00" * (500 * BYTES_PER_MS))
    playback.audio_delta("a2", b"\x00" * BYTES_PER_MS)
    heard = playback.speech_started("u1")
    assert heard is not None and heard[0] == "a2" and heard[1] <= 1


def test_speech_to_audio_is_measured_once_per_user_turn():
    metrics = Metrics()
    playback = Playback(None, metrics)  # no speaker: figures only
    playback.audio_delta("a0", b"\x00\x00")
    assert metrics.speech_to_audio_ms == []  # no user speech before it
    playback.speech_stopped()
    playback.audio_delta("a1", b"\x00\x00")
    playback.audio_delta("a1", b"\x00\x00")
    assert len(metrics.speech_to_audio_ms) == 1


def test_speech_start_time_is_kept_for_the_confirmer_once():
    playback = Playback(None, Metrics())
    playback.speech_started("u1")
    assert playback.speech_started_at("u1") is not None
    assert playback.speech_started_at("u1") is None
    assert playback.speech_started_at("unknown") is None
