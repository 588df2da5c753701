"""The Windows-MCP name mapping table, in both directions."""

from __future__ import annotations

import pytest

from bridge.tool_names import (
    ToolNameError,
    ToolStep,
    canonical_name,
    for_server,
    is_desktop_name,
    resolve,
    to_canonical,
)

CURRENT = {"Snapshot", "Click", "Type", "Move", "Scroll", "Shortcut", "Wait", "App",
           "PowerShell", "Scrape", "FileSystem"}
OLD = {"State-Tool", "Click-Tool", "Type-Tool", "Move-Tool", "Drag-Tool", "Scroll-Tool",
       "Shortcut-Tool", "App-Tool", "Powershell-Tool", "Wait-Tool", "Scrape-Tool"}


def test_drag_tool_on_a_current_server_becomes_two_moves():
    steps = resolve("Drag-Tool", {"from_loc": [1, 2], "to_loc": [3, 4]}, CURRENT)
    assert steps == [ToolStep("Move", {"loc": [1, 2]}),
                     ToolStep("Move", {"loc": [3, 4], "drag": True})]


def test_drag_tool_with_only_loc_drags_to_that_target():
    assert resolve("Drag-Tool", {"loc": [7, 8]}, CURRENT) == [
        ToolStep("Move", {"loc": [7, 8], "drag": True})]


def test_drag_tool_without_target_is_an_error():
    with pytest.raises(ToolNameError):
        to_canonical("Drag-Tool", {"from_loc": [1, 1]})


@pytest.mark.parametrize(("old", "current", "args", "expected"), [
    ("State-Tool", "Snapshot", {"use_vision": True}, {"use_vision": True}),
    ("Click-Tool", "Click", {"loc": [1, 2], "button": "left", "clicks": 2},
     {"loc": [1, 2], "button": "left", "clicks": 2}),
    ("Type-Tool", "Type", {"loc": [1, 2], "text": "a", "clear": True, "press_enter": False},
     {"loc": [1, 2], "text": "a", "clear": True, "press_enter": False}),
    ("Move-Tool", "Move", {"to_loc": [5, 6]}, {"loc": [5, 6]}),
    ("Scroll-Tool", "Scroll", {"direction": "up"}, {"direction": "up"}),
    ("Shortcut-Tool", "Shortcut", {"shortcut": "ctrl+c"}, {"shortcut": "ctrl+c"}),
    ("App-Tool", "App", {"name": "notepad"}, {"name": "notepad"}),
    ("Wait-Tool", "Wait", {"duration": 2}, {"duration": 2}),
    ("Scrape-Tool", "Scrape", {"url": "https://x"}, {"url": "https://x"}),
    ("Powershell-Tool", "PowerShell", {"command": "Get-Date"}, {"command": "Get-Date"}),
])
def test_old_names_map_to_current_and_back(old, current, args, expected):
    assert resolve(old, args, CURRENT) == [ToolStep(current, expected)]
    assert resolve(current, expected, OLD) == [ToolStep(old, args)]
    assert canonical_name(old) == current


def test_move_with_drag_on_an_old_server_becomes_drag_tool():
    assert resolve("Move", {"loc": [9, 9], "drag": True, "from_loc": [1, 1]}, OLD) == [
        ToolStep("Drag-Tool", {"from_loc": [1, 1], "to_loc": [9, 9]})]
    # Two canonical steps fold back into one Drag-Tool.
    steps = to_canonical("Drag-Tool", {"from_loc": [1, 2], "to_loc": [3, 4]})
    assert for_server(steps, OLD) == [
        ToolStep("Drag-Tool", {"from_loc": [1, 2], "to_loc": [3, 4]})]


def test_drag_from_the_current_position_cannot_run_on_an_old_server():
    with pytest.raises(ToolNameError, match="from_loc"):
        resolve("Move", {"loc": [9, 9], "drag": True}, OLD)


def test_unknown_tool_is_an_error_and_not_a_desktop_name():
    with pytest.raises(ToolNameError):
        resolve("Teleport", {}, CURRENT)
    assert not is_desktop_name("Teleport", CURRENT)
    assert is_desktop_name("State-Tool", CURRENT)
    assert is_desktop_name("Snapshot", OLD)
    assert not is_desktop_name("Snapshot", set())
