"""SnapStart: the template switch (on for prod) and the after-restore hook every function
registers, run as the Lambda runtime runs it."""

from __future__ import annotations

import random
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import snapshot_restore_py
import yaml

from voice_agent import aws, http, ratelimit, snapstart
from voice_agent.memory import embedding, jobs, wiring

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("authorizer", "session", "memory", "memory_worker", "search")


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short forms (!Ref, !If, …) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
    else loader.construct_scalar(node)))


def _after_init(function: str, then: str) -> str:
    """What a fresh interpreter prints running ``then`` after importing the function's app."""
    code_dir = REPO_ROOT / "functions" / function
    script = (
        f"import sys; sys.path[:0] = [{str(code_dir)!r}, {str(REPO_ROOT / 'layers/common')!r}]; "
        f"import app, snapshot_restore_py; {then}"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=code_dir, env={"AWS_REGION": "us-east-1",
                                                         "PATH": "/usr/bin:/bin"}).stdout


def _run_after_restore_hooks() -> None:
    # What the runtime does after a restore: every registered callable, in order.
    for func, args, kwargs in snapshot_restore_py.get_after_restore():
        func(*args, **kwargs)


def test_template_snapstart_parameter_switches_published_versions() -> None:
    template = yaml.load((REPO_ROOT / "template.yaml").read_text(), Loader=_CfnLoader)

    assert template["Parameters"]["SnapStart"]["Default"] == "off"
    assert template["Parameters"]["SnapStart"]["AllowedValues"] == ["on", "off"]
    assert template["Conditions"]["SnapStartOn"] == ["SnapStart", "on"]
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["AutoPublishAlias"] == "live"  # SnapStart applies to published versions
    assert globals_["SnapStart"] == ["SnapStartOn", {"ApplyOn": "PublishedVersions"},
                                     "AWS::NoValue"]


def test_samconfig_turns_snapstart_on_for_prod_only() -> None:
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))

    assert "SnapStart=on" in config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    assert not any(o.startswith("SnapStart=")
                   for o in config["default"]["deploy"]["parameters"]["parameter_overrides"])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_registers_the_after_restore_hook_at_init(function: str) -> None:
    # Given a fresh interpreter importing the function as Lambda's init does
    output = _after_init(function, "import voice_agent.snapstart as s; "
                         "print([f is s.after_restore "
                         "for f, _, _ in snapshot_restore_py.get_after_restore()])")

    assert output.strip() == "[True]"  # registered exactly once


def test_after_restore_hook_reseeds_and_drops_connections_and_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aws_lambda_powertools.utilities.parameters import base as parameters_base

    snapstart.register_hooks()
    snapstart.register_hooks()  # idempotent: one entry, however often a module calls it
    assert sum(f is snapstart.after_restore
               for f, _, _ in snapshot_restore_py.get_after_restore()) == 1

    # Given the state init leaves behind: seeded random, pooled clients, cached secrets
    random.seed(1234)
    seeded_state = random.getstate()
    client = http.shared_client(5.0)
    sqs = aws.aws_client("sqs")
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    embedder = embedding.make_embedder()
    limiter = ratelimit.get_rate_limiter(None)
    deps = wiring.memory_deps()
    queue: Any = object()
    jobs._queues.put("sqs", queue)
    provider: Any = object()
    parameters_base.DEFAULT_PROVIDERS["secrets"] = provider
    # (control: without a restore, each of them is reused)
    assert http.shared_client(5.0) is client
    assert aws.aws_client("sqs") is sqs
    assert embedding.make_embedder() is embedder
    assert ratelimit.get_rate_limiter(None) is limiter
    assert wiring.memory_deps() is deps

    # When the runtime restores an environment from the snapshot
    _run_after_restore_hooks()

    # Then randomness is fresh and every client and secret is built anew on first use
    assert random.getstate() != seeded_state
    assert client.is_closed
    assert http.shared_client(5.0) is not client
    assert aws.aws_client("sqs") is not sqs
    assert embedding.make_embedder() is not embedder
    assert ratelimit.get_rate_limiter(None) is not limiter
    assert wiring.memory_deps() is not deps
    assert jobs._queues.get("sqs", object) is not queue
    assert "secrets" not in parameters_base.DEFAULT_PROVIDERS
    http.reset_clients()
    ratelimit.reset_rate_limiter()
    wiring.reset_memory_deps()


def test_memory_function_starts_without_numpy_and_a_snapshot_holds_it() -> None:
    # Given a fresh interpreter importing the memory function as Lambda's init does
    output = _after_init("memory", (
        "loaded = lambda: ['numpy' in sys.modules, 'voice_agent.memory.index' in sys.modules]; "
        "print(loaded()); "
        # What the runtime does before it takes a snapshot: every registered callable.
        "[f(*a, **k) for f, a, k in snapshot_restore_py.get_before_snapshot()]; "
        "print(loaded())"
    ))

    # The cold start leaves the index and numpy to the first search or add; the snapshot,
    # taken after the hook ran, has them (the positive control: the hook imports them).
    assert output.split("\n")[:2] == ["[False, False]", "[True, True]"]
