"""Typed lines from stdin, read without blocking the event loop.

One reader serves both the conversation (each line is a user message) and confirmations (the
next line answers y/N), so a line is consumed by exactly one of them. Every line carries the
moment it was read, so a confirmation can refuse lines typed before its question was shown.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import TextIO


class LineSource:
    """Delivers stdin lines one by one; ``None`` means end of input (and stays so)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdin
        self._queue: asyncio.Queue[tuple[float, str | None]] = asyncio.Queue()
        self._started = False
        self._eof = False

    def start(self) -> None:
        """Start the reader; idempotent.

        A daemon thread (not the default executor) reads, because a blocking read on a
        terminal would otherwise hold up interpreter exit after Ctrl-C.
        """
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()

        def pump() -> None:
            try:
                for line in self._stream:
                    loop.call_soon_threadsafe(self._queue.put_nowait,
                                              (time.monotonic(), line.rstrip("\r\n")))
            except (OSError, ValueError):
                pass
            finally:
                try:
                    loop.call_soon_threadsafe(self._queue.put_nowait, (time.monotonic(), None))
                except RuntimeError:
                    pass  # the loop is already closed: nobody is waiting any more

        threading.Thread(target=pump, name="stdin-lines", daemon=True).start()

    @classmethod
    def from_lines(cls, lines: list[str | None] | None = None) -> LineSource:
        """A source fed only through :meth:`feed` (tests, other front ends): no stdin thread."""
        source = cls()
        source._started = True
        for line in lines or []:
            source.feed(line)
        return source

    def feed(self, line: str | None) -> None:
        """Inject a line (tests, or a non-stdin front end); ``None`` ends the input."""
        self._queue.put_nowait((time.monotonic(), line))

    @property
    def at_eof(self) -> bool:
        """Whether end of input has been read."""
        return self._eof

    async def readline(self) -> str | None:
        """The next line, or ``None`` at end of input."""
        if self._eof:
            return None
        self.start()
        _, line = await self._queue.get()
        if line is None:
            self._eof = True
        return line

    async def readline_after(self, since: float, timeout_s: float) -> tuple[str | None, int]:
        """The first line read at or after ``since`` (``time.monotonic()``), within a time limit.

        Lines read before ``since`` are dropped: they were typed before the question they would
        otherwise answer.

        Returns:
            The line (``None`` at end of input) and how many earlier lines were dropped.

        Raises:
            TimeoutError: no line came within ``timeout_s``.
        """
        dropped = 0
        if self._eof:
            return None, dropped
        self.start()
        async with asyncio.timeout(timeout_s):
            while True:
                read_at, line = await self._queue.get()
                if line is None:
                    self._eof = True
                    return None, dropped
                if read_at >= since:
                    return line, dropped
                dropped += 1
