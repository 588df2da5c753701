"""Shared HTTP clients for upstream APIs (OpenAI, Tavily).

One pooled client per timeout, kept at module scope: a warm Lambda or the dev server reuses
its connections (TLS handshake included) instead of paying for a new one on every call.
"""

from __future__ import annotations

import threading

import httpx

_clients: dict[float, httpx.Client] = {}
_lock = threading.Lock()


def shared_client(timeout_s: float) -> httpx.Client:
    """The process-wide client whose requests time out after ``timeout_s`` (connect ≤ 3 s)."""
    with _lock:
        client = _clients.get(timeout_s)
        if client is None:
            client = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(3.0, timeout_s)))
            _clients[timeout_s] = client
        return client
