"""The one factory for boto3 clients: explicit timeouts and standard retries within a budget.

botocore's defaults (60 s connect, 60 s read, legacy retries) would let one slow DynamoDB or
SQS call outlive a 15 s function, so the caller would see a Lambda timeout instead of our JSON
503. Every client is built here with a :class:`CallBudget` whose worst case (every attempt
timing out, plus the backoff between attempts) fits inside the timeout of the functions that
use it; ``tests/unit/test_aws_clients.py`` checks that against ``template.yaml``.

Endpoints come from the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables (read with the other
settings, :meth:`voice_agent.settings.Settings.aws_endpoint_url_for`), so moto, LocalStack and
loopback fakes plug in without code changes. Clients are built once per process for each
service, region, endpoint and budget and shared (a boto3 client is safe to use from several
threads); :func:`reset_clients` forgets them (tests, the SnapStart after-restore hook).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voice_agent.process_wide import ProcessWide
from voice_agent.settings import get_settings

# botocore's standard mode sleeps up to 2**(attempt - 1) s (random jitter) between attempts.
_STANDARD_BACKOFF_CAP_S = 20.0


@dataclass(frozen=True)
class CallBudget:
    """How long one AWS API call may take, retries included."""

    connect_timeout_s: float
    read_timeout_s: float
    max_attempts: int

    @property
    def worst_case_s(self) -> float:
        """Every attempt times out on connect and read, with the longest backoff between."""
        backoff = sum(min(2.0 ** (attempt - 1), _STANDARD_BACKOFF_CAP_S)
                      for attempt in range(1, self.max_attempts))
        return self.max_attempts * (self.connect_timeout_s + self.read_timeout_s) + backoff


# Calls made while an API request waits (DynamoDB, SQS, Secrets Manager): two attempts of
# 1 s + 3 s, ≤ 9 s in all, inside the 15 s of the HTTP functions with room for the rest of the
# request. Refused connections, 5xx and throttling fail fast, long before that.
REQUEST_CALL = CallBudget(connect_timeout_s=1.0, read_timeout_s=3.0, max_attempts=2)


# botocore error codes by which AWS services say "slow down": trying again later may work.
THROTTLING_ERROR_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "RequestLimitExceeded", "SlowDown",
})


def error_code(error: Exception) -> str:
    """The botocore error code of a ``ClientError`` (empty for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def is_throttling_code(code: str) -> bool:
    """True when the botocore error ``code`` means the service throttled the call."""
    return code in THROTTLING_ERROR_CODES


def aws_region() -> str:
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else ``us-east-1`` (from the settings)."""
    return get_settings().aws_region


# (service, region, endpoint, budget, pool size) → the client built for them.
_ClientKey = tuple[str, str, str | None, CallBudget, int]
# Built under the holder's lock: boto3's default session must not build clients concurrently.
_clients: ProcessWide[_ClientKey, Any] = ProcessWide("boto3 clients")


def reset_clients() -> None:
    """Forget every client built by :func:`aws_client` (tests, after a SnapStart restore)."""
    _clients.reset()


def aws_client(service: str, budget: CallBudget = REQUEST_CALL, *,
               region: str | None = None, max_pool_connections: int = 10) -> Any:
    """The process's boto3 client for ``service`` whose calls stay within ``budget``.

    Built on first use and then shared, one per (service, region, endpoint, budget, pool size).

    Args:
        service: The boto3 service name (``dynamodb``, ``sqs``, ``bedrock-runtime``, …).
        budget: Timeouts and attempts of one call (standard retry mode).
        region: AWS region; defaults to :func:`aws_region`.
        max_pool_connections: Connections kept per client (concurrent calls of one process).
    """
    settings = get_settings()
    key = (service, region or settings.aws_region, settings.aws_endpoint_url_for(service),
           budget, max_pool_connections)
    return _clients.get(key, lambda: _build_client(*key))


def _build_client(service: str, region: str, endpoint_url: str | None, budget: CallBudget,
                  max_pool_connections: int) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=budget.connect_timeout_s,
        read_timeout=budget.read_timeout_s,
        retries={"total_max_attempts": budget.max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
    )
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
