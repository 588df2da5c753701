"""Shared HTTP clients for upstream APIs (OpenAI, Tavily).

One pooled client per timeout, kept at module scope: a warm Lambda or the dev server reuses
its connections (TLS handshake included) instead of paying for a new one on every call.
"""

from __future__ import annotations

from typing import Any

import httpx
import pydantic_core

from voice_agent.errors import UpstreamError, UpstreamTimeout
from voice_agent.process_wide import ProcessWide

_clients: ProcessWide[float, httpx.Client] = ProcessWide("HTTP clients",
                                                        close=httpx.Client.close)


def shared_client(timeout_s: float) -> httpx.Client:
    """The process-wide client whose requests time out after ``timeout_s`` (connect ≤ 3 s)."""
    return _clients.get(timeout_s, lambda: httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=min(3.0, timeout_s))))


def reset_clients() -> None:
    """Closes and forgets the pooled clients (after a SnapStart restore; tests)."""
    _clients.reset()


def post_json(url: str, body: dict[str, Any], *, api_key: str, timeout_s: float,
              service: str) -> dict[str, Any]:
    """POST ``body`` with a bearer key and return the JSON object answered.

    The upstream's own status is never passed through as ours: a non-2xx becomes
    :class:`UpstreamError` ``"<service> API error: <status>"`` (502), slowness or an unreachable
    host :class:`UpstreamTimeout` (504). The key is only ever in the request header.

    Both bodies go through pydantic's Rust JSON code (a session request and its answer are
    about 20 KB each, where ``json`` takes several times as long).
    """
    try:
        response = shared_client(timeout_s).post(
            url, content=pydantic_core.to_json(body),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(f"{service} API timeout") from exc
    except httpx.HTTPError as exc:
        raise UpstreamTimeout(f"{service} API unreachable") from exc
    if not response.is_success:
        raise UpstreamError(f"{service} API error: {response.status_code}")
    try:
        data = pydantic_core.from_json(response.content)
    except ValueError as exc:
        raise UpstreamError(f"{service} API error: invalid response") from exc
    if not isinstance(data, dict):
        raise UpstreamError(f"{service} API error: invalid response")
    return data
