"""The Windows-MCP name mapping table: three generations, both directions."""

from __future__ import annotations

import pytest

from bridge.tool_names import (
    APP_TOOL,
    CURRENT,
    MID_2025,
    ToolNameError,
    ToolStep,
    canonical_name,
    for_server,
    generation,
    is_desktop_name,
    resolve,
    to_canonical,
)
from voice_agent import desktop_tools

CURRENT_SERVER = {tool["name"] for tool in desktop_tools.recorded_tools()}
APP_TOOL_SERVER = {"State-Tool", "Click-Tool", "Type-Tool", "Move-Tool", "Drag-Tool",
                   "Scroll-Tool", "Shortcut-Tool", "App-Tool", "Powershell-Tool", "Wait-Tool",
                   "Scrape-Tool"}
MID_2025_SERVER = {"Launch-Tool", "Powershell-Tool", "State-Tool", "Clipboard-Tool",
                   "Click-Tool", "Type-Tool", "Switch-Tool", "Scroll-Tool", "Drag-Tool",
                   "Move-Tool", "Shortcut-Tool", "Key-Tool", "Wait-Tool", "Scrape-Tool"}


def test_generation_of_each_server_is_recognised_from_its_names():
    assert generation(CURRENT_SERVER) == CURRENT
    assert generation(APP_TOOL_SERVER) == APP_TOOL
    assert generation(MID_2025_SERVER) == MID_2025


@pytest.mark.parametrize(("name", "arguments", "expected"), [
    ("Shortcut-Tool", {"shortcut": ["win", "r"]}, ToolStep("Shortcut", {"shortcut": "win+r"})),
    ("Shortcut-Tool", {"shortcut": "ctrl+c"}, ToolStep("Shortcut", {"shortcut": "ctrl+c"})),
    ("Launch-Tool", {"name": "notepad"}, ToolStep("App", {"mode": "launch", "name": "notepad"})),
    ("Switch-Tool", {"name": "Edge"}, ToolStep("App", {"mode": "switch", "name": "Edge"})),
    ("Key-Tool", {"key": "enter"}, ToolStep("Shortcut", {"shortcut": "enter"})),
    ("Clipboard-Tool", {"mode": "copy", "text": "x"},
     ToolStep("Clipboard", {"mode": "set", "text": "x"})),
    ("Clipboard-Tool", {"mode": "paste"}, ToolStep("Clipboard", {"mode": "get"})),
    ("Move-Tool", {"to_loc": [5, 6]}, ToolStep("Move", {"loc": [5, 6]})),
    ("Drag-Tool", {"from_loc": [1, 2], "to_loc": [3, 4]},
     ToolStep("Move", {"loc": [3, 4], "drag": True, "from_loc": [1, 2]})),
    ("Drag-Tool", {"to_loc": [7, 8]}, ToolStep("Move", {"loc": [7, 8], "drag": True})),
    ("Powershell-Tool", {"command": "Get-Date"},
     ToolStep("PowerShell", {"command": "Get-Date"})),
])
def test_older_call_becomes_one_canonical_step_with_current_shapes(name, arguments, expected):
    assert to_canonical(name, arguments) == [expected]
    assert canonical_name(name) == expected.name


def test_drag_tool_on_a_current_server_is_one_atomic_move():
    assert resolve("Drag-Tool", {"from_loc": [1, 2], "to_loc": [3, 4]}, CURRENT_SERVER) == [
        ToolStep("Move", {"loc": [3, 4], "drag": True, "from_loc": [1, 2]})]


def test_drag_tool_without_target_is_an_error():
    with pytest.raises(ToolNameError):
        to_canonical("Drag-Tool", {"from_loc": [1, 1]})


@pytest.mark.parametrize(("current", "arguments", "app_tool", "mid_2025"), [
    ("Snapshot", {"use_vision": True, "use_dom": True, "display": [0]},
     [ToolStep("State-Tool", {"use_vision": True, "use_dom": True})],
     [ToolStep("State-Tool", {"use_vision": True})]),
    ("Click", {"loc": [1, 2], "button": "right", "clicks": 2},
     [ToolStep("Click-Tool", {"loc": [1, 2], "button": "right", "clicks": 2})],
     [ToolStep("Click-Tool", {"loc": [1, 2], "button": "right", "clicks": 2})]),
    ("Shortcut", {"shortcut": "ctrl+shift+esc"},
     [ToolStep("Shortcut-Tool", {"shortcut": "ctrl+shift+esc"})],
     [ToolStep("Shortcut-Tool", {"shortcut": ["ctrl", "shift", "esc"]})]),
    ("App", {"mode": "launch", "name": "notepad"},
     [ToolStep("App-Tool", {"mode": "launch", "name": "notepad"})],
     [ToolStep("Launch-Tool", {"name": "notepad"})]),
    ("App", {"mode": "switch", "name": "Edge"},
     [ToolStep("App-Tool", {"mode": "switch", "name": "Edge"})],
     [ToolStep("Switch-Tool", {"name": "Edge"})]),
    ("Type", {"loc": [1, 2], "text": "hi", "press_enter": True, "caret_position": "idle"},
     [ToolStep("Type-Tool", {"loc": [1, 2], "text": "hi", "press_enter": True})],
     [ToolStep("Type-Tool", {"loc": [1, 2], "text": "hi"}),
      ToolStep("Key-Tool", {"key": "enter"})]),
    ("Move", {"loc": [9, 9], "drag": True, "from_loc": [1, 1]},
     [ToolStep("Move-Tool", {"to_loc": [1, 1]}), ToolStep("Drag-Tool", {"to_loc": [9, 9]})],
     [ToolStep("Drag-Tool", {"from_loc": [1, 1], "to_loc": [9, 9]})]),
    ("PowerShell", {"command": "Get-Date", "timeout": 60},
     [ToolStep("Powershell-Tool", {"command": "Get-Date"})],
     [ToolStep("Powershell-Tool", {"command": "Get-Date"})]),
])
def test_current_call_reaches_each_older_generation_in_its_shape(current, arguments, app_tool,
                                                                 mid_2025):
    assert resolve(current, arguments, APP_TOOL_SERVER) == app_tool
    assert resolve(current, arguments, MID_2025_SERVER) == mid_2025
    # Positive control: the current server gets the call unchanged.
    assert resolve(current, arguments, CURRENT_SERVER) == [ToolStep(current, arguments)]


def test_clipboard_exists_only_in_the_mid_2025_and_current_generations():
    assert resolve("Clipboard", {"mode": "set", "text": "x"}, MID_2025_SERVER) == [
        ToolStep("Clipboard-Tool", {"mode": "copy", "text": "x"})]
    with pytest.raises(ToolNameError, match="no tool named Clipboard"):
        resolve("Clipboard", {"mode": "get"}, APP_TOOL_SERVER)
    assert is_desktop_name("Clipboard-Tool", CURRENT_SERVER)
    assert not is_desktop_name("Clipboard", APP_TOOL_SERVER)


def test_a_move_before_a_drag_is_folded_in_as_its_start_on_mid_2025():
    steps = [ToolStep("Move", {"loc": [1, 2]}), ToolStep("Move", {"loc": [3, 4], "drag": True})]
    assert for_server(steps, MID_2025_SERVER) == [
        ToolStep("Drag-Tool", {"from_loc": [1, 2], "to_loc": [3, 4]})]


def test_drag_from_the_pointer_runs_on_app_tool_but_not_on_mid_2025():
    drag = {"loc": [9, 9], "drag": True}
    assert resolve("Move", drag, APP_TOOL_SERVER) == [ToolStep("Drag-Tool", {"to_loc": [9, 9]})]
    with pytest.raises(ToolNameError, match="from_loc"):
        resolve("Move", drag, MID_2025_SERVER)


@pytest.mark.parametrize(("current", "arguments", "message"), [
    ("Click", {"label": 4}, "give loc"),
    ("Type", {"label": 4, "text": "x"}, "give loc"),
    ("Type", {"loc": [1, 1], "text": "x", "caret_position": "end"}, "no caret_position"),
    ("App", {"mode": "launch_executable", "executable": "C:/x.exe"}, "no executable"),
])
def test_what_an_app_tool_server_cannot_do_is_refused_with_the_reason(current, arguments,
                                                                      message):
    with pytest.raises(ToolNameError, match=message):
        resolve(current, arguments, APP_TOOL_SERVER)
    assert resolve(current, arguments, CURRENT_SERVER) == [ToolStep(current, arguments)]


def test_a_resize_cannot_run_on_mid_2025():
    with pytest.raises(ToolNameError, match="only launch or switch"):
        resolve("App", {"mode": "resize", "window_size": [800, 600]}, MID_2025_SERVER)
    assert resolve("App", {"mode": "resize", "window_size": [800, 600]}, APP_TOOL_SERVER) == [
        ToolStep("App-Tool", {"mode": "resize", "window_size": [800, 600]})]


def test_scrape_on_a_current_server_asks_for_no_sampling():
    assert resolve("Scrape", {"url": "https://x", "use_sampling": True}, CURRENT_SERVER) == [
        ToolStep("Scrape", {"url": "https://x", "use_sampling": False})]
    assert resolve("Scrape", {"url": "https://x", "query": "price"}, APP_TOOL_SERVER) == [
        ToolStep("Scrape-Tool", {"url": "https://x"})]


def test_unknown_tool_is_an_error_and_not_a_desktop_name():
    with pytest.raises(ToolNameError):
        resolve("Teleport", {}, CURRENT_SERVER)
    assert not is_desktop_name("Teleport", CURRENT_SERVER)
    assert is_desktop_name("State-Tool", CURRENT_SERVER)
    assert is_desktop_name("Snapshot", APP_TOOL_SERVER)
    assert is_desktop_name("Launch-Tool", APP_TOOL_SERVER)
    assert is_desktop_name("App", MID_2025_SERVER)
    assert not is_desktop_name("Snapshot", set())
