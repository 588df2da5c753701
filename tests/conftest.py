"""Fixtures shared by every test: a clean environment, JWT keys, handler events."""

from __future__ import annotations

import importlib.util
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every variable the backend reads; tests start from none of them set.
BACKEND_ENV = (
    "OPENAI_API_KEY", "OPENAI_API_KEY_SECRET", "OPENAI_BASE_URL", "OPENAI_TIMEOUT_S",
    "TAVILY_API_KEY", "TAVILY_API_KEY_SECRET", "TAVILY_BASE_URL", "TAVILY_TIMEOUT_S",
    "MEMORY_TABLE", "MEMORY_QUEUE_URL", "EMBEDDINGS", "EMBEDDING_MODEL_ID",
    "EMBEDDING_DIMENSIONS", "MEMORY_LLM", "TRANSCRIPTION_MODEL", "SESSION_TTL_SECONDS",
    "SESSION_RATE_LIMIT", "SESSION_RATE_WINDOW_SECONDS", "JWT_ISSUER", "JWT_AUDIENCE",
    "JWT_JWKS_URL", "JWT_COOKIE_NAME", "VOICE_AGENT_DATA_DIR", "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_SQS", "AWS_LAMBDA_FUNCTION_NAME",
    "CORS_ALLOWED_ORIGINS", "SEARCH_RATE_LIMIT", "SEARCH_RATE_WINDOW_SECONDS",
    "PROFILE_PREFETCH_MS", "MEMORY_LLM_MODEL_ID", "MEMORY_MAX_PER_USER", "MINILM_THREADS",
    "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETSMANAGER",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "LAMBDA_TASK_ROOT", "AWS_SAM_LOCAL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real credentials, no real endpoints, fresh caches in every test."""
    for name in BACKEND_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    _reset_process_caches()
    yield
    _reset_process_caches()


@pytest.fixture
def monkeypatch(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """pytest's ``monkeypatch``, whose ``setenv``/``delenv`` also reset the layer's settings.

    The settings are read once per process (:func:`voice_agent.settings.get_settings`); a test
    that changes the environment gets them read again, as a fresh process would.
    """
    from voice_agent.settings import reset_settings

    setenv, delenv = monkeypatch.setenv, monkeypatch.delenv

    def setenv_and_reset(name: str, value: str, prepend: str | None = None) -> None:
        setenv(name, value, prepend)
        reset_settings()

    def delenv_and_reset(name: str, raising: bool = True) -> None:
        delenv(name, raising)
        reset_settings()

    monkeypatch.setenv = setenv_and_reset  # type: ignore[method-assign]
    monkeypatch.delenv = delenv_and_reset  # type: ignore[method-assign]
    return monkeypatch


def _reset_process_caches() -> None:
    from voice_agent import auth, aws, ratelimit, secrets, settings

    settings.reset_settings()
    aws.reset_clients()
    ratelimit.reset_rate_limiter()
    auth.jwks_client.cache_clear()
    secrets._provider.reset()  # its client belongs to the test (and moto mock) that made it


# --- JWT --------------------------------------------------------------------------------------

ISSUER = "https://issuer.test"
AUDIENCE = "voice-agent-tests"


@dataclass
class JwtKit:
    """Signing keys whose public halves sit in a JWKS file the authorizer reads."""

    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    jwks_path: Path

    @property
    def jwks_url(self) -> str:
        return self.jwks_path.as_uri()

    def claims(self, sub: str = "user-a", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, sub: str = "user-a", *, alg: str = "RS256", kid: str | None = None,
              headers: dict[str, Any] | None = None, **claim_overrides: Any) -> str:
        key: Any = self.ec_key if alg.startswith("ES") else self.rsa_key
        default_kid = "ec-1" if alg.startswith("ES") else "rsa-1"
        all_headers = {"kid": kid or default_kid, **(headers or {})}
        return jwt.encode(self.claims(sub, **claim_overrides), key, algorithm=alg,
                          headers=all_headers)


@pytest.fixture(scope="session")
def _jwt_keys(tmp_path_factory: pytest.TempPathFactory) -> JwtKit:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    rsa_jwk.update(kid="rsa-1", use="sig", alg="RS256")
    ec_jwk.update(kid="ec-1", use="sig", alg="ES256")
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_jwk, ec_jwk]}))
    return JwtKit(rsa_key, ec_key, path)


@pytest.fixture
def jwt_kit(_jwt_keys: JwtKit, monkeypatch: pytest.MonkeyPatch) -> JwtKit:
    """JWT keys, with the backend configured to trust them."""
    monkeypatch.setenv("JWT_ISSUER", ISSUER)
    monkeypatch.setenv("JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("JWT_JWKS_URL", _jwt_keys.jwks_url)
    return _jwt_keys


# --- Handlers and events ----------------------------------------------------------------------

_loaded: dict[str, ModuleType] = {}


def load_function_module(name: str) -> ModuleType:
    """Import ``functions/<name>/app.py`` under a unique module name (they are all ``app``)."""
    if name not in _loaded:
        path = REPO_ROOT / "functions" / name / "app.py"
        spec = importlib.util.spec_from_file_location(f"function_{name}_app", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[name] = module
    return _loaded[name]


class LambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:test-function"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def http_event(method: str, path: str, body: Any = None, *, sub: str | None = "user-a",
               route_path: str | None = None, path_parameters: dict[str, str] | None = None,
               query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A payload-2.0 event as API Gateway delivers it after the authorizer allowed ``sub``."""
    from voice_agent_cli.events import HttpRequest, proxy_event

    raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    data = raw.encode() if isinstance(raw, str) else (raw or b"")
    all_headers = {"content-type": "application/json", "user-agent": "pytest",
                   **(headers or {})}
    request = HttpRequest(method, path, query, list(all_headers.items()), data)
    route_key = f"{method} {route_path or path}"
    context = {"sub": sub} if sub is not None else None
    return proxy_event(request, route_key, path_parameters or {}, context)


@pytest.fixture
def call_function() -> Callable[..., dict[str, Any]]:
    """``call_function("session", event)`` → the handler's payload-2.0 response."""

    def call(name: str, event: dict[str, Any]) -> dict[str, Any]:
        result = load_function_module(name).lambda_handler(event, LambdaContext())
        assert isinstance(result, dict)
        return result

    return call


def body_of(response: dict[str, Any]) -> Any:
    """The decoded JSON body of a handler response."""
    return json.loads(response["body"]) if response.get("body") else None


def unique_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


# --- Loopback upstreams -----------------------------------------------------------------------

OPENAI_TEST_KEY = "sk-test-secret-key"
TAVILY_TEST_KEY = "tvly-secret"


@pytest.fixture
def openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The loopback OpenAI fake, with the backend pointed at it and a test key set."""
    from tests.fakes.openai_realtime_api import FakeOpenAI

    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_TEST_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        yield fake


@pytest.fixture
def tavily(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The loopback Tavily fake, with the backend pointed at it and a test key set."""
    from tests.fakes.tavily import FakeTavily

    with FakeTavily() as fake:
        monkeypatch.setenv("TAVILY_API_KEY", TAVILY_TEST_KEY)
        monkeypatch.setenv("TAVILY_BASE_URL", fake.url)
        yield fake
