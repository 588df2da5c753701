"""The effect classes of the desktop safety policy and what judging a call consults.

An :class:`Assessment` is what :func:`bridge.effects.assess` returns; :class:`Rules` (the word
lists of the policy file), :class:`Focus` (what the last Snapshot said about the focused window)
and :class:`ToolFacts` (the server's MCP annotations) are what it is given besides the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bridge.folding import fold, registry_key, shortcut_keys


class Effect(StrEnum):
    """The effect classes of the desktop safety policy (docs/bridge.md), worst first."""

    RUNS_CODE = "runs_code"
    DESTROYS = "destroys"
    READS_SECRETS = "reads_secrets"
    UNKNOWN = "unknown"
    EVERYDAY = "everyday"


_SEVERITY = {effect: rank for rank, effect in enumerate(Effect)}


@dataclass(frozen=True)
class Assessment:
    """The effect of one step and why (the reason is shown in the question and the audit)."""

    effect: Effect
    reason: str

    def worse(self, other: Assessment) -> Assessment:
        """The more dangerous of two assessments."""
        return self if _SEVERITY[self.effect] <= _SEVERITY[other.effect] else other


EVERYDAY = Assessment(Effect.EVERYDAY, "an everyday action")


@dataclass(frozen=True)
class WordLists:
    """The ``[lists]`` of the policy file, normalised once."""

    shell_apps: tuple[str, ...]  # longest first, so "windows terminal" wins over "terminal"
    shell_app_titles: frozenset[str]
    dangerous_shortcuts: tuple[frozenset[str], ...]
    terminal_windows: tuple[str, ...]
    terminal_window_titles: frozenset[str]
    secret_paths: tuple[str, ...]
    secret_registry_keys: tuple[str, ...]
    command_words: frozenset[str]

    @classmethod
    def from_dict(cls, data: Mapping[str, Iterable[str]]) -> WordLists:
        """Build from the TOML ``[lists]`` table (missing lists are empty)."""
        def words(key: str) -> list[str]:
            return [fold(w) for w in data.get(key, ())]

        return cls(
            shell_apps=tuple(sorted(set(words("shell_apps")), key=len, reverse=True)),
            shell_app_titles=frozenset(words("shell_app_titles")),
            dangerous_shortcuts=tuple(frozenset(shortcut_keys(s))
                                      for s in data.get("dangerous_shortcuts", ())),
            terminal_windows=tuple(words("terminal_windows")),
            terminal_window_titles=frozenset(words("terminal_window_titles")),
            secret_paths=tuple(w.replace("\\", "/") for w in words("secret_paths")),
            secret_registry_keys=tuple(registry_key(w) for w in words("secret_registry_keys")),
            command_words=frozenset(words("command_words")),
        )


@dataclass(frozen=True)
class Focus:
    """What Windows-MCP's last Snapshot said about the windows (``known`` is False without one)."""

    focused: str | None = None
    opened: tuple[str, ...] = ()
    known: bool = False


NO_FOCUS = Focus()


@dataclass(frozen=True)
class ToolFacts:
    """What the running server declares about a tool (MCP ``annotations``)."""

    read_only: bool | None = None
    destructive: bool | None = None


@dataclass(frozen=True)
class Rules:
    """Everything :func:`assess` consults besides the call itself."""

    lists: WordLists
    read_only_cmdlets: frozenset[str] = frozenset()
