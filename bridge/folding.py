"""How a desktop call's arguments are normalised before they are judged.

Modes and key names are case-folded, Unicode is folded with NFKC, whitespace is collapsed and
paths use ``/``, so ``"Delete"``, ``"KILL"``, ``["Win", "R"]`` or a padded command mean what
Windows would make of them. Everything here is pure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

SPACE = re.compile(r"\s+")


def fold(value: Any) -> str:
    """Case-, width- and whitespace-insensitive text of a value (``None`` → ``""``)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", value if isinstance(value, str) else str(value))
    return SPACE.sub(" ", text).strip().casefold()


def mode_of(arguments: Mapping[str, Any], default: str) -> str:
    """The ``mode`` argument as Windows-MCP would read it (folded; its default when absent)."""
    mode = arguments.get("mode")
    return default if mode is None else fold(mode)


_KEY_ALIASES = {"windows": "win", "super": "win", "meta": "win", "lwin": "win", "rwin": "win",
                "start": "win", "cmd": "win", "control": "ctrl", "ctl": "ctrl", "lctrl": "ctrl",
                "rctrl": "ctrl", "del": "delete", "return": "enter", "escape": "esc",
                "option": "alt", "menu": "alt", "lalt": "alt", "ralt": "alt",
                "lshift": "shift", "rshift": "shift", "ins": "insert"}


def shortcut_keys(shortcut: Any) -> list[str]:
    """The keys of a shortcut given as ``"ctrl+c"``, ``"Ctrl + C"`` or ``["ctrl", "c"]``."""
    parts: list[str] = []
    items = shortcut if isinstance(shortcut, list | tuple) else [shortcut]
    for item in items:
        parts += [p for p in re.split(r"[+\s]+", fold(item)) if p]
    return [_KEY_ALIASES.get(p, p) for p in parts]


def truthy(value: Any) -> bool:
    """Whether Windows-MCP would read a flag as set (it accepts ``"true"`` strings too)."""
    if isinstance(value, str):
        return fold(value) not in ("", "false", "0", "no", "off", "none", "null")
    return bool(value)


def path_text(value: Any) -> str:
    """A path folded for matching: lower case, ``/`` separators, quotes and doubles removed."""
    text = fold(value).replace("\\", "/").replace('"', "").replace("'", "")
    text = re.sub(r"/{2,}", "/", text)
    return "/" + text.lstrip("/")


def registry_key(value: Any) -> str:
    """A registry path as ``hkcu\\…``/``hklm\\…`` (folded; hive spellings unified)."""
    text = fold(value).replace("/", "\\")
    text = re.sub(r"^(microsoft\.powershell\.core\\)?registry::", "", text)
    text = re.sub(r"\\{2,}", r"\\", text)
    for long, short in (("hkey_current_user", "hkcu"), ("hkey_local_machine", "hklm"),
                        ("hkey_users", "hku"), ("hkey_classes_root", "hkcr")):
        if text.startswith(long):
            text = short + text[len(long):]
    return re.sub(r"^(hk[a-z]+):", r"\1", text)
