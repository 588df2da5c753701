"""The web client's modules import each other without loops, and app.js only wires."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.test_bridge_imports import find_cycle

WEB = Path(__file__).resolve().parents[2] / "web"
IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["']\./([\w-]+)\.js["']""",
                    re.MULTILINE | re.DOTALL)


def web_graph() -> dict[str, set[str]]:
    return {path.stem: set(IMPORT.findall(path.read_text(encoding="utf-8")))
            for path in WEB.glob("*.js")}


def test_web_import_graph_has_no_cycle():
    graph = web_graph()
    assert {"signin", "call", "memory_panel", "page_tools"} <= graph["app"]  # really read
    assert find_cycle(graph) is None


def test_parts_do_not_import_the_wiring():
    graph = web_graph()
    assert not [name for name, targets in graph.items() if "app" in targets]
