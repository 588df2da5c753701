"""API keys: from the environment locally, from Secrets Manager on AWS (cached, never logged)."""

from __future__ import annotations

from typing import Any

from voice_agent.aws import aws_client
from voice_agent.errors import ConfigError, ServiceUnavailable
from voice_agent.process_wide import ProcessWideValue
from voice_agent.settings import get_settings

SECRET_CACHE_S = 300  # a rotated key is picked up within five minutes


_provider: ProcessWideValue[Any] = ProcessWideValue("Secrets Manager provider")


def _secrets_provider() -> Any:
    """Powertools' cached Secrets Manager reader, on a client built by :mod:`voice_agent.aws`."""

    def build() -> Any:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return SecretsProvider(boto3_client=aws_client("secretsmanager"))

    return _provider.get_value(build)


def get_api_key(name: str) -> str:
    """Return the key named ``name`` (``OPENAI_API_KEY`` or ``TAVILY_API_KEY``).

    Order: the variable itself, then the secret named by ``<name>_SECRET`` (a Secrets Manager
    name or ARN, read through Powertools with caching). Neither set → :class:`ConfigError`
    with the message ``"<name> is not set"`` (a 500, as the README's HTTP API table says).
    """
    direct, secret_id = get_settings().api_key_source(name)
    if direct is not None and direct.get_secret_value():
        return direct.get_secret_value()
    if not secret_id:
        raise ConfigError(f"{name} is not set")
    from aws_lambda_powertools.utilities import parameters

    try:
        value = _secrets_provider().get(secret_id, max_age=SECRET_CACHE_S)
    except parameters.exceptions.GetParameterError as exc:
        # The message of the underlying error may name the secret; it never holds its value.
        raise ServiceUnavailable(f"{name} could not be read from Secrets Manager") from exc
    if isinstance(value, bytes):
        value = value.decode()
    value = str(value).strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value
