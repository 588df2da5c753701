"""Strict mypy over the layer, the CLI, the bridge and every function, as the checks job runs it.

Run here too, so the test command a newcomer types catches a typing slip (an import of a name a
module does not export, a literal that no longer fits its annotation) without GitHub.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

FUNCTIONS = sorted(path.parent.name for path in (REPO_ROOT / "functions").glob("*/app.py"))


def _mypy(*targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *targets], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600, check=False)


def test_layer_cli_and_bridge_pass_strict_mypy() -> None:
    # The files and strictness come from pyproject.toml ([tool.mypy]).
    result = _mypy()

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_passes_strict_mypy(function: str) -> None:
    # One run per function: every handler is a module named `app`.
    result = _mypy(f"functions/{function}/app.py")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_functions_are_all_found() -> None:
    assert FUNCTIONS == ["authorizer", "memory", "memory_worker", "search", "session"]
