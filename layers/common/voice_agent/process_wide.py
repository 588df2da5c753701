"""Process-wide values: built once on first use, shared by every caller, forgotten together.

A warm Lambda (or the dev server) keeps its clients, limiter and memory wiring between
requests; each such value lives in one holder declared here, instead of a module global with
its own lock and its own reset. `reset_all` forgets every holder at once: the SnapStart
after-restore hook calls it (restored environments must not share connections or cached
credentials), and tests call it or a holder's `reset` to start clean.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ProcessWide", "ProcessWideValue", "reset_all"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_holders: list[ProcessWide[object, object]] = []
_holders_lock = threading.Lock()


class ProcessWide(Generic[K, V]):
    """Values per key, each built once per process (under a lock, so never twice)."""

    def __init__(self, name: str, *, close: Callable[[V], object] | None = None,
                 on_reset: Callable[[], object] | None = None) -> None:
        """Declares a holder and registers it with `reset_all`.

        Args:
            name: What it holds (for `repr` and debugging).
            close: Called with each value when it is forgotten (e.g. closing a pool).
            on_reset: Called after every reset (e.g. dropping caches built from the values).
        """
        self.name = name
        self._close = close
        self._on_reset = on_reset
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()
        with _holders_lock:
            _holders.append(self)  # type: ignore[arg-type]  # reset needs no types

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The value for ``key``, built by ``build`` the first time."""
        value = self._values.get(key)
        if value is None:
            with self._lock:
                value = self._values.get(key)
                if value is None:
                    value = build()
                    self._values[key] = value
        return value

    def put(self, key: K, value: V | None) -> None:
        """Replaces the value for ``key`` (None forgets it, without closing it)."""
        with self._lock:
            if value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = value

    def reset(self) -> None:
        """Forgets (and closes) every value; the next `get` builds afresh."""
        with self._lock:
            values = list(self._values.values())
            self._values.clear()
        if self._close is not None:
            for value in values:
                self._close(value)
        if self._on_reset is not None:
            self._on_reset()

    def __repr__(self) -> str:
        return f"ProcessWide({self.name!r}, {len(self._values)} values)"


class ProcessWideValue(ProcessWide[None, V]):
    """One process-wide value."""

    def get_value(self, build: Callable[[], V]) -> V:
        """The value, built by ``build`` the first time."""
        return self.get(None, build)

    def set_value(self, value: V | None) -> None:
        """Replaces the value (tests pass their own); None forgets it."""
        self.put(None, value)


def reset_all() -> None:
    """Forgets the values of every holder declared so far (after a SnapStart restore; tests)."""
    with _holders_lock:
        holders = list(_holders)
    for holder in holders:
        holder.reset()
