"""Property-based tests of the Windows-MCP name mapping (``bridge/tool_names.py``).

A call in any of the three generations' shapes turns into canonical steps under the current
names and shapes; sent back to a server of its own generation it is the same call again; and
the canonical steps reach a current server unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.tool_names import (
    APP_TOOL,
    CURRENT_NAMES,
    MID_2025,
    OLD_NAMES,
    TABLE,
    ToolNameError,
    ToolStep,
    canonical_name,
    for_server,
    is_desktop_name,
    resolve,
    to_canonical,
)
from voice_agent import desktop_tools

CURRENT_SERVER = frozenset(tool["name"] for tool in desktop_tools.recorded_tools())
SERVERS = {
    APP_TOOL: frozenset({form.name for forms in TABLE.values()
                         for gen, form in forms.items() if gen == APP_TOOL} | {"Drag-Tool"}),
    MID_2025: frozenset({form.name for forms in TABLE.values()
                         for gen, form in forms.items() if gen == MID_2025}
                        | {"Drag-Tool", "Switch-Tool", "Key-Tool"}),
}
points = st.lists(st.integers(-5000, 5000), min_size=2, max_size=2)
words = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10)
keys = st.lists(st.sampled_from(["ctrl", "alt", "shift", "win", "c", "v", "r", "tab", "f5"]),
                min_size=1, max_size=3, unique=True)
SETTINGS = settings(max_examples=100, deadline=None, database=None)


def _optional(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=strategies)


def _calls(gen: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Calls a server of generation ``gen`` accepts, in that generation's shapes."""
    shared = {
        "State-Tool": _optional(use_vision=st.booleans()),
        "Click-Tool": st.fixed_dictionaries({"loc": points}, optional={
            "button": st.sampled_from(["left", "right", "middle"]),
            "clicks": st.integers(1, 2)}),
        "Scroll-Tool": _optional(loc=points, direction=st.sampled_from(["up", "down"]),
                                 wheel_times=st.integers(1, 5)),
        "Move-Tool": st.fixed_dictionaries({"to_loc": points}),
        "Wait-Tool": st.fixed_dictionaries({"duration": st.integers(1, 5)}),
        "Scrape-Tool": st.fixed_dictionaries({"url": words.map(lambda w: f"https://{w}.org")}),
        "Powershell-Tool": st.fixed_dictionaries({"command": words}),
    }
    if gen == APP_TOOL:
        own = {
            "Type-Tool": st.fixed_dictionaries({"loc": points, "text": words}, optional={
                "clear": st.booleans()}),
            "Drag-Tool": st.fixed_dictionaries({"to_loc": points}),
            "Shortcut-Tool": st.fixed_dictionaries({"shortcut": keys.map("+".join)}),
            "App-Tool": st.fixed_dictionaries({"mode": st.sampled_from(["launch", "switch"]),
                                               "name": words}),
        }
    else:
        own = {
            "Type-Tool": st.fixed_dictionaries({"loc": points, "text": words}, optional={
                "clear": st.booleans()}),
            "Drag-Tool": st.fixed_dictionaries({"from_loc": points, "to_loc": points}),
            "Shortcut-Tool": st.fixed_dictionaries({"shortcut": keys}),
            "Launch-Tool": st.fixed_dictionaries({"name": words}),
            "Switch-Tool": st.fixed_dictionaries({"name": words}),
            "Clipboard-Tool": st.one_of(
                st.fixed_dictionaries({"mode": st.just("copy"), "text": words}),
                st.fixed_dictionaries({"mode": st.just("paste")})),
        }
    table = {**shared, **own}
    return st.sampled_from(sorted(table)).flatmap(
        lambda name: st.tuples(st.just(name), table[name]))


@SETTINGS
@given(gen=st.sampled_from([APP_TOOL, MID_2025]), data=st.data())
def test_older_call_round_trips_through_the_canonical_steps(gen: str, data: Any) -> None:
    name, arguments = data.draw(_calls(gen))
    canonical = to_canonical(name, arguments)
    assert all(step.name in CURRENT_NAMES for step in canonical)
    assert for_server(canonical, SERVERS[gen]) == [ToolStep(name, arguments)]


@SETTINGS
@given(gen=st.sampled_from([APP_TOOL, MID_2025]), data=st.data())
def test_older_call_reaches_a_current_server_in_current_shapes(gen: str, data: Any) -> None:
    name, arguments = data.draw(_calls(gen))
    steps = resolve(name, arguments, CURRENT_SERVER)
    assert [s.name for s in steps] == [canonical_name(name)]
    step = steps[0]
    if step.name == "Shortcut":
        assert isinstance(step.arguments["shortcut"], str)
    if step.name == "Move":
        assert "to_loc" not in step.arguments and "loc" in step.arguments
    # A current server offers what the recorded schema allows: no older argument names.
    recorded = {t["name"]: t["inputSchema"] for t in desktop_tools.recorded_tools()}
    assert set(step.arguments) <= set(recorded[step.name]["properties"])


@SETTINGS
@given(start=points, end=points)
def test_drag_is_atomic_on_a_current_server_and_native_on_each_older_one(
        start: list[int], end: list[int]) -> None:
    canonical = to_canonical("Drag-Tool", {"from_loc": start, "to_loc": end})
    assert canonical == [ToolStep("Move", {"loc": end, "drag": True, "from_loc": start})]
    assert for_server(canonical, CURRENT_SERVER) == canonical
    assert for_server(canonical, SERVERS[MID_2025]) == [
        ToolStep("Drag-Tool", {"from_loc": start, "to_loc": end})]
    assert for_server(canonical, SERVERS[APP_TOOL]) == [
        ToolStep("Move-Tool", {"to_loc": start}), ToolStep("Drag-Tool", {"to_loc": end})]


@SETTINGS
@given(name=st.sampled_from(sorted(OLD_NAMES | CURRENT_NAMES)))
def test_every_name_of_any_generation_is_a_desktop_tool_on_a_current_server(name: str) -> None:
    assert is_desktop_name(name, CURRENT_SERVER)
    assert canonical_name(canonical_name(name)) == canonical_name(name)


@SETTINGS
@given(name=st.text(st.characters(categories=["L", "N"], include_characters="-_"),
                    min_size=1, max_size=20).filter(
    lambda n: n not in OLD_NAMES and n not in CURRENT_NAMES),
       arguments=st.dictionaries(st.text(max_size=8), st.integers(), max_size=3))
def test_unknown_names_pass_through_or_fail_clearly(name: str, arguments: dict) -> None:
    assert resolve(name, arguments, {name}) == [ToolStep(name, arguments)]
    with pytest.raises(ToolNameError):
        resolve(name, arguments, CURRENT_SERVER - {name})
