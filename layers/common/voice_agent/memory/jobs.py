"""The job queue between the memory function and the extraction worker.

On AWS a job is an SQS message (``MEMORY_QUEUE_URL``) that triggers ``functions/memory_worker``.
Locally the dev server registers a dispatcher with `set_local_dispatcher`; jobs then run in a
background thread through the same worker ``lambda_handler``, fed an SQS-shaped event.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from voice_agent.aws import REQUEST_CALL, aws_client
from voice_agent.errors import ConfigError, ServiceUnavailable
from voice_agent.observability import logger
from voice_agent.process_wide import ProcessWide
from voice_agent.settings import get_settings

__all__ = [
    "InProcessJobQueue",
    "JobQueue",
    "SqsJobQueue",
    "make_job_queue",
    "set_local_dispatcher",
    "sqs_event",
]

Dispatcher = Callable[[dict[str, Any]], None]

_dispatcher: Dispatcher | None = None
_dispatcher_lock = threading.Lock()


class JobQueue(Protocol):
    """Sends a job message to the worker."""

    def send(self, message: dict[str, Any]) -> None:
        """Enqueues one job (JSON-serialisable); returns before the job runs."""
        ...


def sqs_event(*messages: dict[str, Any]) -> dict[str, Any]:
    """An SQS-shaped Lambda event (``{"Records": [...]}``) carrying the given message bodies."""
    records = []
    for message in messages:
        body = json.dumps(message)
        records.append({
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "local",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0",
                           "SenderId": "local", "ApproximateFirstReceiveTimestamp": "0"},
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own format
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:local:000000000000:memory-jobs",
            "awsRegion": "local",
        })
    return {"Records": records}


class SqsJobQueue:
    """Sends jobs to an SQS queue."""

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        """Creates the queue adapter.

        Args:
            queue_url: The queue URL (``MEMORY_QUEUE_URL``).
            client: A boto3 ``sqs`` client; by default one with short timeouts (the API must
                answer in seconds even when SQS is slow).
        """
        self.queue_url = queue_url
        self._client = client if client is not None else aws_client("sqs", REQUEST_CALL)

    def send(self, message: dict[str, Any]) -> None:
        """Sends the message; raises `ServiceUnavailable` when SQS fails."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable("memory job queue unavailable, try again") from error
        # The worker logs under the job id as its correlation id; this line links the two.
        logger.info("memory job queued", extra={"job_id": message.get("job_id")})


class InProcessJobQueue:
    """Runs each job through a dispatcher on a background thread (local development)."""

    def __init__(self, dispatcher: Dispatcher, max_workers: int = 2) -> None:
        """Creates the queue.

        Args:
            dispatcher: Receives an SQS-shaped event (see `sqs_event`) for each job.
            max_workers: Jobs running at once.
        """
        self._dispatcher = dispatcher
        self._pool = ThreadPoolExecutor(max_workers=max_workers,
                                        thread_name_prefix="memory-job")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Schedules the job and returns at once."""
        future = self._pool.submit(self._dispatcher, sqs_event(message))
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait(self, timeout_s: float = 30.0) -> None:
        """Blocks until every job sent so far has finished (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception(timeout=timeout_s)  # a failed job is the worker's to report


def set_local_dispatcher(fn: Dispatcher | None) -> None:
    """Registers the function that runs jobs in-process when no queue URL is configured.

    The function receives an SQS-shaped event (``{"Records": [{"body": "<job JSON>", ...}]}``)
    and should pass it to the worker, e.g.
    ``set_local_dispatcher(lambda event: worker_app.lambda_handler(event, context))``.
    Pass None to unregister.
    """
    global _dispatcher
    with _dispatcher_lock:
        _dispatcher = fn
    _queues.reset()


_queues: ProcessWide[str, JobQueue] = ProcessWide("job queues")


def reset_job_queues() -> None:
    """Forgets the cached queues and their clients (tests, after a SnapStart restore)."""
    _queues.reset()


def make_job_queue() -> JobQueue:
    """The configured job queue (cached per process).

    ``MEMORY_QUEUE_URL`` set → SQS; else a registered local dispatcher → in-process; else
    `ConfigError` ("MEMORY_QUEUE_URL is not set").
    """
    url = get_settings().memory_queue_url or ""
    return _queues.get(url or "local", lambda: _build_queue(url))


def _build_queue(url: str) -> JobQueue:
    if url:
        return SqsJobQueue(url)
    with _dispatcher_lock:
        dispatcher = _dispatcher
    if dispatcher is None:
        raise ConfigError("MEMORY_QUEUE_URL is not set")
    return InProcessJobQueue(dispatcher)
