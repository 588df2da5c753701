"""The one mapping table between the two Windows-MCP tool-name generations.

Older Windows-MCP servers (and the original product description) name the desktop tools
``State-Tool``, ``Click-Tool``, ``Move-Tool {to_loc}``, ``Drag-Tool {from_loc, to_loc}`` …;
Windows-MCP 0.8.x calls them ``Snapshot``, ``Click``, ``Move {loc, drag}`` …. The model may use
either generation (the minted session carries the current names; the running server may be
old), so every call is first turned into *canonical steps* under the current names
(:func:`to_canonical`) and then into calls of the names the running server really offers
(:func:`for_server`). Policy and audit work on canonical names, so one rule covers both.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(frozen=True)
class ToolStep:
    """One tool invocation: a name and its arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


class ToolNameError(ValueError):
    """A call cannot be expressed with the tools the server offers."""


# old name → (current name, {old argument: current argument}). Drag-Tool is not here: it
# becomes two steps and is handled by code below.
OLD_TO_CURRENT: Final[Mapping[str, tuple[str, Mapping[str, str]]]] = {
    "State-Tool": ("Snapshot", {}),
    "Click-Tool": ("Click", {}),
    "Type-Tool": ("Type", {}),
    "Move-Tool": ("Move", {"to_loc": "loc"}),
    "Scroll-Tool": ("Scroll", {}),
    "Shortcut-Tool": ("Shortcut", {}),
    "App-Tool": ("App", {}),
    "Wait-Tool": ("Wait", {}),
    "Scrape-Tool": ("Scrape", {}),
    "Powershell-Tool": ("PowerShell", {}),
}
DRAG_TOOL: Final = "Drag-Tool"
CURRENT_TO_OLD: Final[Mapping[str, tuple[str, Mapping[str, str]]]] = {
    current: (old, {v: k for k, v in renames.items()})
    for old, (current, renames) in OLD_TO_CURRENT.items()
}
OLD_NAMES: Final[frozenset[str]] = frozenset([*OLD_TO_CURRENT, DRAG_TOOL])


def canonical_name(name: str) -> str:
    """The current-generation name of ``name`` (``Drag-Tool`` → ``Move``)."""
    if name == DRAG_TOOL:
        return "Move"
    return OLD_TO_CURRENT.get(name, (name, {}))[0]


def _rename(arguments: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    return {renames.get(key, key): value for key, value in arguments.items()}


def to_canonical(name: str, arguments: Mapping[str, Any]) -> list[ToolStep]:
    """Express a call of either generation as steps under the current names.

    ``Drag-Tool {from_loc, to_loc}`` becomes ``Move {loc: from_loc}`` then
    ``Move {loc: to_loc, drag: true}``; a ``Drag-Tool`` given only ``loc`` (or only ``to_loc``)
    drags from the current pointer position to it (the unambiguous reading).

    Raises:
        ToolNameError: a ``Drag-Tool`` call without any target.
    """
    if name == DRAG_TOOL:
        target = arguments.get("to_loc", arguments.get("loc"))
        if target is None:
            raise ToolNameError("Drag-Tool needs to_loc (the point to drag to)")
        start = arguments.get("from_loc")
        steps = [] if start is None else [ToolStep("Move", {"loc": start})]
        steps.append(ToolStep("Move", {"loc": target, "drag": True}))
        return steps
    if name in OLD_TO_CURRENT:
        current, renames = OLD_TO_CURRENT[name]
        return [ToolStep(current, _rename(arguments, renames))]
    return [ToolStep(name, dict(arguments))]


def _old_step(step: ToolStep, offered: Collection[str]) -> ToolStep:
    old, renames = CURRENT_TO_OLD[step.name]
    if old not in offered:
        raise ToolNameError(f"the desktop server offers neither {step.name} nor {old}")
    arguments = dict(step.arguments)
    if step.name == "Move":
        arguments.pop("drag", None)
    return ToolStep(old, _rename(arguments, renames))


def for_server(steps: list[ToolStep], offered: Collection[str]) -> list[ToolStep]:
    """Turn canonical steps into calls of the tools the running server ``offered``.

    A current name the server has is used as is. Otherwise the old name is used: a
    ``Move {loc: A}`` followed by ``Move {loc: B, drag: true}`` (or a single
    ``Move {loc: B, drag: true, from_loc: A}``) becomes ``Drag-Tool {from_loc: A, to_loc: B}``.

    Raises:
        ToolNameError: the server offers no form of the tool, or an old server is asked to
            drag without a known start point.
    """
    out: list[ToolStep] = []
    i = 0
    while i < len(steps):
        step = steps[i]
        if step.name in offered:
            out.append(step)
            i += 1
            continue
        if step.name == "Move" and step.arguments.get("drag"):
            start = step.arguments.get("from_loc")
            if start is None and out and out[-1].name == "Move-Tool":
                # The previous step only positioned the pointer for this drag: fold it in.
                start = out.pop().arguments.get("to_loc")
            if start is None:
                raise ToolNameError("this Windows-MCP version can only drag with a start point: "
                                    "give from_loc")
            if DRAG_TOOL not in offered:
                raise ToolNameError("the desktop server offers no drag tool")
            out.append(ToolStep(DRAG_TOOL, {"from_loc": start, "to_loc": step.arguments["loc"]}))
            i += 1
            continue
        if step.name in CURRENT_TO_OLD:
            out.append(_old_step(step, offered))
            i += 1
            continue
        raise ToolNameError(f"the desktop server has no tool named {step.name}")
    return out


def resolve(name: str, arguments: Mapping[str, Any], offered: Collection[str]) -> list[ToolStep]:
    """Both directions in one call: any-generation call → the server's own calls."""
    return for_server(to_canonical(name, arguments), offered)


def is_desktop_name(name: str, offered: Collection[str]) -> bool:
    """Whether ``name`` denotes a desktop tool: offered by the server or mappable onto it."""
    if name in offered:
        return True
    if name in OLD_NAMES:
        return canonical_name(name) in offered or any(n in offered for n in OLD_NAMES)
    old = CURRENT_TO_OLD.get(name)
    return old is not None and (old[0] in offered or (name == "Move" and DRAG_TOOL in offered))
