"""The Lambda layer leaves out the local-only modules, and choosing one there fails clearly.

``layers/common/Makefile``'s ``copy-package`` step (what ``sam build`` runs after installing
the requirements) is run on a copy of ``layers/common`` into a temporary ARTIFACTS_DIR,
offline; the ``sam build`` test in test_template.py checks the same tree from the real build.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools.layer_tree import (
    FUNCTIONS_DIR,
    LAYER_DIR,
    assert_is_the_lambda_layer,
    guarded_imports,
    modules_the_functions_reach,
    package_modules,
    run_make,
)
from tests.unit.test_import_graph import import_graph
from voice_agent.errors import ConfigError
from voice_agent.local_only import LOCAL_ONLY_MODULES, local_only_import
from voice_agent.memory.embedding import make_embedder, reset_embedder_cache
from voice_agent.memory.store_factory import make_store

needs_make = pytest.mark.skipif(shutil.which("make") is None,
                                reason="make is not on PATH (sam build runs the layer's Makefile)")


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make copy-package`` run on a copy of layers/common whose package holds bytecode."""
    root = tmp_path_factory.mktemp("layer")
    source = root / "source"
    shutil.copytree(LAYER_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    cache = source / "voice_agent" / "memory" / "__pycache__"
    cache.mkdir()
    (cache / "service.cpython-313.pyc").write_bytes(b"")
    (source / "voice_agent" / "stray.pyc").write_bytes(b"")

    result = run_make("copy-package", root / "artifacts", layer_dir=source)

    assert result.returncode == 0, result.stdout + result.stderr
    return root / "artifacts" / "python"


@needs_make
def test_copy_package_ships_what_the_functions_import_without_local_only_modules(
        built_layer: Path) -> None:
    assert_is_the_lambda_layer(built_layer)
    assert not (built_layer / "voice_agent/memory/embedding/local.py").exists()
    assert (built_layer / "voice_agent/memory/store_dynamodb.py").is_file()
    assert (built_layer / "voice_agent/memory/embedding/bedrock.py").is_file()


def test_makefile_leaves_out_exactly_the_local_only_modules() -> None:
    makefile = (LAYER_DIR / "Makefile").read_text(encoding="utf-8")
    (listed,) = re.findall(r"^LOCAL_ONLY := ((?:.*\\\n)*.*)$", makefile, flags=re.MULTILINE)
    paths = listed.replace("\\\n", " ").split()

    assert {"voice_agent." + p.removesuffix(".py").replace("/", ".")
            for p in paths} == LOCAL_ONLY_MODULES
    assert all((LAYER_DIR / "voice_agent" / p).is_file() for p in paths)


def test_functions_reach_no_local_only_module_except_under_local_only_import() -> None:
    # Given the layer's import graph, deferred imports included
    graph, guarded = import_graph(deferred=True), guarded_imports()
    lambda_modules = package_modules(LAYER_DIR / "voice_agent") - LOCAL_ONLY_MODULES

    # Then a shipped module imports a local-only one only where the absence becomes a ConfigError
    for module in sorted(lambda_modules):
        unguarded = (graph[module] & LOCAL_ONLY_MODULES) - guarded.get(module, set())
        assert not unguarded, (module, sorted(unguarded))
    reached = modules_the_functions_reach()
    assert {"voice_agent.memory.store_dynamodb", "voice_agent.memory.embedding.bedrock",
            "voice_agent.session.service", "voice_agent.auth"} <= reached
    assert not reached & LOCAL_ONLY_MODULES
    assert {path.parent.name for path in FUNCTIONS_DIR.glob("*/app.py")} == {
        "authorizer", "memory", "memory_worker", "search", "session"}


def test_local_only_import_leaves_other_missing_modules_alone() -> None:
    with pytest.raises(ModuleNotFoundError) as caught, local_only_import("x", "y"):
        import voice_agent_no_such_dependency  # type: ignore[import-not-found]  # noqa: F401

    assert caught.value.name == "voice_agent_no_such_dependency"


@pytest.mark.parametrize(("kind", "module"), [
    ("local", "voice_agent.memory.embedding.local"),
    ("hashing", "voice_agent.memory.embedding.hashing"),
])
def test_local_embedder_absent_from_the_install_is_a_config_error(
        kind: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the embedder's module is not installed (as in the Lambda layer)
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "voice-agent-memory")
    monkeypatch.setenv("EMBEDDINGS", kind)
    reset_embedder_cache()

    # Then choosing it names the setting and the one that works there
    with pytest.raises(ConfigError, match=rf"EMBEDDINGS={kind}\) is not in the Lambda layer") \
            as caught:
        make_embedder()
    assert caught.value.status == 500
    assert "set EMBEDDINGS=bedrock" in caught.value.message
    reset_embedder_cache()


def test_sqlite_store_absent_from_the_install_is_a_config_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "voice_agent.memory.store_sqlite", None)
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))

    with pytest.raises(ConfigError, match="SQLite memory store .* is not in the Lambda layer"):
        make_store()


@needs_make
def test_built_layer_imports_every_function_and_refuses_local_settings_clearly(
        built_layer: Path, tmp_path: Path) -> None:
    # Given each function's app.py imported against the built layer (not the source tree),
    # inside Lambda with the local settings chosen
    script = f"""
import importlib.util, json, sys
sys.path[:0] = [{str(built_layer)!r}]
for app in {sorted(str(p) for p in FUNCTIONS_DIR.glob("*/app.py"))!r}:
    name = "app_" + app.split("/")[-2]
    spec = importlib.util.spec_from_file_location(name, app)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
import voice_agent
from voice_agent.errors import ConfigError
from voice_agent.memory.embedding import make_embedder
from voice_agent.memory.store_factory import make_store
out = {{"package": voice_agent.__file__, "bedrock": make_embedder("bedrock").id}}
for name, make in (("local", make_embedder), ("hashing", lambda: make_embedder("hashing")),
                   ("sqlite", make_store)):
    try:
        make()
    except ConfigError as error:
        out[name] = error.message
print(json.dumps(out))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1",
           "POWERTOOLS_TRACE_DISABLED": "true", "AWS_LAMBDA_FUNCTION_NAME": "voice-agent-memory",
           "EMBEDDINGS": "local", "VOICE_AGENT_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)

    # Then the functions load, Bedrock works, and each local choice is a clear ConfigError
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert Path(out["package"]).is_relative_to(built_layer)
    assert out["bedrock"] == "titan-v2:512"
    assert "EMBEDDINGS=local) is not in the Lambda layer" in out["local"]
    assert "EMBEDDINGS=hashing) is not in the Lambda layer" in out["hashing"]
    assert "set MEMORY_TABLE" in out["sqlite"]
