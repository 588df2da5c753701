"""The local route table agrees with what AWS SAM's own translator makes of ``template.yaml``.

``voice_agent_cli.template`` reads routes, their functions and the authorizer itself (the dev
server routes with it). Here ``samtranslator``, the library behind ``sam deploy``, translates
the same template and the routes are read back from the API definition it generates, so the
local reading is checked against SAM's, not against a second reading of our own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from voice_agent_cli.template import load_sam_app

REPO_ROOT = Path(__file__).resolve().parents[2]
SAM_ROUTES = REPO_ROOT / "tests/tools/sam_routes.py"


def _sam_python() -> str | None:
    """The interpreter of the installed SAM CLI (it ships samtranslator), from its shebang."""
    sam = shutil.which("sam") or shutil.which("sam", path=str(Path.home() / ".local/bin"))
    if sam is None:
        return None
    first_line = Path(sam).read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    python = first_line.removeprefix("#!").strip().split(" ")[0]
    return python if first_line.startswith("#!") and Path(python).is_file() else None


@pytest.fixture(scope="module")
def translated() -> dict:
    python = _sam_python()
    if python is None:
        pytest.skip("the SAM CLI (aws-sam-cli, which ships samtranslator) is not installed")
    env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
    result = subprocess.run([python, str(SAM_ROUTES), str(REPO_ROOT / "template.yaml")],
                            capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_route_table_matches_samtranslator(translated: dict) -> None:
    local = sorted([r.method, r.path, r.function_id, r.authorized]
                   for r in load_sam_app().routes)
    assert translated["routes"], "samtranslator produced no routes"
    assert local == translated["routes"]


def test_authorizer_matches_samtranslator(translated: dict) -> None:
    assert translated["authorizer"] is not None
    assert load_sam_app().authorizer_id == translated["authorizer"]
