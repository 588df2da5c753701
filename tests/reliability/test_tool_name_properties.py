"""Property-based tests of the Windows-MCP name mapping (``bridge/tool_names.py``).

Any call under either name generation, sent to a server of either generation, arrives as
the same canonical steps; old → current → old and current → old → current round trips give
back the original call (``drag: false`` aside, which old servers do not know and is the
default).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.tool_names import (
    CURRENT_TO_OLD,
    DRAG_TOOL,
    OLD_NAMES,
    OLD_TO_CURRENT,
    ToolNameError,
    ToolStep,
    canonical_name,
    for_server,
    is_desktop_name,
    resolve,
    to_canonical,
)

CURRENT_SERVER = frozenset({current for current, _ in OLD_TO_CURRENT.values()}
                           | {"Screenshot", "PowerShell", "FileSystem", "Registry"})
OLD_SERVER = frozenset(OLD_NAMES)
points = st.lists(st.integers(-5000, 5000), min_size=2, max_size=2)
values = st.one_of(st.booleans(), st.integers(-100, 100), st.text(max_size=12), points)
SETTINGS = settings(max_examples=100, deadline=None, database=None)


def arguments_for(old_name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments an old-generation call may carry (no key that a rename would collide with)."""
    _current, renames = OLD_TO_CURRENT[old_name]
    taken = set(renames.values()) | {"drag"}
    keys = st.sampled_from(["loc", "to_loc", "text", "button", "clicks", "use_vision",
                            "shortcut", "name", "mode", "command", "duration", "url",
                            "direction", "clear", "press_enter"]).filter(
        lambda k: k not in taken)
    return st.dictionaries(keys, values, max_size=5)


old_calls = st.sampled_from(sorted(OLD_TO_CURRENT)).flatmap(
    lambda name: st.tuples(st.just(name), arguments_for(name)))


@SETTINGS
@given(call=old_calls)
def test_old_call_round_trips_through_the_current_generation(call: tuple[str, dict]) -> None:
    name, arguments = call
    current_steps = resolve(name, arguments, CURRENT_SERVER)
    assert [s.name for s in current_steps] == [canonical_name(name)]
    back = for_server(current_steps, OLD_SERVER)
    assert back == [ToolStep(name, arguments)]


@SETTINGS
@given(call=old_calls)
def test_old_call_reaches_an_old_server_unchanged(call: tuple[str, dict]) -> None:
    name, arguments = call
    assert resolve(name, arguments, OLD_SERVER) == [ToolStep(name, arguments)]


@SETTINGS
@given(call=old_calls)
def test_current_call_round_trips_through_the_old_generation(call: tuple[str, dict]) -> None:
    name, old_arguments = call
    canonical = to_canonical(name, old_arguments)
    on_old_server = for_server(canonical, OLD_SERVER)
    assert to_canonical(on_old_server[0].name, on_old_server[0].arguments) == canonical


@SETTINGS
@given(start=points, end=points, extra_drag=st.booleans())
def test_drag_round_trips_between_generations(start: list[int], end: list[int],
                                              extra_drag: bool) -> None:
    old = {"from_loc": start, "to_loc": end}
    canonical = to_canonical(DRAG_TOOL, old)
    assert canonical == [ToolStep("Move", {"loc": start}),
                         ToolStep("Move", {"loc": end, "drag": True})]
    assert for_server(canonical, CURRENT_SERVER) == canonical
    assert for_server(canonical, OLD_SERVER) == [ToolStep(DRAG_TOOL, old)]
    single = ToolStep("Move", {"loc": end, "drag": True, "from_loc": start})
    assert for_server([single], OLD_SERVER) == [ToolStep(DRAG_TOOL, old)]


@SETTINGS
@given(name=st.sampled_from(sorted(OLD_NAMES | set(CURRENT_TO_OLD))))
def test_every_name_of_either_generation_is_a_desktop_tool_on_either_server(name: str) -> None:
    assert is_desktop_name(name, CURRENT_SERVER)
    assert is_desktop_name(name, OLD_SERVER)
    assert canonical_name(canonical_name(name)) == canonical_name(name)


@SETTINGS
@given(name=st.text(st.characters(categories=["L", "N"], include_characters="-_"),
                    min_size=1, max_size=20).filter(
    lambda n: n not in OLD_NAMES and n not in CURRENT_TO_OLD),
       arguments=st.dictionaries(st.text(max_size=8), values, max_size=3))
def test_unknown_names_pass_through_or_fail_clearly(name: str, arguments: dict) -> None:
    assert resolve(name, arguments, {name}) == [ToolStep(name, arguments)]
    with pytest.raises(ToolNameError):
        resolve(name, arguments, CURRENT_SERVER - {name})
