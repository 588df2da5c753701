"""The one call we make to OpenAI: ``POST /v1/realtime/client_secrets`` (GA)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from voice_agent.errors import UpstreamError, UpstreamTimeout
from voice_agent.http import shared_client


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
        self._http = shared_client(timeout_s)

    def create_client_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(
                self._url, json=body, headers={"Authorization": f"Bearer {self._api_key}"})
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("OpenAI API timeout") from exc
        except httpx.HTTPError as exc:
            raise UpstreamTimeout("OpenAI API unreachable") from exc
        if not response.is_success:
            raise UpstreamError(f"OpenAI API error: {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise UpstreamError("OpenAI API error: invalid response") from exc
        if not isinstance(data, dict) or not isinstance(data.get("value"), str):
            raise UpstreamError("OpenAI API error: invalid response")
        return data
