"""SnapStart runtime hooks: what every environment restored from one snapshot must not share.

With SnapStart, Lambda runs a function's init once, snapshots the memory and starts later
environments from copies of it. Whatever init left behind is then identical in all of them:
the ``random`` module's state (so the backoff jitter would be the same everywhere) and any
open connection or cached credential (stale, or the same TLS session in many places). The
after-restore hook therefore reseeds ``random`` and drops every pooled client and cached
secret this package keeps, so each is built fresh on first use. Only modules already loaded
are touched: the hook never imports anything new on the restore path.

``uuid.uuid4``, ``secrets`` and ``os.urandom`` read the kernel's generator on every call and
need nothing.

A function may also name modules that only some of its routes import on first use (the
memory function's index and numpy): without SnapStart they stay out of the cold start; with
it, `prime_before_snapshot` imports them before the snapshot, so no restored environment
imports them again.
"""

from __future__ import annotations

import importlib
import random
import sys
import threading

from voice_agent import process_wide

__all__ = ["after_restore", "prime_before_snapshot", "register_hooks"]

_registered = False
_registered_lock = threading.Lock()


def after_restore() -> None:
    """Reseeds ``random`` and forgets pooled clients and cached secrets (run after restore)."""
    random.seed()  # from os.urandom: a fresh state per restored environment
    # Every pooled client, limiter, queue, embedder and the memory wiring (their holders are
    # declared with voice_agent.process_wide, so only modules already loaded have any).
    process_wide.reset_all()
    loaded = sys.modules
    if "aws_lambda_powertools.utilities.parameters" in loaded:
        # Cached secret values and the Secrets Manager client behind them.
        loaded["aws_lambda_powertools.utilities.parameters"].clear_caches()


def register_hooks() -> None:
    """Registers `after_restore` with the Lambda runtime's hook registry (once per process)."""
    global _registered
    with _registered_lock:
        if _registered:
            return
        from snapshot_restore_py import register_after_restore

        register_after_restore(after_restore)
        _registered = True


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)


def prime_before_snapshot(*modules: str) -> None:
    """Imports ``modules`` before a SnapStart snapshot is taken (never without SnapStart).

    The Lambda runtime runs before-snapshot hooks only when it creates a snapshot, so a cold
    start without SnapStart still imports these on first use only.
    """
    from snapshot_restore_py import register_before_snapshot

    register_before_snapshot(_import_all, modules)
