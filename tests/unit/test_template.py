"""template.yaml honours the contract (the README's HTTP API) and passes the linters.

Also covers `voice_agent_cli.template`, the one reader of the template used by
``voice-agent invoke`` and the dev server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.tools.layer_tree import assert_is_the_lambda_layer
from voice_agent.settings import Settings
from voice_agent_cli.handlers import load_handler
from voice_agent_cli.template import (
    FunctionSpec,
    TemplateError,
    load_sam_app,
    load_template,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

# The route table of the README's HTTP API: (method, path) → function logical id.
CONTRACT_ROUTES = {
    ("GET", "/api/health"): "SessionFunction",
    ("POST", "/api/voice-agent"): "SessionFunction",
    ("GET", "/api/voice-agent/options"): "SessionFunction",
    ("POST", "/api/memory/search"): "MemoryFunction",
    ("POST", "/api/memory"): "MemoryFunction",
    ("GET", "/api/memory"): "MemoryFunction",
    ("DELETE", "/api/memory"): "MemoryFunction",
    ("GET", "/api/memory/export"): "MemoryFunction",
    ("DELETE", "/api/memory/{id}"): "MemoryFunction",
    ("GET", "/api/memory/{id}/history"): "MemoryFunction",
    ("GET", "/api/memory/jobs/{job_id}"): "MemoryFunction",
    ("POST", "/api/search"): "SearchFunction",
}
FUNCTION_DIRS = {
    "AuthorizerFunction": "authorizer",
    "SessionFunction": "session",
    "MemoryFunction": "memory",
    "MemoryWorkerFunction": "memory_worker",
    "SearchFunction": "search",
}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _resources(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == kind}


# --- contract ----------------------------------------------------------------------------------


def test_routes_are_exactly_the_contract_routes_with_their_functions() -> None:
    app = load_sam_app(TEMPLATE)

    routes = {(r.method, r.path): r.function_id for r in app.routes}

    assert routes == CONTRACT_ROUTES
    assert len(app.routes) == len(routes), "a route is declared twice"


def test_only_health_is_open_and_the_rest_runs_the_authorizer() -> None:
    app = load_sam_app(TEMPLATE)

    open_routes = {r.route_key for r in app.routes if not r.authorized}

    assert open_routes == {"GET /api/health"}
    assert app.authorizer_id == "AuthorizerFunction"


def test_functions_have_contract_ids_code_dirs_and_handlers() -> None:
    app = load_sam_app(TEMPLATE)

    assert set(app.functions) == set(FUNCTION_DIRS)
    for logical_id, directory in FUNCTION_DIRS.items():
        spec = app.functions[logical_id]
        assert spec.code_dir == REPO_ROOT / "functions" / directory
        assert spec.handler == "app.lambda_handler"


CLIENT_CALL = re.compile(
    r"""request\(\s*["'](GET|POST|DELETE|PUT|PATCH)["']\s*,\s*f?["'`](/api/[^"'`?]*)""")


def test_every_api_call_of_the_bridge_and_web_client_is_a_template_route() -> None:
    # Given the calls the clients make (placeholders like ${id} or {id} become one segment)
    sources = [REPO_ROOT / "bridge/api_client.py", REPO_ROOT / "web/api.js"]
    calls = {(method, path) for source in sources if source.exists()
             for method, path in CLIENT_CALL.findall(source.read_text(encoding="utf-8"))}
    routes = [(r.method, re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(r.path)) + "$"))
              for r in load_sam_app(TEMPLATE).routes]

    # Then each one reaches a function on AWS
    assert calls, "no client calls found: has the client moved?"
    for method, path in calls:
        concrete = re.sub(r"\$?\{[^}]*\}", "x", path)
        assert any(m == method and rx.match(concrete) for m, rx in routes), (method, path)


def test_every_function_is_python313_arm64_on_the_common_layer(raw: dict[str, Any]) -> None:
    app = load_sam_app(TEMPLATE)
    (layer_id, layer), = _resources(raw, "AWS::Serverless::LayerVersion").items()

    for spec in app.functions.values():
        assert spec.runtime == "python3.13", spec.logical_id
        assert spec.architectures == ("arm64",), spec.logical_id
        assert spec.layer_dirs == (REPO_ROOT / "layers" / "common",), spec.logical_id
    assert layer_id == "CommonLayer"
    props = layer["Properties"]
    assert props["ContentUri"] == "layers/common/"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


def test_functions_set_memory_timeout_tracing_alias_and_log_retention(
        raw: dict[str, Any]) -> None:
    functions = _resources(raw, "AWS::Serverless::Function")
    global_props = raw["Globals"]["Function"]
    log_groups = {
        v["Properties"]["LogGroupName"]["Fn::Sub"]: v["Properties"]
        for v in _resources(raw, "AWS::Logs::LogGroup").values()
        if "LogGroupName" in v["Properties"]
    }

    assert global_props["Tracing"] == "Active"
    assert global_props["AutoPublishAlias"] == "live"
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        assert isinstance(props["MemorySize"], int), logical_id
        assert isinstance(props["Timeout"], int), logical_id
        # Each function's alias rolls back on its own error alarm.
        (alarm,) = props["DeploymentPreference"]["Alarms"]
        assert raw["Resources"][alarm["Ref"]]["Type"] == "AWS::CloudWatch::Alarm"
        assert "RetentionInDays" in log_groups[f"/aws/lambda/${{{logical_id}}}"]


def test_upstream_calls_fit_in_the_function_timeouts() -> None:
    app = load_sam_app(TEMPLATE)
    defaults = Settings()

    # A slow upstream must become our JSON 504/503, never a Lambda timeout.
    assert app.functions["SessionFunction"].timeout_s > defaults.openai_timeout_s + 5
    assert app.functions["SearchFunction"].timeout_s > defaults.tavily_timeout_s + 5
    assert app.functions["MemoryFunction"].timeout_s >= 15


def test_deployment_is_canary_in_prod_and_all_at_once_in_dev(raw: dict[str, Any]) -> None:
    preference = raw["Globals"]["Function"]["DeploymentPreference"]

    assert preference["Type"] == {"Fn::If": ["IsProd", "Canary10Percent5Minutes", "AllAtOnce"]}
    assert raw["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}


def test_http_api_uses_request_authorizer_without_identity_sources(raw: dict[str, Any]) -> None:
    (api,) = _resources(raw, "AWS::Serverless::HttpApi").values()
    auth = api["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]

    assert authorizer["FunctionArn"] == {"Ref": "AuthorizerFunction.Alias"}
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    # Identity sources would make the header mandatory and break cookie-only requests.
    assert authorizer["Identity"] == {"ReauthorizeEvery": 0}
    props = api["Properties"]
    assert {"ThrottlingBurstLimit", "ThrottlingRateLimit"} <= set(props["DefaultRouteSettings"])
    assert "DestinationArn" in props["AccessLogSettings"]


def test_memory_table_matches_the_contract(raw: dict[str, Any]) -> None:
    app = load_sam_app(TEMPLATE)
    props = raw["Resources"]["MemoryTable"]["Properties"]

    schema = app.table_key_schema
    assert schema is not None
    assert schema.key_schema == (("PK", "HASH"), ("SK", "RANGE"))
    assert dict(schema.attribute_types) == {"PK": "S", "SK": "S"}
    assert schema.billing_mode == "PAY_PER_REQUEST"
    assert schema.ttl_attribute == "expires_at"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    kwargs = schema.create_table_kwargs("t")
    assert kwargs["KeySchema"][0] == {"AttributeName": "PK", "KeyType": "HASH"}


def test_queue_has_dead_letter_queue_and_visibility_six_times_worker_timeout(
        raw: dict[str, Any]) -> None:
    app = load_sam_app(TEMPLATE)
    queue = raw["Resources"]["MemoryQueue"]["Properties"]
    worker = raw["Resources"]["MemoryWorkerFunction"]["Properties"]
    (event,) = worker["Events"].values()

    assert queue["VisibilityTimeout"] >= 6 * app.functions["MemoryWorkerFunction"].timeout_s
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["MemoryDeadLetterQueue", "Arn"]}
    for name in ("MemoryQueue", "MemoryDeadLetterQueue"):
        assert raw["Resources"][name]["Properties"]["SqsManagedSseEnabled"] is True
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["MemoryQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_environment_covers_every_setting_and_keys_come_from_secrets(
        raw: dict[str, Any]) -> None:
    global_env = raw["Globals"]["Function"]["Environment"]["Variables"]
    functions = raw["Resources"]

    def env(logical_id: str) -> dict[str, Any]:
        own = functions[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        return {**global_env, **own}

    required = {"MEMORY_TABLE", "POWERTOOLS_SERVICE_NAME", "LOG_LEVEL", "EMBEDDINGS",
                "EMBEDDING_MODEL_ID", "EMBEDDING_DIMENSIONS", "JWT_ISSUER", "JWT_AUDIENCE",
                "JWT_JWKS_URL", "JWT_COOKIE_NAME", "OPENAI_BASE_URL", "TAVILY_BASE_URL",
                "MEMORY_LLM", "SESSION_RATE_LIMIT", "SESSION_RATE_WINDOW_SECONDS",
                "SESSION_TTL_SECONDS", "SEARCH_RATE_LIMIT", "SEARCH_RATE_WINDOW_SECONDS",
                "CORS_ALLOWED_ORIGINS"}
    assert required <= set(global_env)
    assert global_env["MEMORY_TABLE"] == {"Ref": "MemoryTable"}
    assert global_env["EMBEDDINGS"] == "bedrock"
    assert env("MemoryFunction")["MEMORY_QUEUE_URL"] == {"Ref": "MemoryQueue"}
    assert env("SessionFunction")["OPENAI_API_KEY_SECRET"] == {"Ref": "OpenAIApiKeySecret"}
    assert env("SearchFunction")["TAVILY_API_KEY_SECRET"] == {"Ref": "TavilyApiKeySecret"}
    # The keys themselves never appear in the template.
    for logical_id in FUNCTION_DIRS:
        assert not {"OPENAI_API_KEY", "TAVILY_API_KEY"} & set(env(logical_id))


def _policy_names(raw: dict[str, Any], logical_id: str) -> set[str]:
    names = set()
    for policy in raw["Resources"][logical_id]["Properties"].get("Policies", []):
        names.update(policy if isinstance(policy, dict) else {policy: None})
    return names


def test_iam_policies_are_per_function_and_least_privilege(raw: dict[str, Any]) -> None:
    assert _policy_names(raw, "AuthorizerFunction") == set()
    assert _policy_names(raw, "SessionFunction") == {
        "DynamoDBCrudPolicy", "AWSSecretsManagerGetSecretValuePolicy"}
    assert _policy_names(raw, "MemoryFunction") == {
        "DynamoDBCrudPolicy", "SQSSendMessagePolicy", "Statement"}
    assert _policy_names(raw, "MemoryWorkerFunction") == {"DynamoDBCrudPolicy", "Statement"}
    assert _policy_names(raw, "SearchFunction") == {
        "DynamoDBCrudPolicy", "AWSSecretsManagerGetSecretValuePolicy"}
    for logical_id in FUNCTION_DIRS:
        for policy in raw["Resources"][logical_id]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                assert statement["Action"] == "bedrock:InvokeModel"
                assert "*" not in str(statement["Resource"])


def test_alarms_notify_the_topic_and_session_concurrency_is_reserved(
        raw: dict[str, Any]) -> None:
    alarms = _resources(raw, "AWS::CloudWatch::Alarm")
    metrics = {a["Properties"].get("MetricName") for a in alarms.values()}
    expressions = " ".join(
        m.get("Expression", "") for a in alarms.values() for m in a["Properties"].get("Metrics", [])
    )

    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
               for a in alarms.values())
    assert {"Errors", "ApproximateNumberOfMessagesVisible"} <= metrics
    assert "errors / requests" in expressions  # the API's 5xx rate
    assert "session" in expressions  # throttles of the functions
    session = raw["Resources"]["SessionFunction"]["Properties"]
    assert session["ReservedConcurrentExecutions"]["Fn::If"][1] == {
        "Ref": "SessionReservedConcurrency"}
    assert "ApiUrl" in raw["Outputs"]


def test_layer_requirements_are_pinned_to_uv_lock() -> None:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text(encoding="utf-8"))
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(package["name"], set()).add(package["version"])
    lines = (REPO_ROOT / "layers/common/requirements.txt").read_text(encoding="utf-8")
    pins = [line.strip() for line in lines.splitlines()
            if line.strip() and not line.startswith("#")]

    names = set()
    for pin in pins:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[\w,]+\])?==([\w.]+)", pin)
        assert match, f"not an exact pin: {pin}"
        name, version = match.group(1).lower(), match.group(3)
        assert version in locked.get(name, set()), f"{pin} is not the version in uv.lock"
        names.add(name)
    assert names == {"aws-lambda-powertools", "pydantic", "pyjwt", "httpx", "numpy"}


def test_samconfig_has_dev_and_prod_environments() -> None:
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))

    for env, stage in (("default", "Environment=dev"), ("prod", "Environment=prod")):
        deploy = config[env]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        assert deploy["resolve_s3"] is True
        assert deploy["confirm_changeset"] is False
        assert stage in deploy["parameter_overrides"]
        assert config[env]["validate"]["parameters"]["lint"] is True
        assert config[env]["build"]["parameters"] == {"cached": True, "parallel": True}
    assert config["default"]["deploy"]["parameters"]["stack_name"] != (
        config["prod"]["deploy"]["parameters"]["stack_name"])


# --- linters -----------------------------------------------------------------------------------


def _cfn_lint() -> list[str]:
    executable = Path(sys.executable).with_name("cfn-lint")
    return [str(executable)] if executable.exists() else ["cfn-lint"]


@pytest.mark.timeout(600)
def test_cfn_lint_with_serverless_rules_reports_no_errors() -> None:
    # The file name goes first: -a takes several values and would swallow it.
    result = subprocess.run(
        [*_cfn_lint(), str(TEMPLATE), "-a", "cfn_lint_serverless.rules"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )

    # cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    assert result.returncode & 0b11 == 0, result.stdout + result.stderr
    # No warnings either: a new one is fixed, or suppressed and justified in docs/deploy.md.
    assert result.returncode == 0, result.stdout


def _sam() -> str | None:
    return shutil.which("sam") or shutil.which("sam", path=str(Path.home() / ".local/bin"))


def _python313_env() -> dict[str, str] | None:
    """An environment in which ``python3.13`` runs (pyenv shims need PYENV_VERSION)."""
    env = dict(os.environ, PYENV_VERSION="3.13.0", SAM_CLI_TELEMETRY="0",
               AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    if shutil.which("python3.13", path=env.get("PATH")) is None:
        return None
    probe = subprocess.run(["python3.13", "--version"], env=env, capture_output=True, text=True,
                           check=False)
    return env if probe.returncode == 0 else None


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sam_validate_lint_passes() -> None:
    sam = _sam()
    if sam is None:
        pytest.skip("AWS SAM CLI not installed (uv tool install aws-sam-cli)")
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1")

    result = subprocess.run([sam, "validate", "--lint", "--template", str(TEMPLATE)], env=env,
                            capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a cold build downloads and unpacks the layer's arm64 wheels
def test_sam_build_builds_every_function_and_the_layer(tmp_path: Path) -> None:
    sam = _sam()
    if sam is None:
        pytest.skip("AWS SAM CLI not installed (uv tool install aws-sam-cli)")
    env = _python313_env()
    if env is None:
        pytest.skip("python3.13 is not on PATH (sam build without a container needs it)")

    result = subprocess.run(
        [sam, "build", "--template", str(TEMPLATE), "--build-dir", str(tmp_path / "build"),
         "--cache-dir", str(tmp_path / "cache")],
        env=env, capture_output=True, text=True, timeout=900, cwd=REPO_ROOT,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    build = tmp_path / "build"
    for logical_id in FUNCTION_DIRS:
        assert (build / logical_id / "app.py").is_file(), logical_id
    layer = build / "CommonLayer" / "python"
    assert (layer / "voice_agent" / "api.py").is_file()
    # The layer's Makefile ran: the package without the local-only modules, nor the build files.
    assert_is_the_lambda_layer(layer)
    assert not (layer / "Makefile").exists() and not (layer / "requirements.txt").exists()
    # arm64 wheels for python3.13, not the build machine's.
    (core,) = (layer / "pydantic_core").glob("_pydantic_core.*.so")
    assert "cpython-313-aarch64" in core.name


# --- the reader --------------------------------------------------------------------------------

MINI_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Timeout: 7
    Layers: [!Ref Lib]
    Environment:
      Variables:
        PLAIN: from-globals
        NUMBER: 42
        FLAG: true
        TABLE: !Ref Table
        OVERRIDDEN: globals
Resources:
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: lib/}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt: {FunctionArn: !GetAtt Gate.Arn}
  Gate:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: gate/, Handler: app.handler}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      MemorySize: 256
      Environment:
        Variables:
          OVERRIDDEN: function
          SECRET: '{{resolve:secretsmanager:db:SecretString:password}}'
          URL: !Sub "https://${Api}.example.com"
      Events:
        Open:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: get, Path: /open, Auth: {Authorizer: NONE}}
        Closed:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: "/items/{id}"}
"""


@pytest.fixture
def mini_app(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(MINI_TEMPLATE, encoding="utf-8")
    for name in ("gate", "echo", "lib/helper_pkg"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "lib/helper_pkg/__init__.py").write_text("GREETING = 'hi'\n", encoding="utf-8")
    (tmp_path / "echo/app.py").write_text(
        "from helper_pkg import GREETING\n"
        "def handler(event, context):\n    return {'greeting': GREETING, 'event': event}\n",
        encoding="utf-8",
    )
    (tmp_path / "gate/app.py").write_text(
        "def handler(event, context):\n    return {'isAuthorized': True}\n", encoding="utf-8")
    return tmp_path / "template.yaml"


def test_reader_merges_globals_and_leaves_out_unresolvable_values(mini_app: Path) -> None:
    app = load_sam_app(mini_app)

    echo = app.functions["Echo"]
    assert echo.environment == {"PLAIN": "from-globals", "NUMBER": "42", "FLAG": "true",
                                "OVERRIDDEN": "function"}
    assert echo.timeout_s == 7 and echo.memory_size_mb == 256
    assert echo.layer_dirs == (mini_app.parent / "lib",)
    assert app.functions["Gate"].memory_size_mb == 128  # Lambda's default


def test_reader_finds_routes_auth_and_authorizer(mini_app: Path) -> None:
    app = load_sam_app(mini_app)

    assert [(r.route_key, r.function_id, r.authorized) for r in app.routes] == [
        ("GET /open", "Echo", False), ("POST /items/{id}", "Echo", True)]
    assert app.authorizer_id == "Gate"
    assert app.table_key_schema is not None
    assert app.table_key_schema.key_schema == (("id", "HASH"),)
    assert app.table_key_schema.billing_mode == "PROVISIONED"


def test_load_handler_imports_with_layers_under_unique_names_once(mini_app: Path) -> None:
    app = load_sam_app(mini_app)

    echo = load_handler(app.functions["Echo"])
    gate = load_handler(app.functions["Gate"])

    assert echo({"x": 1}, None) == {"greeting": "hi", "event": {"x": 1}}
    assert gate({}, None) == {"isAuthorized": True}
    assert load_handler(app.functions["Echo"]) is echo
    assert echo.__module__ != gate.__module__


def test_unknown_function_and_missing_handler_are_clear_errors(mini_app: Path) -> None:
    app = load_sam_app(mini_app)
    missing = FunctionSpec("Ghost", mini_app.parent / "ghost", "app.handler", {}, ())

    with pytest.raises(TemplateError, match="functions: Echo, Gate"):
        app.function("Nope")
    with pytest.raises(TemplateError, match="does not exist"):
        load_handler(missing)
    with pytest.raises(TemplateError, match="cannot read"):
        load_sam_app(mini_app.parent / "absent.yaml")
