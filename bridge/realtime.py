"""The realtime WebSocket: connect with the ephemeral key, send and receive JSON events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

# Closing handshake wait: long enough for a clean close, short enough that Ctrl-C feels instant.
WS_CLOSE_TIMEOUT_S = 2.0


class RealtimeConnectError(ConnectionError):
    """The WebSocket could not be opened (unreachable, rejected key, bad URL)."""


class RealtimeConnection:
    """One realtime session's WebSocket; ``close()`` is idempotent."""

    def __init__(self, url: str, client_secret: str, *, open_timeout_s: float = 15.0) -> None:
        self.url = url
        self._secret = client_secret
        self._open_timeout_s = open_timeout_s
        self._ws: ClientConnection | None = None

    async def connect(self) -> None:
        """Open the socket (the key is only needed here; a connected session outlives it).

        Raises:
            RealtimeConnectError: the server cannot be reached or refused the connection.
        """
        try:
            self._ws = await connect(
                self.url, additional_headers={"Authorization": f"Bearer {self._secret}"},
                max_size=None, open_timeout=self._open_timeout_s,
                close_timeout=WS_CLOSE_TIMEOUT_S, compression=None)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise RealtimeConnectError(f"cannot connect to {self.url}: {exc}") from exc

    @property
    def is_open(self) -> bool:
        """Whether events can still be sent."""
        return self._ws is not None and self._ws.close_code is None

    async def send(self, event: dict[str, Any]) -> bool:
        """Send one client event.

        Returns:
            False if the socket is already closed; the caller carries on, the supervisor
            notices the drop and reconnects.
        """
        if self._ws is None:
            return False
        try:
            await self._ws.send(json.dumps(event, ensure_ascii=False))
        except ConnectionClosed:
            return False
        return True

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Server events until the socket closes (a drop ends the iteration quietly)."""
        if self._ws is None:
            return
        try:
            async for raw in self._ws:
                try:
                    event = json.loads(raw)
                except (TypeError, ValueError):
                    continue
                if isinstance(event, dict):
                    yield event
        except ConnectionClosed:
            return

    async def close(self) -> None:
        """Close the socket; safe twice."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
