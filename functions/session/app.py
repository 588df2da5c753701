"""Session function: mints realtime sessions, lists the allowed options, answers health."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from voice_agent.api import CallerId, lambda_entry, make_resolver, model_response
from voice_agent.observability import metrics
from voice_agent.session.minting import session_options
from voice_agent.session.models import SessionOptions, SessionRequest, SessionResponse
from voice_agent.session.service import create_session

app = make_resolver()


@app.get("/api/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.get("/api/voice-agent/options")
def options() -> SessionOptions:
    return session_options()


# A session is about 20 KB (tools and instructions): it is written in one pass
# (model_response), so the model is named here for the OpenAPI document.
_SESSION_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "Successful Response",
          "content": {"application/json": {"model": SessionResponse}}},
}


@app.post("/api/voice-agent", responses=_SESSION_RESPONSES)
def voice_agent(user_id: CallerId, body: SessionRequest | None = None) -> Response[str]:
    session = create_session(user_id, body or SessionRequest())
    metrics.add_metric(name="SessionsMinted", unit="Count", value=1)
    return model_response(session)


lambda_handler = lambda_entry(app)
