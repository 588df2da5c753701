"""Lambda REQUEST authorizer (HTTP API, payload 2.0, simple responses).

Allows with the verified ``sub`` in the context; denies everything else. It never raises:
a crashing authorizer would turn a bad token into a 500.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)

from voice_agent.auth import authorize_request
from voice_agent.credentials import InvalidToken
from voice_agent.observability import logger
from voice_agent.settings import get_settings


@logger.inject_lambda_context
@event_source(data_class=APIGatewayAuthorizerEventV2)
def lambda_handler(event: APIGatewayAuthorizerEventV2, context: Any) -> dict[str, Any]:
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
        denial = {"reason": exc.reason, "missing": exc.missing, "status": exc.status}
        return APIGatewayAuthorizerResponseV2(authorize=False, context=denial).asdict()
    except Exception:  # noqa: BLE001 — e.g. JWKS unreachable: deny, do not crash
        logger.exception("authorizer failed; denying")
        unavailable = {"reason": "authorizer unavailable"}
        return APIGatewayAuthorizerResponseV2(authorize=False, context=unavailable).asdict()
    return APIGatewayAuthorizerResponseV2(authorize=True, context={"sub": identity.sub}).asdict()
