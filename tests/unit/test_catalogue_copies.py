"""session_tools: the whole catalogue, as fresh copies a caller may change."""

from __future__ import annotations

from voice_agent import catalogue


def test_session_tools_equal_the_catalogue_in_order() -> None:
    tools = catalogue.session_tools()

    assert tools == [*catalogue.API_TOOLS, *catalogue.DESKTOP_TOOLS, *catalogue.VOICE_TOOLS]


def test_session_tools_changed_by_a_caller_leave_the_catalogue_unchanged() -> None:
    first = catalogue.session_tools()
    first[0]["name"] = "changed"
    first[0]["parameters"]["properties"].clear()

    second = catalogue.session_tools()

    assert second[0]["name"] == catalogue.API_TOOLS[0]["name"] != "changed"
    assert second[0]["parameters"]["properties"]  # nested parts are copies too
    assert catalogue.API_TOOLS[0]["parameters"]["properties"]
