"""No import loop between the modules of the layer, the CLI and the bridge.

The graph is read from the source (``ast``), not by importing. Two readings: module-level
imports only (a loop there breaks at import time), and every import, including those inside
functions (a deferred import is how a loop is usually hidden, so it counts as a loop too).
Imports under ``TYPE_CHECKING`` never run and are left out of both. Each loop found is
reported as the list of modules it goes through.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"voice_agent": REPO_ROOT / "layers/common/voice_agent",
            "voice_agent_cli": REPO_ROOT / "voice_agent_cli",
            "bridge": REPO_ROOT / "bridge"}


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module, module: str, is_package: bool, *,
             deferred: bool) -> Iterator[str]:
    """Modules ``module`` imports (relative imports resolved).

    Args:
        deferred: Also the imports inside functions and classes, not only those that run
            when ``module`` is imported.
    """
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if deferred or isinstance(node, ast.ClassDef):
                pending.extend(node.body)
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            pending.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(*, deferred: bool = False) -> dict[str, set[str]]:
    """Project module → project modules it imports (at module level, or anywhere)."""
    sources: dict[str, tuple[Path, bool]] = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            sources[_module_name(package, root, path)] = (path, path.name == "__init__.py")
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # A module's own ancestor packages are imported before it in any case: an edge to one
        # (`from voice_agent.memory.embedding import minilm_onnx`) is no loop of its own.
        graph[module] = {name for name in _imports(tree, module, is_package,
                                                           deferred=deferred)
                         if name in sources and name != module
                         and not module.startswith(name + ".")}
    return graph


def import_loops(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return loops


def test_loop_finder_finds_a_loop_and_ignores_a_chain():
    assert import_loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_loops({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_an_import_of_the_own_package_is_not_a_loop():
    graph = import_graph(deferred=True)
    assert "voice_agent.memory.embedding" not in graph["voice_agent.memory.embedding.local"]
    assert "voice_agent.memory.embedding.minilm_onnx" in graph[
        "voice_agent.memory.embedding.local"]


def test_graph_sees_the_project_imports():
    graph = import_graph()
    assert "voice_agent.auth" in graph and "bridge.serve" in graph
    assert "voice_agent.errors" in graph["voice_agent.api"]
    assert "voice_agent_cli.template" in graph["voice_agent_cli.handlers"]
    assert "bridge.app" not in graph["bridge.cli"]  # imported inside main() only
    assert "bridge.app" in import_graph(deferred=True)["bridge.cli"]


def test_layer_cli_and_bridge_have_no_import_loop_at_import_time():
    assert import_loops(import_graph()) == []


# Loops closed only by an import inside a function, each with what ends it; remove an entry
# when its loop is gone. None are left: keep it that way.
KNOWN_DEFERRED_LOOPS: list[list[str]] = []


def test_no_import_loop_is_hidden_by_a_deferred_import():
    loops = import_loops(import_graph(deferred=True))
    assert [loop for loop in loops if loop not in KNOWN_DEFERRED_LOOPS] == []
