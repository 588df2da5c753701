"""Signs of danger in a call's arguments: secret locations, terminal windows, command lines.

The words come from the policy file's lists (:class:`~bridge.effect_types.WordLists`); the
values are folded first (:mod:`bridge.folding`). Everything here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bridge.effect_types import WordLists
from bridge.folding import fold, path_text


def mentions_word(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase that appears in ``text`` as whole words."""
    for phrase in phrases:
        if re.search(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", text):
            return phrase
    return None


def secret_in(values: Iterable[Any], lists: WordLists) -> str | None:
    """The secret location one of ``values`` points at, if any."""
    for value in values:
        if value is None or isinstance(value, bool | int | float):
            continue
        text = path_text(value)
        for fragment in lists.secret_paths:
            if fragment in text:
                return str(value)
    return None


def is_terminal_window(title: str | None, lists: WordLists) -> bool:
    """Whether a window title names a terminal, a console or the Run box."""
    folded = fold(title)
    if not folded:
        return False
    if folded in lists.terminal_window_titles:
        return True
    # A Windows path to a shell executable is the default console title ("C:\…\cmd.exe").
    if re.search(r"\\(cmd|powershell|pwsh|bash|wsl)\.exe\b", folded):
        return True
    if re.search(r"\b[\w.-]+@[\w.-]+:", folded):  # "user@host: ~" (ssh, WSL)
        return True
    return mentions_word(folded, lists.terminal_windows) is not None


# Shell syntax that prose does not use: pipes into words, chaining, sub-expressions, variables,
# drive paths, UNC paths, switches (" /q", " -rf"), redirection.
_SHELL_SYNTAX = re.compile(r"\|\s*[a-z]|&&|\|\||`|\$\(|\$\{|\$env:|%[a-z_]+%|\\\\|"
                           r"(^|\s)[a-z]:[\\/]|(^|\s)/[a-z?]{1,3}\b|(^|\s)--?[a-z][\w-]*|"
                           r"(^|\s)\d?>>?\s*\S|\.(exe|bat|cmd|ps1|vbs|msc|hta|lnk|scr)\b")
_SEGMENTS = re.compile(r"[\r\n;|&]+")


def looks_like_command(text: str, lists: WordLists) -> bool:
    """Whether typed text reads like a command line rather than prose.

    A segment (split at newlines, ``;``, ``|`` and ``&``) that starts with a command word or a
    ``Verb-Noun`` cmdlet, or shell syntax anywhere, makes it a command.
    """
    folded_all = fold(text)
    if _SHELL_SYNTAX.search(folded_all):
        return True
    for segment in _SEGMENTS.split(text):
        folded = fold(segment)
        if not folded:
            continue
        first = re.split(r"[\s(\"']", folded, maxsplit=1)[0].rsplit("\\", 1)[-1]
        if first in lists.command_words or re.fullmatch(r"[a-z]+-[a-z]+", first):
            return True
    return False
