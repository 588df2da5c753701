"""What a desktop call would do to the user's PC: the per-tool rules of the safety policy.

The model's words are never trusted here. A call is judged from its *effect*: the canonical
tool (old names are mapped onto current ones before this module sees them) and its arguments,
normalised first (modes and key names case-folded, Unicode folded with NFKC, whitespace
collapsed, paths with ``/``), so ``"Delete"``, ``"KILL"``, ``["Win", "R"]`` or a padded command
mean what Windows would make of them.

Everything here is pure: :func:`assess` takes a step, the word lists of the policy file, what
the last Snapshot said about the focused window, and the server's MCP annotations. The effect
classes and those inputs are in :mod:`bridge.effect_types`, the normalising in
:mod:`bridge.folding`, the signs of a secret, a terminal or a command line in
:mod:`bridge.effect_signals`, and the PowerShell tokenizer in :mod:`bridge.powershell`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bridge.effect_signals import is_terminal_window, looks_like_command, mentions_word, secret_in
from bridge.effect_types import (
    EVERYDAY,
    NO_FOCUS,
    Assessment,
    Effect,
    Focus,
    Rules,
    ToolFacts,
    WordLists,
)
from bridge.folding import SPACE, fold, mode_of, registry_key, shortcut_keys, truthy
from bridge.powershell import powershell

# --- per tool -------------------------------------------------------------------------------

_EVERYDAY_TOOLS = frozenset({"Snapshot", "Screenshot", "Move", "Scroll", "Wait", "WaitFor",
                             "Pointer", "DisplayInventory", "MultiSelect", "Notification"})
_PASTE_KEYS = (frozenset({"ctrl", "v"}), frozenset({"shift", "insert"}),
               frozenset({"ctrl", "shift", "v"}))
_LOCAL_HOST = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[?::1\]?|\[?::\]?|"
                         r"10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|"
                         r"169\.254\.\d+\.\d+|[^.]+\.local|[^.]+\.internal|metadata[^/]*)$")


def _enters(arguments: Mapping[str, Any], text: str) -> bool:
    return truthy(arguments.get("press_enter")) or "\n" in text or "\r" in text


def _typing(text: str, enters: bool, has_target: bool, focus: Focus,
            lists: WordLists) -> Assessment:
    """Typing runs code when it ends a command line into a terminal, console or Run box."""
    if not enters and not text:
        return EVERYDAY
    terminal = is_terminal_window(focus.focused, lists)
    # Type with loc/label clicks first: the text may land in any open window.
    elsewhere = has_target and any(is_terminal_window(w, lists) for w in focus.opened)
    command = looks_like_command(text, lists)
    if enters:
        if terminal or elsewhere:
            return Assessment(Effect.RUNS_CODE, "typing with Enter into a terminal, console or "
                              f"Run box ({focus.focused or 'an open terminal'})")
        if command:
            return Assessment(Effect.RUNS_CODE, "typing a command line with Enter")
        if not focus.known:
            return Assessment(Effect.RUNS_CODE, "typing with Enter where the focused window is "
                              "unknown")
        return EVERYDAY
    if command and (terminal or elsewhere):
        return Assessment(Effect.RUNS_CODE, "typing a command line into a terminal, console or "
                          "Run box")
    return EVERYDAY


def needs_focus(tool: str, arguments: Mapping[str, Any], rules: Rules) -> bool:
    """Whether judging this step needs a fresh reading of the focused window.

    Typing needs it only where the text alone does not decide: Enter after prose, or a
    command line without Enter.
    """
    if tool == "Type":
        text = arguments.get("text")
        text = text if isinstance(text, str) else fold(text)
        return _enters(arguments, text) != looks_like_command(text, rules.lists)
    if tool == "MultiEdit":
        return True
    if tool == "Shortcut":
        keys = set(shortcut_keys(arguments.get("shortcut")))
        return "enter" in keys or any(p <= keys for p in _PASTE_KEYS)
    if tool == "Click":
        return fold(arguments.get("button")) == "right"
    return False


def assess(tool: str, arguments: Mapping[str, Any], rules: Rules, *, focus: Focus = NO_FOCUS,
           facts: ToolFacts | None = None) -> Assessment:
    """The effect of one canonical step (a current Windows-MCP tool name and its arguments)."""
    judge = _JUDGES.get(tool)
    if judge is not None:
        return judge(arguments, rules, focus)
    if tool in _EVERYDAY_TOOLS:
        return EVERYDAY
    return unknown_tool(tool, facts)


def unknown_tool(tool: str, facts: ToolFacts | None) -> Assessment:
    """A tool without a rule: the server's own annotations decide, else it is unknown."""
    if facts is not None and facts.read_only and not facts.destructive:
        return Assessment(Effect.EVERYDAY, f"{tool} is declared read-only by the server")
    if facts is not None and facts.destructive:
        return Assessment(Effect.DESTROYS, f"{tool} is declared destructive by the server")
    return Assessment(Effect.UNKNOWN, f"the policy has no rule for {tool}")


def _powershell(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    return powershell(arguments.get("command"), rules)


def _app(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    mode = mode_of(arguments, "launch")
    lists = rules.lists
    if mode in ("resize", "switch"):
        return EVERYDAY
    if mode == "launch_executable":
        return Assessment(Effect.RUNS_CODE, "starting a program by its executable path")
    if mode != "launch":
        return Assessment(Effect.UNKNOWN, f"App mode {mode!r} has no rule")
    name = fold(arguments.get("name"))
    name = re.sub(r"\((admin|administrator)\)|\.(exe|msc|lnk)\b", " ", name)
    name = SPACE.sub(" ", name).strip()
    if not name:
        return Assessment(Effect.UNKNOWN, "App launch without a name")
    if name in lists.shell_app_titles or name in lists.shell_apps:
        return Assessment(Effect.RUNS_CODE, f"launching {name}, where typing runs code")
    match = mentions_word(name, lists.shell_apps)
    if match or "administrator" in name or "admin" in name.split():
        return Assessment(Effect.RUNS_CODE, f"launching {name}, where typing runs code")
    if secret_in([arguments.get("name")], lists):
        return Assessment(Effect.READS_SECRETS, f"opening {arguments.get('name')}")
    return EVERYDAY


def _shortcut(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    keys = set(shortcut_keys(arguments.get("shortcut")))
    if not keys:
        return Assessment(Effect.UNKNOWN, "a shortcut with no keys")
    shown = "+".join(shortcut_keys(arguments.get("shortcut")))
    for combo in rules.lists.dangerous_shortcuts:
        if combo and combo <= keys:
            effect = Effect.DESTROYS if "delete" in combo else Effect.RUNS_CODE
            return Assessment(effect, f"the shortcut {shown}")
    terminal = is_terminal_window(focus.focused, rules.lists)
    if ("enter" in keys or any(p <= keys for p in _PASTE_KEYS)) and (terminal or not focus.known):
        where = focus.focused if focus.known else "a window the bridge could not identify"
        return Assessment(Effect.RUNS_CODE, f"pressing {shown} in {where}, which can run what "
                          "was typed")
    return EVERYDAY


def _type(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    text = arguments.get("text")
    text = text if isinstance(text, str) else fold(text)
    has_target = arguments.get("loc") is not None or arguments.get("label") is not None
    return _typing(text, _enters(arguments, text), has_target, focus, rules.lists)


def _multi_edit(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    result = EVERYDAY
    for entries in (arguments.get("locs"), arguments.get("labels")):
        for entry in entries if isinstance(entries, list) else [entries]:
            for value in entry if isinstance(entry, list) else [entry]:
                if isinstance(value, str):
                    result = result.worse(_typing(value, "\n" in value or "\r" in value, True,
                                                  focus, rules.lists))
    return result


def _click(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    # A right click pastes in a classic console window.
    if fold(arguments.get("button")) == "right" and (
            is_terminal_window(focus.focused, rules.lists) or not focus.known):
        return Assessment(Effect.RUNS_CODE, "a right click (paste) in a console window")
    return EVERYDAY


def _file_system(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    mode = mode_of(arguments, "")
    places = [arguments.get(k) for k in ("path", "destination", "pattern")]
    if mode in ("write", "copy", "move", "delete"):
        return Assessment(Effect.DESTROYS, f"FileSystem {mode}")
    if mode in ("read", "list", "search", "info"):
        secret = secret_in(places, rules.lists)
        if secret:
            return Assessment(Effect.READS_SECRETS, f"FileSystem {mode} of a key or credential "
                              "location")
        return EVERYDAY
    return Assessment(Effect.UNKNOWN, f"FileSystem mode {mode!r} has no rule")


def _registry(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    mode = mode_of(arguments, "")
    key = registry_key(arguments.get("path"))
    if mode in ("set", "delete"):
        return Assessment(Effect.DESTROYS, f"Registry {mode}")
    if mode in ("get", "list"):
        if any(key == k or key.startswith(k + "\\") for k in rules.lists.secret_registry_keys):
            return Assessment(Effect.READS_SECRETS, f"Registry {mode} of a credential key")
        return EVERYDAY
    return Assessment(Effect.UNKNOWN, f"Registry mode {mode!r} has no rule")


def _process(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    mode = mode_of(arguments, "")
    if mode == "kill":
        return Assessment(Effect.DESTROYS, "ending a process")
    if mode == "list":
        return EVERYDAY
    return Assessment(Effect.UNKNOWN, f"Process mode {mode!r} has no rule")


def _scrape(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    url = fold(arguments.get("url"))
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        return Assessment(Effect.READS_SECRETS, f"Scrape of {arguments.get('url')}, which is "
                          "not a web page")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    host = re.sub(r":\d+$", "", host) if not host.startswith("[") else host.split("]")[0] + "]"
    if _LOCAL_HOST.match(host) or "." not in host or host.startswith("[") or re.fullmatch(
            r"[0-9.]+|0x[0-9a-f.x]+", host):
        return Assessment(Effect.READS_SECRETS, f"Scrape of {host}, an address on this PC or "
                          "its network")
    return EVERYDAY


def _clipboard(arguments: Mapping[str, Any], rules: Rules, focus: Focus) -> Assessment:
    mode = mode_of(arguments, "")
    if mode in ("get", "set", "copy", "paste"):
        return EVERYDAY
    return Assessment(Effect.UNKNOWN, f"Clipboard mode {mode!r} has no rule")


_JUDGES = {
    "PowerShell": _powershell, "App": _app, "Shortcut": _shortcut, "Type": _type,
    "MultiEdit": _multi_edit, "Click": _click, "FileSystem": _file_system,
    "Registry": _registry, "Process": _process, "Scrape": _scrape, "Clipboard": _clipboard,
}
