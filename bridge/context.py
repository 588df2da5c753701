"""What the conversation said so far, and how it is carried into a new realtime session.

A realtime session ends after 60 minutes (or drops); the next session starts empty. The
carry-over is a system message summarising older turns plus the last few turns as real
conversation items, so the model continues where it left off. The summary is extractive
(older turns shortened and joined, newest kept when over budget): no extra model call, no
delay at the switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge import client_events


@dataclass
class Turn:
    """One utterance or reply."""

    role: str  # user | assistant
    text: str


@dataclass
class ConversationLog:
    """Records turns; builds the carry-over items."""

    recent_turns: int = 8
    summary_chars: int = 4000
    turn_chars: int = 300
    turns: list[Turn] = field(default_factory=list)
    tool_notes: list[str] = field(default_factory=list)

    def add(self, role: str, text: str) -> None:
        """Record a user utterance or an assistant reply (empty text ignored)."""
        if text.strip():
            self.turns.append(Turn(role, text.strip()))

    def add_tool(self, name: str, ok: bool) -> None:
        """Remember that a tool ran (part of the summary)."""
        self.tool_notes.append(f"{name} ({'ok' if ok else 'failed'})")
        del self.tool_notes[:-20]

    def summary(self) -> str:
        """The extractive summary of turns older than the recent window."""
        older = self.turns[:-self.recent_turns] if self.recent_turns else self.turns
        lines = [f"{t.role}: {_shorten(t.text, self.turn_chars)}" for t in older]
        text = "\n".join(lines)
        if len(text) > self.summary_chars:
            text = "…" + text[-self.summary_chars:]
        return text

    def carry_over_items(self) -> list[dict[str, Any]]:
        """Conversation items for a fresh session: summary note, then the recent turns."""
        if not self.turns:
            return []
        note = ("This conversation continues from an earlier session (the connection was "
                "renewed). Do not greet the user again.")
        summary = self.summary()
        if summary:
            note += f"\nSummary of the earlier conversation:\n{summary}"
        if self.tool_notes:
            note += "\nTools used so far: " + ", ".join(self.tool_notes)
        items = [client_events.message("system", note)]
        recent = self.turns[-self.recent_turns:] if self.recent_turns else []
        items += [client_events.message(t.role, t.text) for t in recent]
        return items


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
