"""Cold start: a function imports only what its path needs (no X-Ray SDK with tracing off)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _loaded_after_import(function: str, env: dict[str, str], modules: list[str]) -> list[str]:
    code_dir = REPO_ROOT / "functions" / function
    script = (
        f"import sys; sys.path[:0] = [{str(code_dir)!r}, {str(REPO_ROOT / 'layers/common')!r}]; "
        f"import app; print(' '.join(m for m in {modules!r} if m in sys.modules))"
    )
    base = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": f"voice-agent-{function}"}
    return subprocess.run([sys.executable, "-c", script], env={**base, **env}, cwd=code_dir,
                          capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize("function", ["session", "memory", "search"])
def test_function_with_tracing_off_loads_no_xray_sdk_or_boto3(function: str) -> None:
    loaded = _loaded_after_import(function, {"POWERTOOLS_TRACE_DISABLED": "true"},
                                  ["aws_xray_sdk.core", "boto3", "onnxruntime"])

    assert loaded == []


def test_function_with_tracing_on_traces_through_the_xray_sdk() -> None:
    # Control: inside Lambda with tracing on, the SDK is loaded and patches boto3 and httpx
    loaded = _loaded_after_import("session", {"LAMBDA_TASK_ROOT": "/var/task"},
                                  ["aws_xray_sdk.core", "aws_xray_sdk.ext.httpx.patch",
                                   "aws_xray_sdk.ext.requests.patch"])

    assert loaded == ["aws_xray_sdk.core", "aws_xray_sdk.ext.httpx.patch"]
