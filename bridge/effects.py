"""What a desktop call would do to the user's PC: the effect classes of the safety policy.

The model's words are never trusted here. A call is judged from its *effect*: the canonical
tool (old names are mapped onto current ones before this module sees them) and its arguments,
normalised first (modes and key names case-folded, Unicode folded with NFKC, whitespace
collapsed, paths with ``/``), so ``"Delete"``, ``"KILL"``, ``["Win", "R"]`` or a padded command
mean what Windows would make of them.

Everything here is pure: :func:`assess` takes a step, the word lists of the policy file, what
the last Snapshot said about the focused window, and the server's MCP annotations.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


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


# --- normalising --------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def fold(value: Any) -> str:
    """Case-, width- and whitespace-insensitive text of a value (``None`` → ``""``)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", value if isinstance(value, str) else str(value))
    return _SPACE.sub(" ", text).strip().casefold()


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


# --- signals ------------------------------------------------------------------------------

def _mentions_word(text: str, phrases: Iterable[str]) -> str | None:
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
    return _mentions_word(folded, lists.terminal_windows) is not None


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


# --- PowerShell -----------------------------------------------------------------------------

_LITERAL = re.compile(r"[A-Za-z0-9_.:\\/-]+")
_EXECUTING_PARAMETERS = ("-command", "-encodedcommand", "-enc", "-ec", "-scriptblock",
                         "-filepath", "-argumentlist", "-computername", "-session",
                         "-credential", "-e")
_EXECUTING_WORDS = frozenset({"iex", "iwr", "irm", "invoke-expression", "invoke-webrequest",
                              "invoke-restmethod", "start-process", "saps", "start",
                              "invoke-command", "icm", "invoke-item", "ii"})


def powershell(command: Any, rules: Rules) -> Assessment:
    """Judge a PowerShell command: everyday only if it is provably one plain read-only cmdlet.

    A strict tokenizer, not a pattern search: the command must be ASCII, one line, and made of
    space-separated literal words (letters, digits, ``_ . : \\ /`` and a leading ``-``) whose
    first is a listed read-only cmdlet. Anything PowerShell could evaluate — ``( ) { } $ ; | &
    @ ` ,`` quotes, redirection, wildcards, a newline, ``-EncodedCommand`` — means it runs code.
    """
    if not isinstance(command, str) or not command.strip():
        return Assessment(Effect.RUNS_CODE, "PowerShell with no plain command")
    secret = secret_in([command], rules.lists)
    text = command.strip()
    tokens = text.split(" ")
    plain = (text.isascii() and all(_LITERAL.fullmatch(t) for t in tokens))
    if not plain:
        return Assessment(Effect.RUNS_CODE, "PowerShell that is not one plain command"
                          + (f" (and it names {secret})" if secret else ""))
    folded = [t.casefold() for t in tokens]
    if folded[0] not in rules.read_only_cmdlets:
        return Assessment(Effect.RUNS_CODE, f"PowerShell {tokens[0]} is not a listed read-only "
                          "cmdlet")
    for token in folded[1:]:
        if token in _EXECUTING_WORDS or (token.startswith("-") and any(
                p.startswith(token) for p in _EXECUTING_PARAMETERS if len(token) > 1)):
            return Assessment(Effect.RUNS_CODE, f"PowerShell with {token}")
    if secret:
        return Assessment(Effect.READS_SECRETS, "PowerShell reading a key or credential location")
    return Assessment(Effect.EVERYDAY, f"read-only cmdlet {tokens[0]}")


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
    name = _SPACE.sub(" ", name).strip()
    if not name:
        return Assessment(Effect.UNKNOWN, "App launch without a name")
    if name in lists.shell_app_titles or name in lists.shell_apps:
        return Assessment(Effect.RUNS_CODE, f"launching {name}, where typing runs code")
    match = _mentions_word(name, lists.shell_apps)
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
