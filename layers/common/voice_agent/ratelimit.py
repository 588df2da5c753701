"""Per-user fixed-window rate limits: DynamoDB counters on AWS, an in-process table locally."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from voice_agent.aws import aws_client
from voice_agent.errors import RateLimited, ServiceUnavailable
from voice_agent.process_wide import ProcessWideValue


class RateLimiter(Protocol):
    def hit(self, user_id: str, bucket: str, limit: int, window_s: int) -> None:
        """Count one request; raise :class:`RateLimited` when over ``limit`` in the window."""


# What the caller is told per bucket; a bucket not listed gets a generic sentence.
_MESSAGES = {"session": "too many sessions; try again later",
             "search": "too many web searches; try again later"}


def _message(bucket: str) -> str:
    return _MESSAGES.get(bucket, f"too many {bucket} requests; try again later")


def _window(window_s: int, now: float) -> tuple[int, int]:
    start = int(now // window_s) * window_s
    return start, start + window_s


class DynamoDbRateLimiter:
    """Atomic counters (``ADD``) in the memory table, expired by its TTL attribute.

    One UpdateItem per request; the item is ``PK=USER#<sub>``, ``SK=RATE#<bucket>#<start>``,
    so counters stay inside the user's partition like everything else.
    """

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        # Bounded like every client (voice_agent.aws): a slow DynamoDB is a JSON 503 within
        # the function's time, never a Lambda timeout.
        self._client = client or aws_client("dynamodb")

    def hit(self, user_id: str, bucket: str, limit: int, window_s: int) -> None:
        now = time.time()
        start, end = _window(window_s, now)
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key={"PK": {"S": f"USER#{user_id}"}, "SK": {"S": f"RATE#{bucket}#{start}"}},
                UpdateExpression="ADD #count :one SET expires_at = if_not_exists(expires_at, :ttl)",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str(end + 60)}},
                ReturnValues="UPDATED_NEW",
            )
        except Exception as exc:  # botocore errors: do not mint when limits cannot be checked
            raise ServiceUnavailable("rate limit store unavailable") from exc
        if int(result["Attributes"]["count"]["N"]) > limit:
            raise RateLimited(_message(bucket), int(end - now) + 1)


class InMemoryRateLimiter:
    """For the local runner: one process, so a locked dict is the whole store."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, user_id: str, bucket: str, limit: int, window_s: int) -> None:
        now = time.time()
        start, end = _window(window_s, now)
        with self._lock:
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= start}
            key = (user_id, bucket, start)
            self._counts[key] = self._counts.get(key, 0) + 1
            count = self._counts[key]
        if count > limit:
            raise RateLimited(_message(bucket), int(end - now) + 1)


_limiter: ProcessWideValue[RateLimiter] = ProcessWideValue("rate limiter")


def get_rate_limiter(table_name: str | None) -> RateLimiter:
    """The process-wide limiter: DynamoDB when a table is configured, else in-process."""
    return _limiter.get_value(
        lambda: DynamoDbRateLimiter(table_name) if table_name else InMemoryRateLimiter())


def reset_rate_limiter() -> None:
    """Forget the process-wide limiter (tests, after a SnapStart restore)."""
    _limiter.reset()
