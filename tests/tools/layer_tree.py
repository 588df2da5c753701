"""What a built Lambda layer must hold, read from the source and checked on the built tree.

The layer is ``layers/common/voice_agent`` without the local-only modules
(`voice_agent.local_only.LOCAL_ONLY_MODULES`): everything the functions import, at module level
or inside a function, except imports wrapped in ``local_only_import`` (which become a
ConfigError where the module is absent). Used by tests/unit/test_layer_build.py (the Makefile's
copy step) and by the ``sam build`` test in tests/unit/test_template.py.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

from tests.unit.test_import_graph import _imports, import_graph
from voice_agent.local_only import LOCAL_ONLY_MODULES

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER_DIR = REPO_ROOT / "layers/common"
FUNCTIONS_DIR = REPO_ROOT / "functions"


def run_make(target: str, artifacts_dir: Path, layer_dir: Path = LAYER_DIR,
             ) -> subprocess.CompletedProcess[str]:
    """Runs ``make -f <layer_dir>/Makefile <target> ARTIFACTS_DIR=<artifacts_dir>``."""
    make = shutil.which("make")
    assert make is not None, "make is not on PATH"
    return subprocess.run([make, "-f", str(layer_dir / "Makefile"), target,
                           f"ARTIFACTS_DIR={artifacts_dir}"],
                          capture_output=True, text=True, timeout=120, check=False)


def _module_name(package_dir: Path, path: Path) -> str:
    parts = ["voice_agent", *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(package_dir: Path) -> set[str]:
    """Dotted names of the modules in a ``voice_agent`` directory (source or built)."""
    return {_module_name(package_dir, path) for path in package_dir.rglob("*.py")}


def _is_local_only_import(node: ast.With) -> bool:
    return any(isinstance(item.context_expr, ast.Call)
               and isinstance(item.context_expr.func, ast.Name)
               and item.context_expr.func.id == "local_only_import" for item in node.items)


def guarded_imports() -> dict[str, set[str]]:
    """Layer module → the modules it imports inside ``with local_only_import(...)``."""
    guarded: dict[str, set[str]] = {}
    for path in (LAYER_DIR / "voice_agent").rglob("*.py"):
        module = _module_name(LAYER_DIR / "voice_agent", path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and _is_local_only_import(node):
                body = ast.Module(body=node.body, type_ignores=[])
                guarded.setdefault(module, set()).update(
                    _imports(body, module, path.name == "__init__.py", deferred=True))
    return guarded


def modules_the_functions_reach() -> set[str]:
    """Layer modules the functions' ``app.py`` import, transitively, deferred imports included.

    Imports under ``local_only_import`` are left out; a module's ancestor packages count as
    imported with it (Python imports them first).
    """
    graph = import_graph(deferred=True)
    guarded = guarded_imports()
    pending = []
    for app in FUNCTIONS_DIR.glob("*/app.py"):
        tree = ast.parse(app.read_text(encoding="utf-8"))
        pending.extend(name for name in _imports(tree, "app", False, deferred=True)
                       if name in graph)
    reached: set[str] = set()
    while pending:
        module = pending.pop()
        if module in reached:
            continue
        reached.add(module)
        parts = module.split(".")
        pending.extend(".".join(parts[:n]) for n in range(1, len(parts)))
        pending.extend(graph[module] - guarded.get(module, set()))
    return {module for module in reached if module.startswith("voice_agent")}


def assert_is_the_lambda_layer(python_dir: Path) -> None:
    """``python_dir/voice_agent`` is the package minus the local-only modules, and complete."""
    source, built = LAYER_DIR / "voice_agent", python_dir / "voice_agent"
    shipped = package_modules(built)

    assert package_modules(source) - shipped == LOCAL_ONLY_MODULES
    assert shipped <= package_modules(source)
    missing = modules_the_functions_reach() - shipped
    assert not missing, f"the functions import modules the layer lacks: {sorted(missing)}"
    assert not [p for p in built.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    data = {p.relative_to(source) for p in source.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert {p.relative_to(built) for p in built.rglob("*")
            if p.is_file() and p.suffix != ".py"} == data
