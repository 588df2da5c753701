"""The bridge's modules import each other without loops (lazy, in-function imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

BRIDGE = Path(__file__).resolve().parents[2] / "bridge"


def bridge_imports(path: Path) -> set[str]:
    """The bridge modules ``path`` imports anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bridge":
                found |= {f"bridge.{alias.name}" for alias in node.names}
            elif node.module.startswith("bridge."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bridge.")}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {f"bridge.{p.stem}": p for p in BRIDGE.glob("*.py") if p.stem != "__init__"}
    return {name: bridge_imports(path) & set(modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_bridge_import_graph_has_no_cycle():
    graph = import_graph()
    assert "bridge.turns" in graph["bridge.conversation"]  # the graph is really read
    assert find_cycle(graph) is None


def test_cycle_finder_reports_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_turn_coordinator_imports_no_io():
    # The state machine stays pure: no sockets, no event loop, no other bridge part but events.
    tree = ast.parse((BRIDGE / "turns.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "dataclasses", "bridge.events"}, imported
