"""One OpenAPI 3.1 document for the whole API, generated from the handlers' own models.

Each function's Powertools resolver describes its routes; this merges them, replaces
Powertools' default validation-error schema with the API's one error shape, and marks which
routes need a JWT. ``openapi.json`` in the repository is this output (a test keeps them equal):

    uv run python -m voice_agent_cli.openapi > openapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from voice_agent_cli.handlers import load_function_module
from voice_agent_cli.template import SamApp, load_sam_app

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "What went wrong."}},
    "required": ["error"],
    "title": "Error",
}
_ERROR_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
# Statuses every operation can answer, beyond what its own route declares.
COMMON_ERRORS = {
    "422": "Invalid request: the message names the field.",
    "413": "Request body too large.",
    "500": "Internal or configuration error.",
}
# Operations that take a body also refuse any other media type, before any work.
BODY_ERRORS = {"415": "Request body is not application/json."}
AUTH_ERRORS = {
    "401": "Missing or invalid credentials (403 on AWS, see README).",
    "403": "Cookie sign-in from an origin that is not allowed (or a write without Origin).",
}
ROUTE_ERRORS = {
    ("post", "/api/voice-agent"): {
        "429": "Too many sessions; see the Retry-After header.",
        "502": "OpenAI API error: <status>.",
        "504": "OpenAI API timeout.",
    },
    ("post", "/api/search"): {
        "429": "Too many web searches; see the Retry-After header.",
        "502": "Tavily API error: <status>.",
        "504": "Tavily timeout.",
    },
}


def build_openapi(sam: SamApp | None = None) -> dict[str, Any]:
    """Build the merged document from the functions in ``template.yaml``."""
    sam = sam or load_sam_app()
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "voice-agent API", "version": "1.0.0",
                 "description": "Realtime session minting, long-term memory and web search "
                                "for a personal voice assistant."},
        "paths": {},
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "access_token"},
            },
        },
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
    }
    open_routes = {(r.method.lower(), r.path) for r in sam.routes if not r.authorized}
    for function_id in sorted({r.function_id for r in sam.routes}):
        resolver = load_function_module(sam.functions[function_id]).app
        part = json.loads(resolver.get_openapi_json_schema(openapi_version="3.1.0"))
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
                continue
            known = document["components"]["schemas"].setdefault(name, schema)
            if known != schema:
                raise ValueError(f"two different models are both named {name!r}")
        for path, operations in part.get("paths", {}).items():
            for method, operation in operations.items():
                _describe_errors(operation, method, path, (method, path) in open_routes)
                document["paths"].setdefault(path, {})[method] = operation
    document["paths"] = dict(sorted(document["paths"].items()))
    return document


def _describe_errors(operation: dict[str, Any], method: str, path: str, is_open: bool) -> None:
    responses = operation.setdefault("responses", {})
    errors = {**COMMON_ERRORS, **ROUTE_ERRORS.get((method, path), {})}
    if "requestBody" in operation:
        errors.update(BODY_ERRORS)
    if is_open:
        operation["security"] = []
    else:
        errors.update(AUTH_ERRORS)
    for status, description in errors.items():
        responses[status] = {"description": description, **_ERROR_REF}


def main() -> int:
    json.dump(build_openapi(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
