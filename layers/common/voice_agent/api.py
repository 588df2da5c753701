"""The one resolver factory every HTTP function uses: validation, error shape, observability.

Errors always leave as ``{"error": "<message>"}`` with the right status: validation problems as
422 naming the field, domain errors with their own status, anything unexpected as a JSON 500
without details (the details go to the log, with the correlation id).
"""

from __future__ import annotations

import codecs
import functools
import json
import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import pydantic_core
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Depends, Request, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.shared.json_encoder import Encoder
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel

# MAX_BODY_BYTES stays importable from here, where it was defined before body_checks.
from voice_agent.body_checks import MAX_BODY_BYTES as MAX_BODY_BYTES
from voice_agent.body_checks import check_body
from voice_agent.errors import ApiError
from voice_agent.observability import SERVICE as SERVICE
from voice_agent.observability import logger, publish_metrics, traced


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> Response[str]:
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


# The resolver's own serializer, for what pydantic's cannot serialize.
_STDLIB_JSON = functools.partial(json.dumps, separators=(",", ":"), cls=Encoder)
_ESCAPE_NON_ASCII = "voice_agent.json_escape"


def _escape_non_ascii(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: a run of UTF-8 bytes, escaped as ``json.dumps`` escapes it."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    data, end = error.object, error.start
    while end < len(data) and data[end] >= 0x80:  # a run of whole UTF-8 characters
        end += 1
    return json.dumps(bytes(data[error.start:end]).decode())[1:-1], end


codecs.register_error(_ESCAPE_NON_ASCII, _escape_non_ascii)


def response_json(body: Any) -> str:
    """A response body as JSON text, as the resolver's default serializer writes it.

    By then the body is plain JSON data (Powertools' ``jsonable_encoder`` ran), which
    pydantic's Rust serializer writes several times faster than ``json.dumps`` (20 KB per
    session), in the same compact form. Non-ASCII characters (only ever inside strings) are
    then escaped as ``json.dumps`` escapes them; only some numbers are spelled differently
    (``0.00001`` for ``1e-05``: the same value). What it cannot serialize goes to ``json.dumps``.
    """
    try:
        raw = pydantic_core.to_json(body)
    except pydantic_core.PydanticSerializationError:
        return _STDLIB_JSON(body)
    return _ascii_json(raw)


def _ascii_json(raw: bytes) -> str:
    """Compact UTF-8 JSON as ASCII text, non-ASCII escaped as ``json.dumps`` escapes it."""
    text = raw.decode("ascii", _ESCAPE_NON_ASCII)
    return text.replace("\x7f", "\\u007f") if "\x7f" in text else text


def model_response(model: BaseModel, status: int = 200) -> Response[str]:
    """``model`` as a JSON response, serialized in one pass.

    The same text the resolver writes for a route returning the model (by alias, compact,
    ASCII), without its two passes (validation and ``jsonable_encoder`` into plain data, then
    the serializer): for a 20 KB session that is about half the time. The route declares the
    model in ``responses=`` for the OpenAPI document, since its return annotation is a string.
    """
    try:
        body = _ascii_json(model.__pydantic_serializer__.to_json(model, by_alias=True))
    except pydantic_core.PydanticSerializationError:  # e.g. a lone surrogate in a string
        body = _STDLIB_JSON(model.model_dump(mode="python", by_alias=True))
    return Response(status_code=status, content_type="application/json", body=body)


def make_resolver() -> APIGatewayHttpResolver:
    """Build the HTTP API resolver with the project's validation and error mapping."""
    app = APIGatewayHttpResolver(enable_validation=True, serializer=response_json)
    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[str]:
        return error_response(422, describe_validation_errors(exc.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(_exc: RequestUnsupportedContentType) -> Response[str]:
        # check_body answers these first; this keeps any case it misses a 415, never a 500.
        return error_response(415, "request body must be application/json")

    @app.exception_handler(ApiError)
    def _domain(exc: ApiError) -> Response[str]:
        if exc.status >= 500:
            logger.warning("request failed upstream", extra={"status": exc.status,
                                                              "error": exc.message})
        return error_response(exc.status, exc.message, exc.headers)

    @app.not_found
    def _not_found(_exc: Exception) -> Response[str]:
        return error_response(404, "not found")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(500, "internal error")

    return app


def verified_caller(request: Request) -> str:
    """The verified user id (JWT ``sub``) the authorizer put into the request context.

    Never read from the body, the query or a header: only the authorizer decides who calls.
    Routes receive it as a :data:`CallerId` parameter, so this is the one place that reads it
    and fails closed (401) when the context is missing.
    """
    event = request.resolved_event
    context: dict[str, Any] = {}
    if isinstance(event, APIGatewayProxyEventV2):  # every function here is an HTTP API one
        context = event.request_context.authorizer.get_lambda or {}
    sub = context.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ApiError("unauthorized", status=401)
    return sub


def resolve_annotations(func: Callable[..., Any]) -> None:
    """Turn ``func``'s annotations from strings into the objects they name, once.

    With ``from __future__ import annotations`` every annotation is a string, and Powertools
    reads a route's and its dependencies' type hints on every request (``Depends``): each read
    compiles and evaluates every string again (about 0.2 ms per request for a route with a
    caller id and a body). Resolved once, the hints are the same objects, read in microseconds.
    Annotations that cannot be resolved are left as they are, for Powertools to handle.
    """
    try:
        func.__annotations__ = typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError):
        pass


resolve_annotations(verified_caller)

CallerId = Annotated[str, Depends(verified_caller)]
"""A route parameter holding the caller's verified user id (see :func:`verified_caller`)."""


# correlation_paths.API_GATEWAY_HTTP ("requestContext.requestId") is a plain key path: walked
# as such, it costs a dictionary lookup per key instead of a jmespath search per request.
_CORRELATION_ID_KEYS = tuple(correlation_paths.API_GATEWAY_HTTP.split("."))


def correlation_id(event: dict[str, Any]) -> Any:
    """The value at ``correlation_paths.API_GATEWAY_HTTP`` in ``event``, or None."""
    value: Any = event
    for key in _CORRELATION_ID_KEYS:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def lambda_entry(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap ``app.resolve`` with logging (correlation id), metrics and tracing.

    Called once every route is registered: their annotations are resolved here
    (:func:`resolve_annotations`).
    """
    # Powertools keeps no public list of an app's routes; without these two, nothing is
    # resolved and every request reads the string annotations as before.
    for route in [*getattr(app, "_static_routes", ()), *getattr(app, "_dynamic_routes", ())]:
        resolve_annotations(route.func)

    def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return rejected_body_response(event) or app.resolve(event, context)

    resolve = traced(resolve)

    @logger.inject_lambda_context
    @publish_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.set_correlation_id(correlation_id(event))
        return resolve(event, context)

    return handler
