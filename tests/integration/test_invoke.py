"""``voice-agent invoke`` runs every function of template.yaml on the events in events/.

Most tests run the command in a subprocess (as a user would, stdout = response JSON); a few
call `run_invoke` directly. Upstreams are loopback fakes and moto's server on 127.0.0.1, so
nothing reaches the network.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import JwtKit
from tests.fakes.openai_realtime_api import FakeOpenAI
from tests.fakes.tavily import FakeTavily
from voice_agent import catalogue
from voice_agent_cli.invoke import build_environment, read_env_vars, run_invoke
from voice_agent_cli.template import load_sam_app

# Each test starts Python subprocesses that import the whole layer; on a busy machine a chain
# of them takes minutes, which is not a hang.
pytestmark = pytest.mark.timeout(900)

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events"
# The functions the tests below invoke on their events; a new function needs its tests here.
COVERED_FUNCTIONS = {"AuthorizerFunction", "SessionFunction", "MemoryFunction",
                     "MemoryWorkerFunction", "SearchFunction"}


@dataclass
class Invocation:
    returncode: int
    stdout: str
    stderr: str

    @property
    def response(self) -> Any:
        return json.loads(self.stdout)

    @property
    def body(self) -> Any:
        return json.loads(self.response["body"]) if self.response.get("body") else None


def invoke(logical_id: str, event: str | Path, env_vars: Path | None = None, *,
           via_main: bool = False, extra_env: dict[str, str] | None = None) -> Invocation:
    """Run ``voice-agent invoke`` in a subprocess from the repository root."""
    event_path = event if isinstance(event, Path) else EVENTS / event
    command = [sys.executable, "-m", "voice_agent_cli.main", "invoke"] if via_main else [
        sys.executable, "-m", "voice_agent_cli.invoke"]
    command += [logical_id, "-e", str(event_path)]
    if env_vars is not None:
        command += ["--env-vars", str(env_vars)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, **(extra_env or {})})
    return Invocation(result.returncode, result.stdout, result.stderr)


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# --- session -----------------------------------------------------------------------------------


def test_session_without_openai_key_prints_the_seed_500() -> None:
    result = invoke("SessionFunction", "voice_agent.json")

    assert result.returncode == 0, result.stderr
    assert result.response["statusCode"] == 500
    assert result.response["body"] == json.dumps({"error": "OPENAI_API_KEY is not set"})


def test_voice_agent_command_wires_invoke_through_main() -> None:
    result = invoke("SessionFunction", "voice_agent.json", via_main=True)

    assert result.returncode == 0, result.stderr
    assert result.body == {"error": "OPENAI_API_KEY is not set"}


def test_session_with_env_vars_mints_against_the_openai_fake(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        env_vars = write_json(tmp_path / "env.json", {"SessionFunction": {
            "OPENAI_API_KEY": "sk-test-invoke", "OPENAI_BASE_URL": fake.base_url}})

        result = invoke("SessionFunction", "voice_agent.json", env_vars)

    assert result.returncode == 0, result.stderr
    assert result.response["statusCode"] == 200, result.stdout
    assert result.body["client_secret"]["value"].startswith("ek_")
    assert result.body["model"] == "gpt-realtime-mini"
    (request,) = [r for r in fake.requests if r.path.endswith("/realtime/client_secrets")]
    assert request.headers["authorization"] == "Bearer sk-test-invoke"


def test_health_and_options_answer_from_the_session_function() -> None:
    health = invoke("SessionFunction", "health.json")
    options = invoke("SessionFunction", "voice_agent_options.json")

    assert (health.response["statusCode"], health.body) == (200, {"status": "ok"})
    assert options.response["statusCode"] == 200
    assert options.body["models"] == list(catalogue.REALTIME_MODELS)
    assert options.body["default_voice"] == catalogue.DEFAULT_VOICE


def test_stdout_holds_only_the_response_and_logs_go_to_stderr() -> None:
    result = invoke("SessionFunction", "voice_agent.json")

    assert len(result.stdout.strip().splitlines()) == 1
    assert "OPENAI_API_KEY is not set" in result.stderr  # the warning log line


# --- authorizer --------------------------------------------------------------------------------


def test_authorizer_denies_a_request_without_token() -> None:
    result = invoke("AuthorizerFunction", "authorizer_missing_token.json")

    assert result.returncode == 0, result.stderr
    assert result.response["isAuthorized"] is False


@pytest.mark.parametrize("event", ["authorizer_bad_token.json", "authorizer_cookie.json"])
def test_authorizer_denies_tokens_it_cannot_verify(event: str, jwt_kit: JwtKit) -> None:
    # The sample tokens are not signed by the test keys the authorizer now trusts.
    result = invoke("AuthorizerFunction", event)

    assert result.returncode == 0, result.stderr
    assert result.response["isAuthorized"] is False


def test_authorizer_allows_a_valid_cookie_and_passes_the_sub(
        tmp_path: Path, jwt_kit: JwtKit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "http://localhost:3000")  # the event's Origin
    event = json.loads((EVENTS / "authorizer_cookie.json").read_text())
    event["cookies"] = ["theme=dark", f"access_token={jwt_kit.token(sub='user-cookie')}"]

    result = invoke("AuthorizerFunction", write_json(tmp_path / "event.json", event))

    assert result.response == {"isAuthorized": True, "context": {"sub": "user-cookie"}}


# --- search ------------------------------------------------------------------------------------


def test_search_without_tavily_key_is_a_json_500() -> None:
    result = invoke("SearchFunction", "search.json")

    assert result.returncode == 0, result.stderr
    assert result.response["statusCode"] == 500
    assert result.body == {"error": "TAVILY_API_KEY is not set"}


def test_search_with_env_vars_answers_from_the_tavily_fake(tmp_path: Path) -> None:
    with FakeTavily() as fake:
        env_vars = write_json(tmp_path / "env.json", {"Parameters": {
            "TAVILY_API_KEY": "tvly-test", "TAVILY_BASE_URL": fake.url}})

        result = invoke("SearchFunction", "search.json", env_vars)

    assert result.response["statusCode"] == 200, result.stdout
    assert result.body["query"] == "weather in Lisbon tomorrow"
    assert len(result.body["results"]) == 3


# --- memory on moto's server (the AWS code path) -------------------------------------------------


@dataclass
class MotoAws:
    endpoint: str
    table: str
    queue_url: str
    env_vars: Path

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def moto_aws(tmp_path: Path) -> Iterator[MotoAws]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        schema = load_sam_app(REPO_ROOT / "template.yaml").table_key_schema
        assert schema is not None
        # The table is created from the template's own definition: one source of the shape.
        # moto keeps its state per process, across server instances: unique names per test.
        suffix = uuid.uuid4().hex[:8]
        table = f"memories-{suffix}"
        dynamodb.create_table(**schema.create_table_kwargs(table))
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName=f"memory-jobs-{suffix}")["QueueUrl"]
        env_vars = write_json(tmp_path / "env.json", {"Parameters": {
            "MEMORY_TABLE": table, "MEMORY_QUEUE_URL": queue_url,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_SQS": endpoint,
            # Bedrock is not emulated: a deterministic local embedder stands in.
            "EMBEDDINGS": "hashing", "MEMORY_LLM": "none",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }})
        yield MotoAws(endpoint, table, queue_url, env_vars)
    finally:
        server.stop()


def test_memory_add_verbatim_search_list_and_delete_on_dynamodb(moto_aws: MotoAws,
                                                               tmp_path: Path) -> None:
    added = invoke("MemoryFunction", "memory_add_verbatim.json", moto_aws.env_vars)
    assert added.response["statusCode"] == 201, added.stdout + added.stderr
    (item,) = added.body["results"]
    assert item["event"] == "ADD"

    found = invoke("MemoryFunction", "memory_search.json", moto_aws.env_vars)
    listed = invoke("MemoryFunction", "memory_list.json", moto_aws.env_vars)
    assert found.response["statusCode"] == 200
    assert [r["id"] for r in found.body["results"]] == [item["id"]]
    assert [r["id"] for r in listed.body["results"]] == [item["id"]]
    # The partition is the JWT sub from the authorizer context, never the body.
    stored = moto_aws.client("dynamodb").scan(TableName=moto_aws.table)["Items"]
    assert {i["PK"]["S"] for i in stored} == {"USER#user-123"}

    # The sample events name a fixed id; point them at the stored one.
    for name in ("memory_history.json", "memory_delete.json"):
        event = json.loads((EVENTS / name).read_text())
        event["pathParameters"]["id"] = item["id"]
        event["rawPath"] = event["rawPath"].replace(
            "3f6c1e0a-8d2b-4c55-9a7e-1b2c3d4e5f60", item["id"])
        event["requestContext"]["http"]["path"] = event["rawPath"]
        write_json(tmp_path / name, event)
    history = invoke("MemoryFunction", tmp_path / "memory_history.json", moto_aws.env_vars)
    deleted = invoke("MemoryFunction", tmp_path / "memory_delete.json", moto_aws.env_vars)
    gone = invoke("MemoryFunction", tmp_path / "memory_history.json", moto_aws.env_vars)

    assert [h["event"] for h in history.body["results"]] == ["ADD"]
    assert deleted.response["statusCode"] == 204
    assert gone.response["statusCode"] == 404

    # Export, then forget everything (the events of the two user-owned-data routes).
    invoke("MemoryFunction", "memory_add_verbatim.json", moto_aws.env_vars)
    exported = invoke("MemoryFunction", "memory_export.json", moto_aws.env_vars)
    forgotten = invoke("MemoryFunction", "memory_forget.json", moto_aws.env_vars)
    assert exported.response["statusCode"] == 200
    assert [m["memory"] for m in exported.body["memories"]] == [item["memory"]]
    assert forgotten.response["statusCode"] == 204
    left = moto_aws.client("dynamodb").scan(TableName=moto_aws.table)["Items"]
    assert [i["SK"]["S"] for i in left] == ["META"]


def test_memory_add_with_infer_queues_a_job_the_worker_completes(moto_aws: MotoAws,
                                                                tmp_path: Path) -> None:
    queued = invoke("MemoryFunction", "memory_add.json", moto_aws.env_vars)
    assert queued.response["statusCode"] == 202, queued.stdout + queued.stderr
    assert queued.body["status"] == "queued"
    job_id = queued.body["job_id"]

    # Given the message the memory function put on the queue, in the sample SQS event
    sqs = moto_aws.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=moto_aws.queue_url)["Messages"]
    assert json.loads(message["Body"])["user_id"] == "user-123"
    event = json.loads((EVENTS / "memory_worker_sqs.json").read_text())
    event["Records"][0]["body"] = message["Body"]
    event["Records"][0]["messageId"] = message["MessageId"]

    worked = invoke("MemoryWorkerFunction", write_json(tmp_path / "sqs.json", event),
                    moto_aws.env_vars)

    assert worked.returncode == 0, worked.stderr
    assert worked.response == {"batchItemFailures": []}
    job_event = json.loads((EVENTS / "memory_job.json").read_text())
    job_event["pathParameters"]["job_id"] = job_id
    job_event["rawPath"] = job_event["requestContext"]["http"]["path"] = (
        f"/api/memory/jobs/{job_id}")
    job = invoke("MemoryFunction", write_json(tmp_path / "job.json", job_event),
                 moto_aws.env_vars)
    assert job.response["statusCode"] == 200
    assert job.body["status"] == "done"
    assert job.body["results"] and all(r["event"] == "ADD" for r in job.body["results"])


def test_sample_worker_event_runs_on_the_local_store(tmp_path: Path) -> None:
    env_vars = write_json(tmp_path / "env.json", {"Parameters": {
        "VOICE_AGENT_DATA_DIR": str(tmp_path / "data"), "EMBEDDINGS": "hashing",
        "MEMORY_LLM": "none"}})

    worked = invoke("MemoryWorkerFunction", "memory_worker_sqs.json", env_vars)
    job = invoke("MemoryFunction", "memory_job.json", env_vars)

    assert worked.response == {"batchItemFailures": []}, worked.stdout + worked.stderr
    assert job.response["statusCode"] == 200
    assert job.body["status"] == "done"


# --- run_invoke itself ---------------------------------------------------------------------------


def test_run_invoke_in_process_prints_the_response_and_restores_the_environment() -> None:
    out = io.StringIO()
    before = dict(os.environ)

    code = run_invoke("SessionFunction", EVENTS / "voice_agent.json", stdout=out)

    assert code == 0
    assert json.loads(json.loads(out.getvalue())["body"]) == {
        "error": "OPENAI_API_KEY is not set"}
    assert dict(os.environ) == before


ECHO_TEMPLATE = """\
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Runtime: python3.13
      MemorySize: 256
      Timeout: 9
      Environment:
        Variables:
          FROM_TEMPLATE: template
          BOTH: template
          UNRESOLVED: !Ref Something
  Boom:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: echo/, Handler: app.boom}
"""
ECHO_APP = """\
import os
def handler(event, context):
    print("this goes to stderr")
    names = ("FROM_TEMPLATE", "BOTH", "FROM_PARAMETERS", "FROM_FUNCTION", "UNRESOLVED",
             "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "POWERTOOLS_TRACE_DISABLED")
    return {"env": {n: os.environ.get(n) for n in names}, "event": event,
            "memory": context.memory_limit_in_mb, "name": context.function_name,
            "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 9000,
            "arn": context.invoked_function_arn, "request_id": context.aws_request_id}
def boom(event, context):
    raise RuntimeError("handler exploded")
"""


@pytest.fixture
def echo_template(tmp_path: Path) -> Path:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo/app.py").write_text(ECHO_APP, encoding="utf-8")
    (tmp_path / "template.yaml").write_text(ECHO_TEMPLATE, encoding="utf-8")
    write_json(tmp_path / "event.json", {"hello": "world"})
    write_json(tmp_path / "env.json", {
        "Parameters": {"BOTH": "parameters", "FROM_PARAMETERS": "p", "FROM_FUNCTION": "p"},
        "Echo": {"FROM_FUNCTION": "function", "UNRESOLVED": "given"},
        "Other": {"FROM_FUNCTION": "not mine"},
    })
    return tmp_path / "template.yaml"


def test_run_invoke_applies_template_then_parameters_then_function_env(
        echo_template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = echo_template.parent

    code = run_invoke("Echo", root / "event.json", root / "env.json",
                      template_path=echo_template)

    captured = capsys.readouterr()
    assert code == 0
    response = json.loads(captured.out)
    assert response["env"] == {
        "FROM_TEMPLATE": "template", "BOTH": "parameters", "FROM_PARAMETERS": "p",
        "FROM_FUNCTION": "function", "UNRESOLVED": "given", "AWS_LAMBDA_FUNCTION_NAME": "Echo",
        "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
    }
    assert response["event"] == {"hello": "world"}
    assert (response["memory"], response["name"], response["remaining_ok"]) == (256, "Echo", True)
    assert response["arn"].endswith(":function:Echo")
    assert "this goes to stderr" in captured.err


def test_run_invoke_reports_a_raising_handler_with_exit_code_1(
        echo_template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_invoke("Boom", echo_template.parent / "event.json", template_path=echo_template)

    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out) == {"errorMessage": "handler exploded",
                                        "errorType": "RuntimeError"}
    assert "Traceback" in captured.err and "handler exploded" in captured.err


def test_run_invoke_rejects_unknown_functions_and_bad_files(
        echo_template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = echo_template.parent
    (root / "broken.json").write_text("{not json", encoding="utf-8")

    assert run_invoke("Nope", root / "event.json", template_path=echo_template) == 2
    assert "functions: Boom, Echo" in capsys.readouterr().err
    assert run_invoke("Echo", root / "missing.json", template_path=echo_template) == 2
    assert run_invoke("Echo", root / "broken.json", template_path=echo_template) == 2
    assert run_invoke("Echo", root / "event.json", root / "broken.json",
                      template_path=echo_template) == 2
    assert capsys.readouterr().out == ""


def test_env_vars_file_values_become_strings(tmp_path: Path) -> None:
    path = write_json(tmp_path / "env.json", {"Parameters": {"N": 3, "B": True, "X": None}})

    assert read_env_vars(path, "Any") == {"N": "3", "B": "true", "X": ""}


def test_region_defaults_and_lambda_variables_are_set() -> None:
    spec = load_sam_app(REPO_ROOT / "template.yaml").functions["MemoryFunction"]

    env = build_environment(spec, {}, {"PATH": "/bin"})

    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "MemoryFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert env["EMBEDDINGS"] == "bedrock"  # the template's literal
    assert "MEMORY_TABLE" not in env  # !Ref: left to the process environment


def test_every_template_function_is_invoked_by_these_tests() -> None:
    functions = set(load_sam_app(REPO_ROOT / "template.yaml").functions)

    assert functions == COVERED_FUNCTIONS
