"""The live status line and the end-of-run metrics summary (both on stderr)."""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO


class StatusLine:
    """One line of state: overwritten in place on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._last = ""

    def set(self, text: str) -> None:
        """Show ``text`` (connecting / listening / thinking / running tool X)."""
        if text == self._last:
            return
        self._last = text
        if self._tty:
            self._stream.write(f"\r\x1b[K[{text}]")
        else:
            self._stream.write(f"[status] {text}\n")
        self._stream.flush()

    def clear(self) -> None:
        """Leave the status line so normal output starts on a fresh line."""
        if self._tty and self._last:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
        self._last = ""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Metrics:
    """Counters of one bridge run."""

    turns: int = 0
    tool_calls: Counter[str] = field(default_factory=Counter)
    tool_latency_ms: list[float] = field(default_factory=list)
    speech_to_audio_ms: list[float] = field(default_factory=list)
    sessions: int = 0
    reconnects: int = 0
    started_at: float = field(default_factory=time.monotonic)

    def record_tool(self, name: str, latency_ms: float) -> None:
        """Count one finished tool call."""
        self.tool_calls[name] += 1
        self.tool_latency_ms.append(latency_ms)

    def summary(self) -> str:
        """The multi-line summary printed at exit."""
        lat = self.tool_latency_ms
        calls = ", ".join(f"{n}×{c}" for n, c in sorted(self.tool_calls.items())) or "none"
        lines = [
            f"turns: {self.turns}; sessions: {self.sessions}; reconnects: {self.reconnects}; "
            f"duration: {time.monotonic() - self.started_at:.1f} s",
            f"tool calls: {sum(self.tool_calls.values())} ({calls})",
            f"tool latency: p50 {percentile(lat, 50):.1f} ms, p95 {percentile(lat, 95):.1f} ms",
        ]
        if self.speech_to_audio_ms:
            s2a = self.speech_to_audio_ms
            lines.append(f"speech end → first audio: p50 {percentile(s2a, 50):.0f} ms, "
                         f"p95 {percentile(s2a, 95):.0f} ms (median "
                         f"{statistics.median(s2a):.0f} ms)")
        return "\n".join(lines)
