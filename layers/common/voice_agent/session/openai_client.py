"""The one call we make to OpenAI: ``POST /v1/realtime/client_secrets`` (GA)."""

from __future__ import annotations

from typing import Any, Protocol

from voice_agent.errors import UpstreamError
from voice_agent.http import post_json


class SessionMinter(Protocol):
    """Creates an ephemeral realtime key for a session configuration."""

    def create_client_secret(self, body: dict[str, Any]) -> dict[str, Any]: ...


class OpenAIRealtimeMinter:
    """httpx adapter for the GA client-secrets endpoint.

    OpenAI's own status is never passed through as ours: any non-2xx becomes a 502
    ``OpenAI API error: <status>``; slowness or an unreachable host becomes a 504.
    """

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        self._url = base_url.rstrip("/") + "/realtime/client_secrets"
        self._api_key = api_key
        self._timeout_s = timeout_s

    def create_client_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        data = post_json(self._url, body, api_key=self._api_key, timeout_s=self._timeout_s,
                         service="OpenAI")
        if not isinstance(data.get("value"), str):
            raise UpstreamError("OpenAI API error: invalid response")
        return data
