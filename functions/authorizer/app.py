"""Lambda REQUEST authorizer (HTTP API, payload 2.0, simple responses).

Allows with the verified ``sub`` in the context; denies everything else. It never raises:
a crashing authorizer would turn a bad token into a 500.
"""

from __future__ import annotations

from typing import Any

from voice_agent.api import logger
from voice_agent.auth import InvalidToken, authorize_request
from voice_agent.settings import get_settings


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    try:
        identity = authorize_request(
            event,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=settings.jwt_jwks_url,
            cookie_name=settings.jwt_cookie_name,
            allowed_origins=settings.cors_allowed_origins,
        )
    except InvalidToken as exc:
        logger.info("request denied", extra={"reason": exc.reason})
        # API Gateway ignores a denial's context (a denial is its 403); the local runner reads
        # it to answer 401, or 403 for a cookie from a foreign origin.
        return {"isAuthorized": False,
                "context": {"reason": exc.reason, "missing": exc.missing, "status": exc.status}}
    except Exception:  # noqa: BLE001 — e.g. JWKS unreachable: deny, do not crash
        logger.exception("authorizer failed; denying")
        return {"isAuthorized": False, "context": {"reason": "authorizer unavailable"}}
    return {"isAuthorized": True, "context": {"sub": identity.sub}}
