"""Settings read from the environment, lazily (never at import) so tests and the local runner
can set the environment first. Secrets are not here: see :mod:`voice_agent.secrets`."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator

from voice_agent import catalogue


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class Settings(BaseModel):
    """The environment variables of the HTTP functions, with their defaults.

    The memory engine's own switches are read by the factories that use them, each in one
    place: ``EMBEDDINGS``, ``EMBEDDING_MODEL_ID`` and ``EMBEDDING_DIMENSIONS`` by
    :func:`voice_agent.memory.embedding.make_embedder`, ``MEMORY_QUEUE_URL`` by
    :func:`voice_agent.memory.jobs.make_job_queue`.
    """

    openai_base_url: str = "https://api.openai.com/v1"
    openai_timeout_s: float = Field(8.0, gt=0, le=10)
    tavily_base_url: str = "https://api.tavily.com"
    tavily_timeout_s: float = Field(8.0, gt=0, le=10)
    memory_table: str | None = None
    memory_llm: str = "none"
    transcription_model: str = catalogue.DEFAULT_TRANSCRIPTION_MODEL
    session_ttl_s: int = Field(600, ge=10, le=7200)
    session_rate_limit: int = Field(20, ge=0)
    session_rate_window_s: int = Field(600, ge=1)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_cookie_name: str = "access_token"
    # The CORS origins (CORS_ALLOWED_ORIGINS, comma-separated): the only pages besides the
    # API's own origin whose requests may authenticate with the cookie.
    cors_allowed_origins: tuple[str, ...] = ()
    search_rate_limit: int = Field(30, ge=0)
    search_rate_window_s: int = Field(600, ge=1)
    local_data_dir: str | None = None

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

    @property
    def realtime_websocket_base(self) -> str:
        """The realtime WebSocket URL derived from OPENAI_BASE_URL (https → wss, http → ws)."""
        base = self.openai_base_url.rstrip("/")
        if base.startswith("https://"):
            return "wss://" + base[len("https://"):] + "/realtime"
        if base.startswith("http://"):
            return "ws://" + base[len("http://"):] + "/realtime"
        return base + "/realtime"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Build the settings once per process from the environment."""
    values = {
        "openai_base_url": _env("OPENAI_BASE_URL"),
        "openai_timeout_s": _env("OPENAI_TIMEOUT_S"),
        "tavily_base_url": _env("TAVILY_BASE_URL"),
        "tavily_timeout_s": _env("TAVILY_TIMEOUT_S"),
        "memory_table": _env("MEMORY_TABLE"),
        "memory_llm": _env("MEMORY_LLM"),
        "transcription_model": _env("TRANSCRIPTION_MODEL"),
        "session_ttl_s": _env("SESSION_TTL_SECONDS"),
        "session_rate_limit": _env("SESSION_RATE_LIMIT"),
        "session_rate_window_s": _env("SESSION_RATE_WINDOW_SECONDS"),
        "jwt_issuer": _env("JWT_ISSUER"),
        "jwt_audience": _env("JWT_AUDIENCE"),
        "jwt_jwks_url": _env("JWT_JWKS_URL"),
        "jwt_cookie_name": _env("JWT_COOKIE_NAME"),
        "cors_allowed_origins": _env("CORS_ALLOWED_ORIGINS"),
        "search_rate_limit": _env("SEARCH_RATE_LIMIT"),
        "search_rate_window_s": _env("SEARCH_RATE_WINDOW_SECONDS"),
        "local_data_dir": _env("VOICE_AGENT_DATA_DIR"),
    }
    return Settings(**{k: v for k, v in values.items() if v is not None})


def reset_settings() -> None:
    """Forget cached settings (tests and the local runner change the environment)."""
    get_settings.cache_clear()
