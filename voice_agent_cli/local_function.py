"""A function as the local runner hosts it: warm instances of its handler, and its answers as HTTP.

Used by ``voice-agent dev`` (`voice_agent_cli.devserver`): each template function gets a
`LocalFunction`, and a handler's payload-2.0 result becomes a Starlette response the way
API Gateway turns it into HTTP.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from starlette.responses import JSONResponse, Response

from voice_agent_cli.handlers import load_handler
from voice_agent_cli.lambda_context import LocalLambdaContext
from voice_agent_cli.template import FunctionSpec

__all__ = ["MAX_INSTANCES_PER_FUNCTION", "LocalFunction", "lambda_response"]

MAX_INSTANCES_PER_FUNCTION = 4


class LocalFunction:
    """A function's warm instances, as Lambda keeps them.

    An instance runs one event at a time (a Powertools resolver keeps the current event on
    itself); concurrent events get further instances, up to ``max_instances``, so a slow
    OpenAI call in one request does not hold up a health check in the same function.
    """

    def __init__(self, spec: FunctionSpec,
                 max_instances: int = MAX_INSTANCES_PER_FUNCTION) -> None:
        self.spec = spec
        self._max_instances = max_instances
        self._idle: list[Any] = []
        self._created = 0
        self._available = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._acquire()
        try:
            return handler(event, LocalLambdaContext(function_name=self.spec.logical_id))
        finally:
            with self._available:
                self._idle.append(handler)
                self._available.notify()

    def _acquire(self) -> Any:
        with self._available:
            while not self._idle and self._created >= self._max_instances:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            instance = self._created
            self._created += 1
        try:
            return load_handler(self.spec, instance)  # a cold start, outside the lock
        except BaseException:
            with self._available:
                self._created -= 1
                self._available.notify()
            raise


def lambda_response(result: Any) -> Response:
    """Turn a payload-2.0 handler result into an HTTP response, as API Gateway does."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 lets a handler return a bare JSON value: API Gateway sends it as 200.
        return JSONResponse(result)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    response = Response(raw, status_code=int(result["statusCode"]), headers=headers)
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    return response
