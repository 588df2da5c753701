"""The one resolver factory every HTTP function uses: validation, error shape, observability.

Errors always leave as ``{"error": "<message>"}`` with the right status: validation problems as
422 naming the field, domain errors with their own status, anything unexpected as a JSON 500
without details (the details go to the log, with the correlation id).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths

# MAX_BODY_BYTES stays importable from here, where it was defined before body_checks.
from voice_agent.body_checks import MAX_BODY_BYTES as MAX_BODY_BYTES
from voice_agent.body_checks import check_body
from voice_agent.errors import ApiError
from voice_agent.snapstart import register_hooks

SERVICE = "voice-agent"

# Routes that publish no metric (health, lists) are normal, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="VoiceAgent", service=SERVICE)
# Every function imports this module at init, so each one registers the SnapStart hooks.
register_hooks()


_TRACED_MODULES = ("botocore", "httpx")


def tracing_enabled() -> bool:
    """Whether X-Ray tracing is on: Powertools' own rule, decided without importing the SDK.

    On inside Lambda (``LAMBDA_TASK_ROOT``) unless ``POWERTOOLS_TRACE_DISABLED`` is truthy or
    the code runs under ``sam local``. Building a Powertools ``Tracer`` imports the X-Ray SDK
    and with it botocore (about half of a cold import) even when it then disables itself, so
    no Tracer is built when this is False.
    """
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    if disabled in ("1", "true", "yes", "on", "y", "t"):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A JSON error response in the API's one error shape."""
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": message}),
        headers=headers or {},
    )


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """Turn pydantic/Powertools validation errors into one line naming each field."""
    parts = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]  # where the value came from; the field name is what helps
        field = ".".join(loc) or "body"
        if error.get("type") == "json_invalid":
            return "body: invalid JSON"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "; ".join(parts) or "invalid request"


def rejected_body_response(event: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a body refused before any parsing (415, 413, 422), or None.

    Checked ahead of the resolver because Powertools validates the body before user
    middlewares run: an oversized or deeply nested body would otherwise be parsed in full, and
    bytes that are not UTF-8 would escape its JSON decoding as an unexpected error.
    """
    rejection = check_body(event)
    return None if rejection is None else _proxy_error(rejection.status, rejection.message)


def _proxy_error(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"error": message}), "isBase64Encoded": False}


def make_resolver() -> APIGatewayHttpResolver:
    """Build the HTTP API resolver with the project's validation and error mapping."""
    app = APIGatewayHttpResolver(enable_validation=True)
    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
        return error_response(422, describe_validation_errors(exc.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(_exc: RequestUnsupportedContentType) -> Response:
        # check_body answers these first; this keeps any case it misses a 415, never a 500.
        return error_response(415, "request body must be application/json")

    @app.exception_handler(ApiError)
    def _domain(exc: ApiError) -> Response:
        if exc.status >= 500:
            logger.warning("request failed upstream", extra={"status": exc.status,
                                                              "error": exc.message})
        return error_response(exc.status, exc.message, exc.headers)

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return error_response(404, "not found")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal error")

    return app


def caller_id(app: APIGatewayHttpResolver) -> str:
    """The verified user id (JWT ``sub``) the authorizer put into the request context.

    Never read from the body, the query or a header: only the authorizer decides who calls.
    """
    context = app.current_event.request_context.authorizer.get_lambda or {}
    sub = context.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ApiError("unauthorized", status=401)
    return sub


def lambda_entry(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap ``app.resolve`` with logging (correlation id), metrics and tracing."""

    def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return rejected_body_response(event) or app.resolve(event, context)

    if tracing_enabled():
        from aws_lambda_powertools import Tracer

        # Only the two clients the functions use (boto3 and httpx): patching "all" also
        # imports and wraps requests, sqlite3 and http.client on every cold start.
        tracer = Tracer(service=SERVICE, patch_modules=_TRACED_MODULES)
        resolve = tracer.capture_lambda_handler(capture_response=False)(resolve)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return resolve(event, context)

    return handler
