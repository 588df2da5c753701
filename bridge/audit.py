"""The audit log: one JSON line per desktop action, whatever became of it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def default_audit_path(*, windows: bool | None = None) -> Path:
    """Where the audit log goes without ``--audit-log``.

    ``~/.voice-agent/audit.jsonl``; on Windows ``%LOCALAPPDATA%\\voice-agent\\audit.jsonl``,
    the per-user, non-roaming place for an application's own data.
    """
    if windows is None:
        windows = os.name == "nt"
    if windows:
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "voice-agent" / "audit.jsonl"
    return Path.home() / ".voice-agent" / "audit.jsonl"


DEFAULT_AUDIT_PATH = default_audit_path()


class AuditLog:
    """Appends desktop actions (allowed, confirmed, refused, denied) to a JSONL file.

    Writes are small and synchronous on purpose: an action that ran must be on disk even if
    the bridge is killed right after.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else DEFAULT_AUDIT_PATH

    def record(self, *, tool: str, arguments: dict[str, Any], decision: str, status: str,
               duration_ms: float, source: str, detail: str = "") -> None:
        """Append one entry.

        Args:
            tool: the tool name the model used.
            arguments: the arguments as received (after stripping self-confirmation keys).
            decision: allowed | confirmed | refused | denied.
            status: ok | error | timeout | not_run.
            duration_ms: time spent on the call including any confirmation.
            source: realtime | serve.
            detail: a short note (the policy reason or the error).
        """
        entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tool": tool,
                 "arguments": arguments, "decision": decision, "status": status,
                 "duration_ms": round(duration_ms, 1), "source": source, "detail": detail}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, default=str) + "\n")
        except OSError:
            # Auditing must never take the conversation down; the status line shows actions.
            pass
