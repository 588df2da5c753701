"""The settings model: names, defaults, validation errors, the one reset, the AWS client cache."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import REPO_ROOT, body_of, http_event, load_function_module
from voice_agent import aws
from voice_agent.errors import ConfigError
from voice_agent.settings import Settings, env_name, get_settings, reset_settings

LAYER = REPO_ROOT / "layers/common/voice_agent"
ENV_READ = re.compile(r"\bos\.environ\b|\bgetenv\(")
MAY_READ_ENV = {"settings.py"}  # the one reader


def test_only_the_settings_model_reads_the_environment() -> None:
    readers = {str(path.relative_to(LAYER)) for path in LAYER.rglob("*.py")
               if ENV_READ.search(path.read_text(encoding="utf-8"))}

    assert readers <= MAY_READ_ENV
    assert ENV_READ.search('raw = os.environ.get("X")')  # control: the scan sees a read


def test_defaults_are_the_documented_ones() -> None:
    settings = get_settings()

    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.realtime_websocket_base == "wss://api.openai.com/v1/realtime"
    assert settings.tavily_base_url == "https://api.tavily.com"
    assert settings.embedding_model_id == "amazon.titan-embed-text-v2:0"
    assert settings.embedding_dimensions == 512
    assert settings.jwt_cookie_name == "access_token"
    assert (settings.session_ttl_s, settings.memory_max_per_user) == (600, 10_000)
    assert settings.profile_prefetch_ms == 150
    assert settings.embedder_kind == "local"
    assert settings.tracing_enabled is False  # POWERTOOLS_TRACE_DISABLED=true in the tests


def test_variables_are_read_by_their_exact_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_TTL_SECONDS", "120")
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", "/tmp/data")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.test, https://b.test,")
    monkeypatch.setenv("openai_base_url", "http://lower.case.test")  # not the variable's name
    monkeypatch.setenv("MEMORY_QUEUE_URL", "   ")  # blank counts as unset

    settings = get_settings()

    assert settings.session_ttl_s == 120
    assert settings.local_data_dir == "/tmp/data"
    assert settings.cors_allowed_origins == ("https://a.test", "https://b.test")
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.memory_queue_url is None


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SESSION_TTL_SECONDS", "5", "SESSION_TTL_SECONDS: Input should be greater than or equal"),
    ("OPENAI_TIMEOUT_S", "soon", "OPENAI_TIMEOUT_S: Input should be a valid number"),
    ("MEMORY_MAX_PER_USER", "0", "MEMORY_MAX_PER_USER: Input should be greater than 0"),
    ("PROFILE_PREFETCH_MS", "fast", "PROFILE_PREFETCH_MS: Input should be a valid number"),
    ("POWERTOOLS_TRACE_DISABLED", "maybe", "POWERTOOLS_TRACE_DISABLED: Input should be a valid"),
    ("TRANSCRIPTION_MODEL", "whisper-0", "TRANSCRIPTION_MODEL must be one of: whisper-1"),
])
def test_an_invalid_value_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str,
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        get_settings()

    assert raised.value.status == 500


def test_an_invalid_setting_is_the_500_of_a_config_error(
    call_function, monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_function_module("session")  # initialised with a valid environment
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("SESSION_TTL_SECONDS", "99999")

    response = call_function("session", http_event("POST", "/api/voice-agent", {}))

    assert response["statusCode"] == 500
    assert body_of(response) == {
        "error": "SESSION_TTL_SECONDS: Input should be less than or equal to 7200"}


def test_settings_are_read_once_until_reset() -> None:
    first = get_settings()
    assert get_settings() is first

    # The environment changed behind the settings' back (not through monkeypatch)
    os.environ["JWT_COOKIE_NAME"] = "session"
    try:
        assert get_settings().jwt_cookie_name == "access_token"
        reset_settings()
        assert get_settings().jwt_cookie_name == "session"
    finally:
        del os.environ["JWT_COOKIE_NAME"]
        reset_settings()


def test_region_comes_from_aws_region_then_aws_default_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert get_settings().aws_region == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert get_settings().aws_region == "eu-central-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert get_settings().aws_region == "eu-west-1"


def test_endpoint_is_the_service_one_then_the_global_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().aws_endpoint_url_for("sqs") is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")

    settings = get_settings()

    assert settings.aws_endpoint_url_for("dynamodb") == "http://127.0.0.1:8000"
    assert settings.aws_endpoint_url_for("sqs") == "http://127.0.0.1:4566"
    assert settings.aws_endpoint_url_for("s3") is None  # not called by the layer: boto3 decides
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert get_settings().aws_endpoint_url_for("dynamodb") is None


def test_api_keys_come_as_secrets_with_their_secret_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-printed")
    monkeypatch.setenv("TAVILY_API_KEY_SECRET", "tavily-key")

    settings = get_settings()
    key, secret = settings.api_key_source("OPENAI_API_KEY")

    assert key is not None and key.get_secret_value() == "sk-never-printed"
    assert secret is None
    assert settings.api_key_source("TAVILY_API_KEY") == (None, "tavily-key")
    assert "sk-never-printed" not in repr(settings)


def test_the_factory_shares_one_client_per_service_region_and_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs = aws.aws_client("sqs")

    assert aws.aws_client("sqs") is sqs
    assert aws.aws_client("sqs", region="eu-west-1") is not sqs
    assert aws.aws_client("dynamodb") is not sqs
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324")
    local = aws.aws_client("sqs")
    assert local is not sqs
    assert local.meta.endpoint_url == "http://127.0.0.1:9324"
    aws.reset_clients()
    assert aws.aws_client("sqs") is not local


def test_settings_class_reads_the_environment_like_get_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEARCH_RATE_LIMIT", "7")

    assert Settings.from_environment().search_rate_limit == get_settings().search_rate_limit == 7


def test_every_test_starts_without_any_settings_variable() -> None:
    from tests.conftest import BACKEND_ENV

    set_by_the_fixture = {"AWS_DEFAULT_REGION", "POWERTOOLS_TRACE_DISABLED"}
    variables = {env_name(field) for field in Settings.model_fields}

    assert variables - set_by_the_fixture <= set(BACKEND_ENV)
    assert {"SESSION_TTL_SECONDS", "VOICE_AGENT_DATA_DIR", "AWS_REGION"} <= variables
