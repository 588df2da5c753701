"""The one mapping table between the three Windows-MCP tool generations.

* ``current`` — Windows-MCP 0.8.x: ``Snapshot``, ``Click {loc|label}``, ``Move {loc, drag,
  from_loc}``, ``Shortcut {shortcut: "ctrl+c"}``, ``App {mode, …}``, ``Clipboard {mode:
  get|set}`` ….
* ``app-tool`` — the ``*-Tool`` names with ``App-Tool``: ``State-Tool``, ``Click-Tool {loc}``,
  ``Move-Tool {to_loc}``, ``Drag-Tool {to_loc}`` (from the pointer), ``Shortcut-Tool
  {shortcut: "ctrl+c"}`` ….
* ``mid-2025`` — before ``App-Tool``: ``Launch-Tool {name}``, ``Switch-Tool {name}``,
  ``Key-Tool {key}``, ``Clipboard-Tool {mode: copy|paste, text}``, ``Drag-Tool {from_loc,
  to_loc}``, ``Shortcut-Tool {shortcut: ["ctrl", "c"]}`` (a list: a ``"ctrl+c"`` string is
  refused there), and ``Click-Tool``/``Type-Tool`` with only ``loc``.

The model may use any generation's names (the minted session carries the current ones; the
running server may be old), so every call is first turned into *canonical steps* under the
current names with the current argument shapes (:func:`to_canonical`), and then into calls of
the names and shapes the running server really offers (:func:`for_server`). The safety policy
and the audit decide on the canonical steps, so one rule covers every generation.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from voice_agent import desktop_tools


@dataclass(frozen=True)
class ToolStep:
    """One tool invocation: a name and its arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


class ToolNameError(ValueError):
    """A call cannot be expressed with the tools the server offers."""


CURRENT: Final = "current"
APP_TOOL: Final = "app-tool"
MID_2025: Final = "mid-2025"


@dataclass(frozen=True)
class Form:
    """How one generation spells a current tool.

    Attributes:
        name: the generation's tool name.
        arguments: the current argument names that generation knows.
        renames: current argument name → the generation's name (``loc`` → ``to_loc``).
    """

    name: str
    arguments: frozenset[str]
    renames: Mapping[str, str] = field(default_factory=dict)


def _form(name: str, arguments: str, **renames: str) -> Form:
    return Form(name, frozenset(arguments.split()), renames)


# Current tool → its form in each older generation. A tool missing from a generation's
# column does not exist there. App (mid-2025), Clipboard (mid-2025), Shortcut (mid-2025) and
# Move with drag need more than a rename; see _older_steps.
TABLE: Final[Mapping[str, Mapping[str, Form]]] = {
    "Snapshot": {APP_TOOL: _form("State-Tool", "use_vision use_dom"),
                 MID_2025: _form("State-Tool", "use_vision")},
    "Click": {APP_TOOL: _form("Click-Tool", "loc button clicks"),
              MID_2025: _form("Click-Tool", "loc button clicks")},
    "Type": {APP_TOOL: _form("Type-Tool", "loc text clear press_enter"),
             MID_2025: _form("Type-Tool", "loc text clear")},
    "Scroll": {APP_TOOL: _form("Scroll-Tool", "loc type direction wheel_times"),
               MID_2025: _form("Scroll-Tool", "loc type direction wheel_times")},
    "Move": {APP_TOOL: _form("Move-Tool", "loc", loc="to_loc"),
             MID_2025: _form("Move-Tool", "loc", loc="to_loc")},
    "Shortcut": {APP_TOOL: _form("Shortcut-Tool", "shortcut"),
                 MID_2025: _form("Shortcut-Tool", "shortcut")},
    "Wait": {APP_TOOL: _form("Wait-Tool", "duration"),
             MID_2025: _form("Wait-Tool", "duration")},
    "Scrape": {APP_TOOL: _form("Scrape-Tool", "url use_dom"),
               MID_2025: _form("Scrape-Tool", "url")},
    "PowerShell": {APP_TOOL: _form("Powershell-Tool", "command"),
                   MID_2025: _form("Powershell-Tool", "command")},
    "App": {APP_TOOL: _form("App-Tool", "mode name window_loc window_size"),
            MID_2025: _form("Launch-Tool", "mode name")},
    "Clipboard": {MID_2025: _form("Clipboard-Tool", "mode text")},
}
DRAG_TOOL: Final = "Drag-Tool"
# Names only the older generations have, and the current tool each stands for.
EXTRA_OLD_NAMES: Final[Mapping[str, str]] = {
    DRAG_TOOL: "Move", "Switch-Tool": "App", "Key-Tool": "Shortcut",
}
# Names by which a server shows its generation (the others are shared by both old ones).
MID_2025_MARKERS: Final = frozenset({"Launch-Tool", "Switch-Tool", "Key-Tool", "Clipboard-Tool"})
APP_TOOL_MARKERS: Final = frozenset({"App-Tool"})
CLIPBOARD_MODES: Final[Mapping[str, str]] = {"set": "copy", "get": "paste"}  # current → mid-2025
# Arguments an older server may simply not receive: they tune what is returned or how, never
# what is done, so dropping them cannot change the effect of the call.
HINTS: Final[Mapping[str, frozenset[str]]] = {
    "Snapshot": frozenset({"use_vision", "use_dom", "use_annotation", "use_ui_tree", "display",
                           "region", "width_reference_line", "height_reference_line"}),
    "Scrape": frozenset({"query", "use_dom", "use_sampling"}),
    "PowerShell": frozenset({"timeout"}),
    "Move": frozenset({"duration"}),
}

OLD_TO_CURRENT: Final[Mapping[str, str]] = {
    **{form.name: current for current, forms in TABLE.items() for form in forms.values()},
    **EXTRA_OLD_NAMES,
}
OLD_NAMES: Final[frozenset[str]] = frozenset(OLD_TO_CURRENT)
CURRENT_NAMES: Final[frozenset[str]] = frozenset(TABLE)


@cache
def _defaults() -> dict[str, dict[str, Any]]:
    """Current tool → its arguments' defaults, from the recorded 0.8.8 schemas."""
    out: dict[str, dict[str, Any]] = {}
    for tool in desktop_tools.recorded_tools():
        props = tool["inputSchema"].get("properties", {})
        out[tool["name"]] = {k: p.get("default") for k, p in props.items() if "default" in p}
    return out


def canonical_name(name: str) -> str:
    """The current-generation name of ``name`` (``Drag-Tool`` → ``Move``)."""
    return OLD_TO_CURRENT.get(name, name)


def generation(offered: Collection[str]) -> str:
    """Which generation a server offering ``offered`` belongs to."""
    if offered and any(name in CURRENT_NAMES for name in offered):
        return CURRENT
    if any(name in MID_2025_MARKERS for name in offered):
        return MID_2025
    return APP_TOOL


# --- any generation → canonical steps ------------------------------------------------------

def _keys(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "+".join(str(key) for key in value)
    return str(value)


def to_canonical(name: str, arguments: Mapping[str, Any]) -> list[ToolStep]:
    """Express a call of any generation as steps under the current names and shapes.

    ``Drag-Tool {from_loc, to_loc}`` becomes one atomic ``Move {loc: to_loc, drag: true,
    from_loc}``; ``Drag-Tool {to_loc}`` (or ``{loc}``) drags from the pointer. ``Launch-Tool
    {name}`` and ``Switch-Tool {name}`` become ``App {mode: launch|switch, name}``, ``Key-Tool
    {key}`` and ``Shortcut-Tool {shortcut: [keys]}`` become ``Shortcut {shortcut: "a+b"}``, and
    ``Clipboard-Tool {mode: copy|paste}`` becomes ``Clipboard {mode: set|get}``.

    Raises:
        ToolNameError: a ``Drag-Tool`` call without any target.
    """
    args = dict(arguments)
    if name == DRAG_TOOL:
        target = args.pop("to_loc", args.pop("loc", None))
        if target is None:
            raise ToolNameError("Drag-Tool needs to_loc (the point to drag to)")
        move: dict[str, Any] = {"loc": target, "drag": True}
        if args.get("from_loc") is not None:
            move["from_loc"] = args["from_loc"]
        return [ToolStep("Move", move)]
    if name in ("Launch-Tool", "Switch-Tool"):
        mode = "launch" if name == "Launch-Tool" else "switch"
        return [ToolStep("App", {"mode": mode, **args})]
    if name == "Key-Tool":
        return [ToolStep("Shortcut", {"shortcut": _keys(args.get("key", ""))})]
    if name == "Clipboard-Tool":
        modes = {old: current for current, old in CLIPBOARD_MODES.items()}
        args["mode"] = modes.get(args.get("mode", ""), args.get("mode"))
        return [ToolStep("Clipboard", args)]
    current = OLD_TO_CURRENT.get(name)
    if current is None:
        return [ToolStep(name, args)]
    renames = {old: new for form in TABLE[current].values() for new, old in form.renames.items()}
    args = {renames.get(key, key): value for key, value in args.items()}
    if current == "Shortcut" and "shortcut" in args:
        args["shortcut"] = _keys(args["shortcut"])
    return [ToolStep(current, args)]


# --- canonical steps → the running server's calls ------------------------------------------

def _older_arguments(step: ToolStep, form: Form, gen: str) -> dict[str, Any]:
    """``step``'s arguments under ``form``; refuses what the generation cannot do."""
    defaults = _defaults().get(step.name, {})
    hints = HINTS.get(step.name, frozenset())
    out: dict[str, Any] = {}
    for key, value in step.arguments.items():
        if key in form.arguments:
            out[form.renames.get(key, key)] = value
        elif key == "label" and value is not None:
            raise ToolNameError(f"this Windows-MCP version ({gen}) takes coordinates only: "
                                f"give loc [x, y] from the last snapshot instead of label")
        elif key in hints or value is None or value == defaults.get(key, object()):
            continue  # a hint or the default: the older tool behaves the same without it
        else:
            raise ToolNameError(f"this Windows-MCP version ({gen}) has no {key} for "
                                f"{form.name}")
    return out


def _older_steps(step: ToolStep, gen: str, out: list[ToolStep],
                 offered: Collection[str]) -> list[ToolStep]:
    """One canonical step as calls of an older generation (``out`` so far, for folding)."""
    args = dict(step.arguments)
    if step.name == "Move" and args.get("drag") is True:
        return _older_drag(args, gen, out)
    if step.name == "Move":
        args.pop("drag", None)
    if gen == MID_2025 and step.name == "App":
        mode = args.pop("mode", "launch")
        if mode not in ("launch", "switch"):
            raise ToolNameError(f"this Windows-MCP version ({gen}) can only launch or switch "
                                f"apps, not {mode}")
        name = "Launch-Tool" if mode == "launch" else "Switch-Tool"
        return [ToolStep(name, _older_arguments(ToolStep("App", args),
                                                _form(name, "name"), gen))]
    if gen == MID_2025 and step.name == "Clipboard":
        args["mode"] = CLIPBOARD_MODES.get(args.get("mode", ""), args.get("mode"))
    form = TABLE.get(step.name, {}).get(gen)
    if form is None:
        raise ToolNameError(f"the desktop server has no tool named {step.name} "
                            f"(Windows-MCP {gen} generation)")
    press_enter = gen == MID_2025 and step.name == "Type" and args.pop("press_enter", False)
    converted = _older_arguments(ToolStep(step.name, args), form, gen)
    if gen == MID_2025 and step.name == "Shortcut":
        converted["shortcut"] = [key.strip() for key in str(converted["shortcut"]).split("+")]
    steps = [ToolStep(form.name, converted)]
    if press_enter:
        if "Key-Tool" not in offered:
            raise ToolNameError("this Windows-MCP version cannot press enter after typing")
        steps.append(ToolStep("Key-Tool", {"key": "enter"}))
    return steps


def _older_drag(args: dict[str, Any], gen: str, out: list[ToolStep]) -> list[ToolStep]:
    if args.get("label") is not None:
        raise ToolNameError(f"this Windows-MCP version ({gen}) drags to coordinates only: "
                            f"give loc")
    start = args.get("from_loc")
    if start is None and out and out[-1].name == "Move-Tool":
        # The previous step only positioned the pointer for this drag: fold it in.
        start = out.pop().arguments.get("to_loc")
    target = args.get("loc")
    if gen == APP_TOOL:  # Drag-Tool {to_loc} drags from the pointer
        before = [] if start is None else [ToolStep("Move-Tool", {"to_loc": start})]
        return [*before, ToolStep(DRAG_TOOL, {"to_loc": target})]
    if start is None:
        raise ToolNameError("this Windows-MCP version can only drag with a start point: "
                            "give from_loc")
    return [ToolStep(DRAG_TOOL, {"from_loc": start, "to_loc": target})]


def _current_step(step: ToolStep) -> ToolStep:
    if step.name == "Scrape":
        # The bridge answers no MCP sampling request (see docs/bridge.md), so the server is
        # told not to ask; the page text is compacted for speech by the bridge instead.
        return ToolStep("Scrape", {**step.arguments, "use_sampling": False})
    return step


def for_server(steps: list[ToolStep], offered: Collection[str]) -> list[ToolStep]:
    """Turn canonical steps into calls of the tools the running server ``offered``.

    A current name the server has is used as is (``Scrape`` gets ``use_sampling: false``).
    Otherwise the server's generation decides: ``Move {loc: B, drag: true, from_loc: A}``
    becomes ``Drag-Tool {from_loc: A, to_loc: B}`` (mid-2025) or ``Move-Tool {to_loc: A}`` +
    ``Drag-Tool {to_loc: B}`` (``App-Tool`` generation); a ``Move {loc: A}`` right before a
    drag without ``from_loc`` is folded in as its start.

    Raises:
        ToolNameError: the server offers no form of the tool, or the call needs an argument
            that generation does not have (``label``, a resize on mid-2025 …).
    """
    gen = generation(offered)
    out: list[ToolStep] = []
    for step in steps:
        if step.name in offered:
            out.append(_current_step(step))
            continue
        if step.name not in TABLE or gen == CURRENT:
            raise ToolNameError(f"the desktop server has no tool named {step.name}")
        for call in _older_steps(step, gen, out, offered):
            if call.name not in offered:
                raise ToolNameError(f"the desktop server offers neither {step.name} nor "
                                    f"{call.name}")
            out.append(call)
    return out


def resolve(name: str, arguments: Mapping[str, Any], offered: Collection[str]) -> list[ToolStep]:
    """Both directions in one call: any-generation call → the server's own calls."""
    return for_server(to_canonical(name, arguments), offered)


def _older_names(current: str) -> set[str]:
    names = {form.name for form in TABLE.get(current, {}).values()}
    names |= {old for old, cur in EXTRA_OLD_NAMES.items() if cur == current}
    return names


def is_desktop_name(name: str, offered: Collection[str]) -> bool:
    """Whether ``name`` denotes a desktop tool: offered by the server or mappable onto it."""
    if name in offered:
        return True
    current = canonical_name(name)
    if current not in TABLE:
        return False
    return current in offered or bool(_older_names(current) & set(offered))
