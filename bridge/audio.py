"""Audio I/O behind two small interfaces, so tests can feed and capture audio without devices.

The real devices use ``sounddevice`` (optional extra ``audio``), imported only when audio mode
starts. The wire format is the realtime API's: PCM16, 24 kHz, mono.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any, Protocol

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # 16-bit mono
CHUNK_MS = 100  # microphone block: small enough for quick VAD, large enough to be cheap


class AudioUnavailableError(RuntimeError):
    """Audio mode was requested but sounddevice (or a device) is missing."""


class AudioInput(Protocol):
    """A source of microphone audio (PCM16 24 kHz mono)."""

    def chunks(self) -> AsyncIterator[bytes]:
        """Audio blocks until the input ends."""
        ...

    async def close(self) -> None:
        """Stop capturing; idempotent."""
        ...


class AudioOutput(Protocol):
    """A sink for the assistant's audio."""

    def play(self, pcm16: bytes) -> None:
        """Queue audio for playback (returns at once)."""
        ...

    def clear(self) -> None:
        """Barge-in: stop playing now and drop everything queued."""
        ...

    async def close(self) -> None:
        """Stop playback; idempotent."""
        ...


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise AudioUnavailableError(
            "audio mode needs the optional 'audio' extra (sounddevice and PortAudio): install "
            "it with `uv sync --extra audio` (or `pip install sounddevice`), or use --text"
        ) from exc
    return sounddevice


class MicrophoneInput:
    """The default input device via sounddevice."""

    def __init__(self) -> None:
        self._sd = _sounddevice()
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._stream: Any = None

    async def chunks(self) -> AsyncIterator[bytes]:
        """Blocks of ~100 ms from the microphone."""
        loop = asyncio.get_running_loop()

        def callback(data: Any, frames: int, time_info: Any, status: Any) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, bytes(data))

        self._stream = self._sd.RawInputStream(
            samplerate=SAMPLE_RATE, channels=1, dtype="int16",
            blocksize=SAMPLE_RATE * CHUNK_MS // 1000, callback=callback)
        self._stream.start()
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    async def close(self) -> None:
        """Stop the device."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
        self._queue.put_nowait(None)


class SpeakerOutput:
    """The default output device via sounddevice, with an instantly clearable buffer."""

    def __init__(self) -> None:
        sd = _sounddevice()
        self._buffer = bytearray()
        self._lock = threading.Lock()

        def callback(out: Any, frames: int, time_info: Any, status: Any) -> None:
            wanted = frames * 2
            with self._lock:
                chunk = bytes(self._buffer[:wanted])
                del self._buffer[:wanted]
            out[: len(chunk)] = chunk
            out[len(chunk):] = b"\x00" * (wanted - len(chunk))

        self._stream = sd.RawOutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="int16",
                                          callback=callback)
        self._stream.start()

    def play(self, pcm16: bytes) -> None:
        """Append to the playback buffer."""
        with self._lock:
            self._buffer.extend(pcm16)

    def clear(self) -> None:
        """Drop the rest of the buffer (the device callback then plays silence)."""
        with self._lock:
            self._buffer.clear()

    async def close(self) -> None:
        """Stop the device; idempotent."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
