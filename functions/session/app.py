"""Session function: mints realtime sessions, lists the allowed options, answers health."""

from __future__ import annotations

from typing import Any

from voice_agent.api import CallerId, lambda_entry, make_resolver
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


@app.post("/api/voice-agent")
def voice_agent(user_id: CallerId, body: SessionRequest | None = None) -> SessionResponse:
    session = create_session(user_id, body or SessionRequest())
    metrics.add_metric(name="SessionsMinted", unit="Count", value=1)
    return session


lambda_handler = lambda_entry(app)
