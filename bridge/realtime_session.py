"""The conversation's realtime sessions, one after another: mint, connect, renew, reconnect.

:class:`RealtimeSessions` mints a session through our API, connects, sends ``session.update``
with the full tool list and, on renewal, carries the context over. It reads the current
session's events (parsed once into typed models) and hands them to the conversation. Before the
60-minute limit (``max_session_s``) it holds new input, lets the exchange in progress finish
(bounded) and switches to a fresh session; after a dropped socket it reconnects with
exponential backoff (bounded attempts) and asks again for a reply the drop cut off.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bridge import client_events, events
from bridge.api_client import ApiClient, BackendError
from bridge.config import ConversationSettings
from bridge.context import ConversationLog
from bridge.host import ConversationHost
from bridge.realtime import RealtimeConnectError, RealtimeConnection
from bridge.status import Metrics, StatusLine
from bridge.turns import TurnCoordinator

# What a failed session start raises besides BridgeExit (the conversation reports it).
SESSION_ERRORS = (BackendError, RealtimeConnectError, OSError)


class BridgeExit(Exception):
    """Ends the conversation with an exit code and a message for stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RealtimeSessions:
    """Owns the current realtime connection of a conversation and replaces it when needed."""

    def __init__(self, settings: ConversationSettings, api: ApiClient,
                 tools: list[dict[str, Any]], *, host: ConversationHost,
                 turns: TurnCoordinator, log: ConversationLog, status: StatusLine,
                 metrics: Metrics) -> None:
        self.settings = settings
        self.api = api
        self.tools = tools
        self.host = host
        self.turns = turns
        self.log = log
        self.status = status
        self.metrics = metrics
        self.conn: RealtimeConnection | None = None

    async def start(self) -> None:
        """Open the first session.

        Raises:
            BridgeExit: the API refused our token (exit code 2).
            BackendError, RealtimeConnectError, OSError: the session could not be started.
        """
        self.conn = await self._open(carry_over=False)

    async def send(self, event: dict[str, Any]) -> None:
        """Send on the current session (a closed socket is noticed by :meth:`supervise`)."""
        if self.conn is not None:
            await self.conn.send(event)

    async def close(self) -> None:
        """Close the current session's socket."""
        if self.conn is not None:
            await self.conn.close()

    async def _open(self, *, carry_over: bool) -> RealtimeConnection:
        """Mint, connect, configure, and (on renewal) carry the context over."""
        self.status.set("connecting")
        try:
            minted = await self.api.mint_session(self.settings.model, self.settings.voice)
        except BackendError as exc:
            if exc.is_auth:
                raise BridgeExit(2, f"{exc} (POST /api/voice-agent answered {exc.status})") \
                    from exc
            raise
        conn = RealtimeConnection(minted.websocket_url, minted.client_secret)
        await conn.connect()
        await conn.send(client_events.session_update(
            tools=self.tools, text_only=self.settings.text_mode,
            transcription_model=self.settings.transcription_model))
        if carry_over:
            for item in self.log.carry_over_items():
                await conn.send(client_events.item_create(item))
        self.turns.session_replaced()
        self.metrics.sessions += 1
        await self.host.notify()
        self.status.set("listening")
        return conn

    async def supervise(self) -> None:
        """Read events; renew the session before its time limit; reconnect after drops."""
        while not self.host.ended:
            conn = self.conn
            assert conn is not None
            opened = time.monotonic()
            reader = self.host.spawn(self._read(conn), "reader")
            remaining = self.settings.max_session_s - (time.monotonic() - opened)
            done, _ = await asyncio.wait({reader}, timeout=max(0.0, remaining))
            if self.host.ended:
                return
            if reader in done:
                await self._after_drop()
            else:
                await self._roll_over(conn, reader)

    async def _after_drop(self) -> None:
        # A reply cut off by the drop is asked for again in the new session.
        interrupted = not self.turns.idle
        self.conn = await self._reconnect()
        if interrupted and self.log.turns and self.log.turns[-1].role == "user":
            await self.host.request_response()

    async def _roll_over(self, conn: RealtimeConnection, reader: asyncio.Task[Any]) -> None:
        # Hold new input, let the current exchange finish (bounded), switch, close the old.
        self.turns.switching = True
        try:
            await self.host.wait_until(lambda: self.turns.idle, self.settings.idle_wait_s)
            self.conn = await self._reconnect(first_delay=False)
            reader.cancel()
            await conn.close()
        finally:
            self.turns.switching = False
            await self.host.notify()

    async def _reconnect(self, *, first_delay: bool = True) -> RealtimeConnection:
        """A new session with carry-over, retrying with exponential backoff (bounded)."""
        delay = self.settings.reconnect_base_s
        last: Exception | None = None
        for attempt in range(self.settings.reconnect_attempts):
            if first_delay or attempt:
                self.status.set(f"reconnecting (attempt {attempt + 1})")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_s)
                self.metrics.reconnects += 1
            try:
                return await self._open(carry_over=True)
            except SESSION_ERRORS as exc:
                last = exc
        raise BridgeExit(1, f"the realtime connection was lost and could not be renewed "
                            f"after {self.settings.reconnect_attempts} attempts: {last}")

    async def _read(self, conn: RealtimeConnection) -> None:
        async for raw in conn.events():
            if conn is not self.conn:
                return  # a replaced session's late events are not ours to act on
            event = events.parse_server_event(raw)
            if event is not None:
                await self.host.handle(event)
