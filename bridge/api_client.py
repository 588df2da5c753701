"""Client of our own HTTP API: session minting, memory and web search, with the user's JWT."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from voice_agent import catalogue

EXPIRED_SIGN_IN = "the sign-in has expired: get a new token"


class BackendError(RuntimeError):
    """Our backend API answered with an error (or could not be reached).

    Named apart from the layer's ``voice_agent.errors.ApiError``, which is what the backend
    raises to answer with an error; this is what the bridge sees of it.

    Attributes:
        status: the HTTP status, or 0 when the API was unreachable.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def is_auth(self) -> bool:
        """Whether the token was rejected (expired or invalid)."""
        return self.status in (401, 403)


@dataclass(frozen=True)
class MintedSession:
    """What the bridge needs from ``POST /api/voice-agent``."""

    websocket_url: str
    client_secret: str
    model: str
    voice: str
    instructions: str
    session_id: str
    raw: dict[str, Any]


class ApiClient:
    """Calls ``{api}/api/...`` with ``Authorization: Bearer <jwt>``.

    The API URL and token come from the command line; the user id is never sent: the API
    takes it from the token.
    """

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        """Close the connection pool; safe twice."""
        await self._http.aclose()

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
        url = f"{self._base}{path}"
        try:
            response = await self._http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise BackendError(0, f"cannot reach the API at {self._base}: {exc}") from exc
        if response.status_code in (401, 403):
            raise BackendError(response.status_code, EXPIRED_SIGN_IN)
        try:
            data = response.json() if response.content else {}
        except json.JSONDecodeError:
            data = {"error": response.text[:200]}
        if response.status_code >= 400:
            detail = data.get("error") if isinstance(data, dict) else None
            raise BackendError(response.status_code,
                           f"the API answered {response.status_code}: {detail or 'no details'}")
        return data if isinstance(data, dict) else {"results": data}

    async def mint_session(self, model: str | None = None, voice: str | None = None
                           ) -> MintedSession:
        """``POST /api/voice-agent`` → the session object.

        Raises:
            BackendError: rejected token (``is_auth``), validation error, upstream failure.
        """
        body = {k: v for k, v in {"model": model, "voice": voice}.items() if v}
        data = await self._request("POST", "/api/voice-agent", body)
        try:
            return MintedSession(
                websocket_url=data["realtime"]["websocket_url"],
                client_secret=data["client_secret"]["value"],
                model=data.get("model", model or ""),
                voice=data.get("voice", voice or ""),
                instructions=data.get("instructions", ""),
                session_id=data.get("id", ""),
                raw=data,
            )
        except (KeyError, TypeError) as exc:
            raise BackendError(502, f"the session object lacks {exc}") from exc

    async def search_memories(self, query: str, limit: int | None = None,
                              filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """``POST /api/memory/search`` (``filters``: metadata key/values that must match)."""
        body: dict[str, Any] = {"query": query}
        if limit is not None:
            body["limit"] = limit
        if filters:
            body["filters"] = filters
        return await self._request("POST", "/api/memory/search", body)

    async def add_memories(self, messages: Any) -> dict[str, Any]:
        """``POST /api/memory`` (202 queued), marked as written by the assistant."""
        return await self._request("POST", "/api/memory", {
            "messages": messages, "metadata": {"source": catalogue.ASSISTANT_MEMORY_SOURCE}})

    async def get_all_memories(self) -> dict[str, Any]:
        """``GET /api/memory``."""
        return await self._request("GET", "/api/memory")

    async def web_search(self, query: str) -> dict[str, Any]:
        """``POST /api/search``."""
        return await self._request("POST", "/api/search", {"query": query})
