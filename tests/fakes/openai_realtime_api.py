"""Loopback fake of OpenAI's GA ``POST /v1/realtime/client_secrets``."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.http_server import LoopbackHttpServer, RecordedRequest, ScriptedResponse


class FakeOpenAI(LoopbackHttpServer):
    """Answers client-secrets requests like the GA API; ``url`` ends in ``/v1``."""

    def __init__(self) -> None:
        super().__init__()
        self.minted = 0

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def default_response(self, request: RecordedRequest) -> ScriptedResponse:
        if request.method != "POST" or request.path != "/v1/realtime/client_secrets":
            return super().default_response(request)
        body = request.json()
        self.minted += 1
        seconds = body.get("expires_after", {}).get("seconds", 600)
        expires_at = int(time.time()) + int(seconds)
        session: dict[str, Any] = {"id": f"sess_fake{self.minted}", "object": "realtime.session",
                                   **body["session"]}
        return ScriptedResponse(200, {"value": f"ek_fake{self.minted}",
                                      "expires_at": expires_at, "session": session})
