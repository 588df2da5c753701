"""Every boto3 client comes from ``voice_agent.aws``, with budgets that fit the functions."""

from __future__ import annotations

import re

import boto3
from moto import mock_aws

from tests.conftest import REPO_ROOT
from voice_agent import secrets
from voice_agent.aws import REQUEST_CALL, CallBudget, aws_client
from voice_agent.memory.extraction import LLM_TIMEOUT_S
from voice_agent.memory.jobs import SqsJobQueue
from voice_agent.memory.store_dynamodb import make_dynamodb_client
from voice_agent.ratelimit import DynamoDbRateLimiter
from voice_agent_cli.template import load_sam_app

CLIENT_CALL = re.compile(r"\bboto3\.(client|resource)\(|\bSession\(\)\.client\(")
SOURCE_DIRS = ("layers/common/voice_agent", "functions", "voice_agent_cli")
HTTP_FUNCTIONS = ("SessionFunction", "MemoryFunction", "SearchFunction")


def _client_calls() -> dict[str, int]:
    found = {}
    for folder in SOURCE_DIRS:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            count = len(CLIENT_CALL.findall(path.read_text()))
            if count:
                found[str(path.relative_to(REPO_ROOT))] = count
    return found


def test_boto3_clients_are_built_only_by_the_factory() -> None:
    # The scan finds the factory's own call (its positive control) and nothing else.
    assert _client_calls() == {"layers/common/voice_agent/aws.py": 1}


def test_scan_would_find_a_bare_client() -> None:
    assert CLIENT_CALL.search('self._client = client or boto3.client("dynamodb")')
    assert not CLIENT_CALL.search('aws_client("dynamodb")')


def _config_budget(client: object) -> CallBudget:
    config = client.meta.config  # type: ignore[attr-defined]
    assert config.retries["mode"] == "standard"
    return CallBudget(config.connect_timeout, config.read_timeout,
                      config.retries["total_max_attempts"])


def test_request_clients_carry_the_request_budget(monkeypatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    clients = {
        "rate limiter": DynamoDbRateLimiter("table")._client,
        "memory store": make_dynamodb_client(),
        "job queue": SqsJobQueue("https://sqs.eu-west-1.amazonaws.com/1/q")._client,
        "factory default": aws_client("secretsmanager"),
    }
    for name, client in clients.items():
        assert _config_budget(client) == REQUEST_CALL, name
        assert client.meta.region_name == "eu-west-1", name


def test_request_budget_fits_every_http_function_timeout_with_room_to_answer() -> None:
    functions = load_sam_app().functions
    # Two attempts of 1 s + 3 s and one backoff of at most 1 s.
    assert REQUEST_CALL.worst_case_s == 9.0
    for logical_id in HTTP_FUNCTIONS:
        assert REQUEST_CALL.worst_case_s + 5 <= functions[logical_id].timeout_s, logical_id


def test_one_extraction_call_fits_the_worker_timeout() -> None:
    worker = load_sam_app().functions["MemoryWorkerFunction"]
    assert CallBudget(3.0, LLM_TIMEOUT_S, 1).worst_case_s < worker.timeout_s


def test_botocore_defaults_would_not_fit_a_15_s_function() -> None:
    # What the factory replaces: 60 s connect + 60 s read, three legacy attempts.
    assert CallBudget(60, 60, 3).worst_case_s > 15


@mock_aws
def test_secret_is_read_through_a_factory_client(monkeypatch) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="openai-key", SecretString="sk-from-secrets-manager\n")
    monkeypatch.setenv("OPENAI_API_KEY_SECRET", "openai-key")
    secrets._provider.reset()

    assert secrets.get_api_key("OPENAI_API_KEY") == "sk-from-secrets-manager"
    assert _config_budget(secrets._secrets_provider().client) == REQUEST_CALL
    secrets._provider.reset()
