"""What the parts of a conversation need from the conversation that runs them.

:class:`bridge.conversation.Conversation` implements :class:`ConversationHost`; the tool runner
and the realtime session owner are given it, so neither imports the conversation (no loop) and
each can be driven by a small stand-in. :class:`EventTable` maps each parsed event model to its
handler; registering checks the handler's type against the model's. :class:`StateSignal` is the
wait-and-wake both use for the turn state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from bridge.events import ServerEvent

E = TypeVar("E", bound=ServerEvent)


class ConversationHost(Protocol):
    """The conversation's task group, its outgoing events and its turn-state waits."""

    @property
    def ended(self) -> bool:
        """Whether the conversation is over."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a task held by the conversation (never fire-and-forget)."""
        ...

    async def send(self, event: dict[str, Any]) -> None:
        """Send a client event on the current realtime session."""
        ...

    async def request_response(self, *, instructions: str | None = None,
                               out_of_band: bool = False,
                               metadata: dict[str, str] | None = None) -> None:
        """Send ``response.create`` once no other response is active."""
        ...

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` holds after a turn-state change; False on timeout."""
        ...

    async def notify(self) -> None:
        """Wake whatever waits on the turn state."""
        ...

    async def handle(self, event: ServerEvent) -> None:
        """Act on one parsed server event of the current session."""
        ...


class StateSignal:
    """Wakes whoever waits for a condition on the turn state once that state changes."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def notify(self) -> None:
        """The state changed: re-check every waiting predicate."""
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` holds (checked now and on each notify); False on timeout."""
        try:
            async with asyncio.timeout(timeout_s), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            return False
        return True


class EventTable:
    """Server event model → handler; events without a handler are ignored."""

    def __init__(self) -> None:
        self._handlers: dict[type[object], Callable[[Any], Awaitable[None]]] = {}

    def on(self, kind: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        """Handle events of model ``kind`` with ``handler`` (one handler per model)."""
        self._handlers[kind] = handler

    @property
    def kinds(self) -> frozenset[type[object]]:
        """The event models that have a handler."""
        return frozenset(self._handlers)

    async def dispatch(self, event: ServerEvent) -> None:
        """Run the handler of ``event``'s model, if there is one."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            await handler(event)
