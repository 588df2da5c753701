"""The bridge's own words for a confirmation question.

The model never words the question: it could phrase a delete as a tidy-up. The question names
the tool, what kind of effect it has, and every argument that matters, in full. Whitespace runs
are collapsed and control or invisible characters are shown as escapes, so padding before
``; Remove-Item …`` or a right-to-left override cannot hide anything; only harmless arguments
(coordinates, timeouts, file content) are shortened.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.effect_types import Effect

# Arguments that say what a call does; they are always shown whole.
SALIENT_KEYS = ("command", "mode", "path", "destination", "name", "value", "type", "executable",
                "args", "cwd", "url", "text", "shortcut", "key", "pid", "force", "recursive",
                "press_enter", "pattern", "locs", "labels", "overwrite", "append")
HARMLESS_CHARS = 60
# A salient argument longer than this is not put to the user at all: nobody can review it by
# ear or at a glance, so the call is refused instead (see DesktopExecutor).
MAX_REVIEWABLE_CHARS = 2000

_EFFECT_WORDS = {
    Effect.RUNS_CODE: "runs code on this PC",
    Effect.DESTROYS: "changes or deletes things on this PC",
    Effect.READS_SECRETS: "reads keys, passwords or other secrets",
    Effect.UNKNOWN: "is not known to the safety policy",
    Effect.EVERYDAY: "is an everyday action",
}


def visible(value: Any) -> str:
    """One line that shows exactly what ``value`` holds (newlines as ⏎, controls escaped)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    out: list[str] = []
    for ch in text.replace("\r\n", "\n"):
        if ch in "\n\r":
            out.append(" ⏎ ")
        elif ch == "\t" or unicodedata.category(ch) == "Zs":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp", "Cn"):
            out.append(f"\\u{{{ord(ch):04x}}}")
        else:
            out.append(ch)
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


@dataclass(frozen=True)
class StepView:
    """One step of a call as the question shows it."""

    tool: str
    arguments: Mapping[str, Any]
    effect: Effect
    reason: str


def longest_salient(steps: Sequence[StepView]) -> int:
    """Length of the longest argument the question would have to show whole."""
    return max((len(visible(v)) for s in steps for k, v in s.arguments.items()
                if k in SALIENT_KEYS), default=0)


def describe(step: StepView) -> str:
    """``PowerShell (runs code on this PC: …) with command «…», …``."""
    shown: list[str] = []
    for key in sorted(step.arguments, key=lambda k: (k not in SALIENT_KEYS, k)):
        text = visible(step.arguments[key])
        if key not in SALIENT_KEYS:
            text = _shorten(text, HARMLESS_CHARS)
        shown.append(f"{key} «{text}»")
    detail = ", ".join(shown) if shown else "no arguments"
    return f"{step.tool} ({_EFFECT_WORDS[step.effect]}: {visible(step.reason)}) with {detail}"


def terminal_question(called: str, steps: Sequence[StepView]) -> str:
    """The question printed on the terminal."""
    parts = "; then ".join(describe(s) for s in steps)
    name = "" if called == steps[0].tool else f" (called as {visible(called)})"
    return f"Allow {parts}{name}?"


def spoken_question(steps: Sequence[StepView]) -> str:
    """The question the assistant reads out, word for word."""
    parts = "; then ".join(describe(s) for s in steps)
    return f"Safety check from the desktop bridge. Should I do this: {parts}? Please answer yes " \
           "or no."
