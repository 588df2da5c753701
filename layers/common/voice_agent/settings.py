"""Every environment variable the layer reads, in one pydantic model.

Read once per process by :func:`get_settings`, on first use (never at import of this module;
a function's init reads them when :mod:`voice_agent.observability` decides on tracing), so
tests and the local runner can set the environment first; after changing it they call
:func:`reset_settings`, the one reset (the tests' ``monkeypatch`` fixture does it on every
``setenv``/``delenv``). An empty (or blank) variable counts as unset. An invalid value raises
:class:`~voice_agent.errors.ConfigError` naming the variable, like a missing API key.

A plain pydantic model read by `Settings.from_environment`, not pydantic-settings: that
package's import (its CLI, dotenv and cloud-vault sources) added about 100 ms of CPU to every
function's cold start, a quarter of the session function's, for the one source used here.

The API keys' environment form (``OPENAI_API_KEY``, ``TAVILY_API_KEY``) and the names of their
secrets are here as well; reading a secret from Secrets Manager is :mod:`voice_agent.secrets`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from voice_agent import catalogue
from voice_agent.errors import ConfigError

DEFAULT_REGION = "us-east-1"
# The AWS services the layer calls, each with its standard AWS_ENDPOINT_URL_<SERVICE> override.
_ENDPOINT_FIELDS = {
    "dynamodb": "aws_endpoint_url_dynamodb",
    "sqs": "aws_endpoint_url_sqs",
    "bedrock-runtime": "aws_endpoint_url_bedrock_runtime",
    "secretsmanager": "aws_endpoint_url_secretsmanager",
}


class Settings(BaseModel):
    """The environment variables of the functions, with their defaults.

    A field reads the variable of its own name in capitals (``openai_base_url`` ←
    ``OPENAI_BASE_URL``) unless an alias names another one; names are matched exactly.
    """

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=str.upper), extra="ignore",
        str_strip_whitespace=True, frozen=True)

    # --- Upstreams: OpenAI and Tavily ---------------------------------------------------------
    openai_base_url: str = "https://api.openai.com/v1"
    openai_timeout_s: float = Field(8.0, gt=0, le=10)
    tavily_base_url: str = "https://api.tavily.com"
    tavily_timeout_s: float = Field(8.0, gt=0, le=10)
    # The keys themselves (local use), or the Secrets Manager name/ARN holding them (on AWS).
    openai_api_key: SecretStr | None = None
    openai_api_key_secret: str | None = None
    tavily_api_key: SecretStr | None = None
    tavily_api_key_secret: str | None = None
    transcription_model: str = catalogue.DEFAULT_TRANSCRIPTION_MODEL

    # --- Sessions and search ------------------------------------------------------------------
    session_ttl_s: int = Field(600, ge=10, le=7200, validation_alias="SESSION_TTL_SECONDS")
    session_rate_limit: int = Field(20, ge=0)
    session_rate_window_s: int = Field(600, ge=1, validation_alias="SESSION_RATE_WINDOW_SECONDS")
    search_rate_limit: int = Field(30, ge=0)
    search_rate_window_s: int = Field(600, ge=1, validation_alias="SEARCH_RATE_WINDOW_SECONDS")
    # PROFILE_PREFETCH_MS: how long minting waits for the user's key facts; 0 (or less) = off.
    profile_prefetch_ms: float = 150

    # --- Authentication -----------------------------------------------------------------------
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_cookie_name: str = "access_token"
    # The CORS origins (CORS_ALLOWED_ORIGINS, comma-separated): the only pages besides the
    # API's own origin whose requests may authenticate with the cookie.
    cors_allowed_origins: tuple[str, ...] = ()

    # --- Memory -------------------------------------------------------------------------------
    memory_table: str | None = None
    local_data_dir: str | None = Field(None, validation_alias="VOICE_AGENT_DATA_DIR")
    memory_queue_url: str | None = None
    memory_llm: str = "none"
    # MEMORY_LLM_MODEL_ID: the Bedrock model of MEMORY_LLM=bedrock (None: the extractor's default).
    memory_llm_model_id: str | None = None
    memory_max_per_user: int = Field(10_000, gt=0)
    # EMBEDDINGS: None → bedrock inside Lambda, else local (see `embedder_kind`).
    embeddings: str | None = None
    embedding_model_id: str = catalogue.DEFAULT_TITAN_MODEL_ID
    embedding_dimensions: int = catalogue.DEFAULT_TITAN_DIMENSIONS
    # MINILM_THREADS: onnxruntime threads of the local embedder (0 = one per core; None: its
    # default).
    minilm_threads: int | None = None

    # --- AWS and the Lambda runtime -----------------------------------------------------------
    aws_region_setting: str | None = Field(None, validation_alias="AWS_REGION")
    aws_default_region: str | None = None
    aws_endpoint_url: str | None = None
    aws_endpoint_url_dynamodb: str | None = None
    aws_endpoint_url_sqs: str | None = None
    aws_endpoint_url_bedrock_runtime: str | None = None
    aws_endpoint_url_secretsmanager: str | None = None
    aws_ignore_configured_endpoint_urls: bool = False
    aws_lambda_function_name: str | None = None
    lambda_task_root: str | None = None
    aws_sam_local: str | None = None
    powertools_trace_disabled: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment (by default ``os.environ``) holds.

        Raises:
            ValidationError: A variable holds an invalid value.
        """
        env = os.environ if environ is None else environ
        return cls.model_validate({name: env[name] for name in _env_names() if name in env})

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: object) -> object:
        # A variable holding only spaces counts as unset, like an empty one.
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("transcription_model")
    @classmethod
    def _known_transcription_model(cls, value: str) -> str:
        if value not in catalogue.TRANSCRIPTION_MODELS:
            allowed = ", ".join(catalogue.TRANSCRIPTION_MODELS)
            raise ValueError(f"TRANSCRIPTION_MODEL must be one of: {allowed}")
        return value

    @field_validator("embeddings")
    @classmethod
    def _known_embedder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        kind = value.lower()
        if kind not in catalogue.EMBEDDER_KINDS:
            allowed = ", ".join(catalogue.EMBEDDER_KINDS)
            raise ValueError(f"EMBEDDINGS must be one of {allowed}, got {value!r}")
        return kind

    @field_validator("embedding_dimensions", mode="before")
    @classmethod
    def _titan_dimensions(cls, value: object) -> object:
        try:
            dimensions = int(str(value))
        except ValueError:
            dimensions = -1
        if dimensions not in catalogue.TITAN_DIMENSIONS:
            raise ValueError("EMBEDDING_DIMENSIONS must be one of 256, 512 or 1024 "
                             f"(Titan V2 sizes), got {value!r}")
        return dimensions

    @field_validator("minilm_threads", mode="before")
    @classmethod
    def _whole_threads(cls, value: object) -> object:
        if value is None:
            return None
        try:
            threads = int(str(value))
        except ValueError:
            threads = -1
        if threads < 0:
            raise ValueError(f"MINILM_THREADS must be a whole number >= 0, got {value!r}")
        return threads

    @property
    def realtime_websocket_base(self) -> str:
        """The realtime WebSocket URL derived from OPENAI_BASE_URL (https → wss, http → ws)."""
        base = self.openai_base_url.rstrip("/")
        if base.startswith("https://"):
            return "wss://" + base[len("https://"):] + "/realtime"
        if base.startswith("http://"):
            return "ws://" + base[len("http://"):] + "/realtime"
        return base + "/realtime"

    @property
    def aws_region(self) -> str:
        """``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else ``us-east-1``."""
        return self.aws_region_setting or self.aws_default_region or DEFAULT_REGION

    @property
    def in_lambda(self) -> bool:
        """True inside a Lambda function (``AWS_LAMBDA_FUNCTION_NAME`` is set)."""
        return bool(self.aws_lambda_function_name)

    @property
    def embedder_kind(self) -> str:
        """``EMBEDDINGS``, by default ``bedrock`` inside Lambda and ``local`` elsewhere."""
        return self.embeddings or ("bedrock" if self.in_lambda else "local")

    @property
    def tracing_enabled(self) -> bool:
        """Powertools' rule: inside Lambda, unless disabled or running under ``sam local``."""
        return (bool(self.lambda_task_root) and not self.powertools_trace_disabled
                and not self.aws_sam_local)

    def aws_endpoint_url_for(self, service: str) -> str | None:
        """The endpoint configured for ``service``, as boto3 would pick it from the environment.

        ``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``; None when neither is set,
        when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is on, or for a service the layer does not
        call (boto3 then resolves it itself).
        """
        field = _ENDPOINT_FIELDS.get(service)
        if field is None or self.aws_ignore_configured_endpoint_urls:
            return None
        specific: str | None = getattr(self, field)
        return specific or self.aws_endpoint_url

    def api_key_source(self, name: str) -> tuple[SecretStr | None, str | None]:
        """The key ``name`` as set in the environment, and the name of the secret holding it.

        Args:
            name: ``OPENAI_API_KEY`` or ``TAVILY_API_KEY``.
        """
        sources = {
            "OPENAI_API_KEY": (self.openai_api_key, self.openai_api_key_secret),
            "TAVILY_API_KEY": (self.tavily_api_key, self.tavily_api_key_secret),
        }
        return sources[name]


@lru_cache(maxsize=1)
def _env_names() -> frozenset[str]:
    return frozenset(env_name(field) for field in Settings.model_fields)


def env_name(field: str) -> str:
    """The environment variable that sets the settings field ``field``."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    return (alias if isinstance(alias, str) else field).upper()


def describe_errors(errors: list[Any]) -> str:
    """One line per invalid variable, naming it (never its value, which may be a secret)."""
    parts = []
    for error in errors:
        loc = error.get("loc") or ("settings",)
        name = env_name(str(loc[0]))
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(message if message.startswith(name) else f"{name}: {message}")
    return "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use.

    Raises:
        ConfigError: A variable holds an invalid value (the message names it).
    """
    try:
        return Settings.from_environment()
    except ValidationError as error:
        raise ConfigError(describe_errors(error.errors())) from error


def reset_settings() -> None:
    """Forget the cached settings: the next :func:`get_settings` reads the environment again.

    The one reset for tests and the local runner after they change the environment.
    """
    get_settings.cache_clear()
