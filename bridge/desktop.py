"""Running one desktop action safely: name mapping, policy, confirmation, timeout, audit.

Shared by the realtime router and the ``--serve`` endpoint, so both obey the same policy.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bridge import tool_names
from bridge.audit import AuditLog
from bridge.confirm import Confirmer, ConfirmRequest, Verdict
from bridge.mcp_client import DesktopClient, ToolResult
from bridge.policy import SELF_CONFIRMATION_KEYS, Action, Policy

MAX_OUTPUT_CHARS = 16_000  # a UI tree can be huge; the model needs the start of it


@dataclass
class DesktopOutcome:
    """The result of one desktop action as the caller should report it."""

    text: str
    is_error: bool = False
    images: list[tuple[str, str]] = field(default_factory=list)
    decision: str = "allowed"


class DesktopExecutor:
    """Applies the policy around :class:`DesktopClient` calls."""

    def __init__(self, client: DesktopClient | None, policy: Policy, confirmer: Confirmer,
                 audit: AuditLog, *, source: str = "realtime") -> None:
        self.client = client
        self.policy = policy
        self.confirmer = confirmer
        self.audit = audit
        self.source = source

    @property
    def offered(self) -> set[str]:
        """Names the server offers (empty without a server)."""
        return self.client.names if self.client is not None else set()

    def handles(self, name: str) -> bool:
        """Whether ``name`` is a desktop tool of the connected server (either generation)."""
        return tool_names.is_desktop_name(name, self.offered)

    async def run(self, name: str, arguments: dict[str, Any]) -> DesktopOutcome:
        """Map, check, confirm, call and audit one action. Never raises for tool failures."""
        started = time.monotonic()
        arguments = {k: v for k, v in arguments.items() if k not in SELF_CONFIRMATION_KEYS}
        if self.client is None:
            return DesktopOutcome("error: no desktop server is connected (start the bridge "
                                  "with --mcp-command or --mcp-url)", is_error=True,
                                  decision="not_run")
        try:
            canonical = tool_names.to_canonical(name, arguments)
            steps = tool_names.for_server(canonical, self.offered)
        except tool_names.ToolNameError as exc:
            return self._finish(name, arguments, started, "not_run", "error",
                                DesktopOutcome(f"error: {exc}", is_error=True))
        decisions = [self.policy.decide(step.name, step.arguments) for step in canonical]
        decision = "allowed"
        if any(d.action is Action.DENY for d in decisions):
            reason = next(d.reason for d in decisions if d.action is Action.DENY)
            return self._finish(name, arguments, started, "denied", "not_run", DesktopOutcome(
                f"error: not allowed: {reason}. Tell the user this action is switched off in "
                "the bridge's policy.", is_error=True), detail=reason)
        if any(d.action is Action.CONFIRM for d in decisions):
            verdict = await self.confirmer.confirm(ConfirmRequest(name, arguments))
            if verdict is Verdict.PENDING:
                return self._finish(name, arguments, started, "pending", "not_run",
                                    DesktopOutcome(
                    f"needs the user's confirmation: ask the user whether to run {name} with "
                    f"{arguments} and wait for their answer. If they clearly say yes, call "
                    f"{name} again with exactly the same arguments; otherwise do not run it.",
                    is_error=True))
            if verdict is Verdict.REFUSED:
                return self._finish(name, arguments, started, "refused", "not_run",
                                    DesktopOutcome(f"error: the user did not confirm {name}; "
                                                   "it was not run.", is_error=True))
            decision = "confirmed"
        timeout_s = max(self.policy.timeout_s(step.name) for step in canonical)
        try:
            async with asyncio.timeout(timeout_s):
                results = [await self.client.call_tool(step.name, step.arguments)
                           for step in steps]
        except TimeoutError:
            return self._finish(name, arguments, started, decision, "timeout", DesktopOutcome(
                f"error: {name} timed out after {timeout_s:g} s (the policy's timeout_s for "
                f"{canonical[0].name})", is_error=True))
        outcome = _merge(results)
        outcome.decision = decision
        return self._finish(name, arguments, started, decision,
                            "error" if outcome.is_error else "ok", outcome)

    def _finish(self, name: str, arguments: dict[str, Any], started: float, decision: str,
                status: str, outcome: DesktopOutcome, detail: str = "") -> DesktopOutcome:
        outcome.decision = decision
        self.audit.record(tool=name, arguments=arguments, decision=decision, status=status,
                          duration_ms=(time.monotonic() - started) * 1000, source=self.source,
                          detail=detail or (outcome.text[:200] if outcome.is_error else ""))
        return outcome


def _merge(results: list[ToolResult]) -> DesktopOutcome:
    text = "\n".join(r.text for r in results if r.text)
    is_error = any(r.is_error for r in results)
    if is_error and not text.startswith("error"):
        text = f"error: {text or 'the tool failed'}"
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n[… {len(text) - MAX_OUTPUT_CHARS} characters cut]"
    return DesktopOutcome(text or "done", is_error,
                          [img for r in results for img in r.images])
