"""The catalogue's desktop tools come from the recorded Windows-MCP 0.8.8 ``list_tools``."""

from __future__ import annotations

from voice_agent import catalogue, desktop_tools

RECORDED = {tool["name"]: tool for tool in desktop_tools.recorded_tools()}
SESSION = {tool["name"]: tool for tool in catalogue.DESKTOP_TOOLS}


def test_catalogue_desktop_tools_are_the_recorded_tools_in_order():
    assert desktop_tools.recorded_version() == "0.8.8"
    assert [t["name"] for t in catalogue.DESKTOP_TOOLS] == list(RECORDED)
    for name, tool in RECORDED.items():
        params = SESSION[name]["parameters"]
        assert params == desktop_tools.model_parameters(tool["inputSchema"])
        assert set(params["properties"]) == set(tool["inputSchema"].get("properties", {}))
        assert params.get("required", []) == tool["inputSchema"].get("required", [])
        assert tool["description"].startswith(SESSION[name]["description"])
        assert catalogue.TOOL_EXECUTORS[name] == "desktop"


def test_recording_holds_the_0_8_8_arguments_the_old_catalogue_lacked():
    props = {name: set(tool["inputSchema"].get("properties", {}))
             for name, tool in RECORDED.items()}
    assert {"loc", "label", "button", "clicks"} == props["Click"]
    assert "caret_position" in props["Type"]
    assert {"from_loc", "duration", "drag"} <= props["Move"]
    assert {"executable", "args", "cwd"} <= props["App"]
    assert {"region", "display", "width_reference_line", "height_reference_line"} <= (
        props["Snapshot"] & props["Screenshot"])
    assert {"query", "use_dom", "use_sampling"} <= props["Scrape"]
    app_modes = RECORDED["App"]["inputSchema"]["properties"]["mode"]["enum"]
    assert app_modes == ["launch", "launch_executable", "resize", "switch"]
    for name in ("Click", "Type", "Move"):
        assert "Provide either loc or label." in SESSION[name]["description"]
    assert "0=hover only" in SESSION["Click"]["description"]  # clicks are 0–2, not 3


def test_recording_lists_every_0_8_8_tool_and_no_later_one():
    assert {"WaitFor", "DisplayInventory", "FileSystem", "MultiSelect", "MultiEdit",
            "Clipboard", "Process", "Notification", "Registry", "ControlStatus"} <= set(RECORDED)
    assert "Pointer" not in RECORDED  # tools/pointer.py came after 0.8.8
    assert len(RECORDED) == 21


def test_annotations_mark_the_destructive_tools():
    hints = desktop_tools.tool_annotations()
    for name in ("FileSystem", "Registry", "Process", "PowerShell", "App"):
        assert hints[name]["destructiveHint"] is True
    for name in ("Snapshot", "Screenshot", "Scrape", "Wait", "WaitFor"):
        assert hints[name]["readOnlyHint"] is True and hints[name]["destructiveHint"] is False


def test_model_schema_asks_for_plain_values_not_the_json_text_workaround():
    move = SESSION["Move"]["parameters"]["properties"]
    assert move["loc"] == {"items": {"type": "integer"}, "type": "array"}
    assert move["drag"] == {"default": False, "type": "boolean"}
    assert move["duration"] == {"type": "number"}
    # Positive control: a real string stays a string.
    assert SESSION["Type"]["parameters"]["properties"]["text"] == {"type": "string"}
    assert "anyOf" in RECORDED["Move"]["inputSchema"]["properties"]["loc"]


def test_long_description_is_cut_at_a_sentence():
    full = RECORDED["Snapshot"]["description"]
    short = SESSION["Snapshot"]["description"]
    assert len(full) > desktop_tools.DESCRIPTION_MAX_CHARS >= len(short)
    assert short.endswith(".") and full.startswith(short)
    assert SESSION["Click"]["description"] == RECORDED["Click"]["description"]
