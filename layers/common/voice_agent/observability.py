"""Powertools logger and metrics, and tracing when it is on, built once for every function.

Every module logs through :data:`logger`, so the JSON lines of the HTTP functions, the
authorizer and the worker carry the same service name and, once a handler has set it, the
correlation id. Every function imports this module at init, so it also registers the
SnapStart hooks.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from voice_agent.settings import get_settings
from voice_agent.snapstart import register_hooks

SERVICE = "voice-agent"

# Routes that publish no metric (health, lists) are normal, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="VoiceAgent", service=SERVICE)
register_hooks()

_TRACED_MODULES = ("botocore", "httpx")
_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def publish_metrics(handler: _Handler) -> _Handler:
    """``handler`` with its metrics published after each invocation (Powertools' ``log_metrics``).

    With metrics turned off (``POWERTOOLS_METRICS_DISABLED``, as ``voice-agent dev`` sets it)
    Powertools neither prints nor clears what a handler added, and prints it anyway once 100
    values pile up; so here they are dropped after every invocation instead.
    """
    logged = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def publishing(*args: Any, **kwargs: Any) -> Any:
        try:
            return logged(*args, **kwargs)
        finally:
            if is_metrics_disabled():
                metrics.clear_metrics()

    return publishing  # type: ignore[return-value]


def tracing_enabled() -> bool:
    """Whether X-Ray tracing is on: Powertools' own rule, decided without importing the SDK.

    On inside Lambda (``LAMBDA_TASK_ROOT``) unless ``POWERTOOLS_TRACE_DISABLED`` is truthy or
    the code runs under ``sam local``. Building a Powertools ``Tracer`` imports the X-Ray SDK
    and with it botocore (about half of a cold import) even when it then disables itself, so
    no Tracer is built when this is False.
    """
    return get_settings().tracing_enabled


def traced(handler: _Handler) -> _Handler:
    """``handler`` under a Powertools ``Tracer`` when tracing is on, else unchanged."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    # Only the two clients the functions use (boto3 and httpx): patching "all" also
    # imports and wraps requests, sqlite3 and http.client on every cold start.
    tracer = Tracer(service=SERVICE, patch_modules=_TRACED_MODULES)
    wrapped: _Handler = tracer.capture_lambda_handler(capture_response=False)(handler)
    return wrapped
