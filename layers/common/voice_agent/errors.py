"""Domain errors that carry their HTTP status, mapped to `{"error": ...}` JSON by the API layer."""

from __future__ import annotations


class ApiError(Exception):
    """An error the caller should see, with its status and a human-readable message."""

    status: int = 500

    def __init__(self, message: str, *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400


class Unprocessable(ApiError):
    status = 422


class NotFound(ApiError):
    status = 404


class PayloadTooLarge(ApiError):
    status = 413


class RateLimited(ApiError):
    """Too many requests; ``retry_after_s`` becomes the Retry-After header."""

    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after_s)))})
        self.retry_after_s = retry_after_s


class ConfigError(ApiError):
    """A required setting (e.g. an API key) is missing: a 500 ``"<NAME> is not set"``."""

    status = 500


class UpstreamError(ApiError):
    """An upstream service (OpenAI, Tavily, Bedrock, DynamoDB) failed or answered non-2xx."""

    status = 502


class UpstreamTimeout(ApiError):
    status = 504


class ServiceUnavailable(ApiError):
    status = 503
