"""Running one desktop action safely: name mapping, policy, confirmation, timeout, audit.

Shared by the realtime router and the ``--serve`` endpoint, so both obey the same policy. The
order matters: self-confirming arguments are stripped, the name is mapped onto canonical steps
(unknown or misspelt names never run), every step is judged by its effect — with a fresh
focused-window reading where typing Enter is involved — and only then is the user asked, in the
bridge's words. Every outcome is written to the audit log.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bridge import tool_names
from bridge.audit import AuditLog
from bridge.confirm import Confirmer, ConfirmRequest, Verdict
from bridge.effect_types import Focus, ToolFacts
from bridge.focus import FocusTracker
from bridge.folding import fold
from bridge.mcp_client import DesktopClient, ToolResult
from bridge.policy import SELF_CONFIRMATION_KEYS, Action, Decision, Policy
from bridge.questions import (
    MAX_REVIEWABLE_CHARS,
    StepView,
    longest_salient,
    spoken_question,
    terminal_question,
)

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
        self.focus = FocusTracker(policy.focus_max_age_s)

    @property
    def offered(self) -> set[str]:
        """Names the server offers (empty without a server)."""
        return self.client.names if self.client is not None else set()

    def handles(self, name: str) -> bool:
        """Whether ``name`` is a desktop tool of the connected server (either generation)."""
        return tool_names.is_desktop_name(name, self.offered)

    def refuse_unknown(self, name: str, arguments: dict[str, Any]) -> DesktopOutcome:
        """Audit and answer a call of a tool that is neither offered nor mappable."""
        return self._finish(name, arguments, time.monotonic(), "refused_unknown", "not_run",
                            DesktopOutcome(f"error: unknown desktop tool {name!r}; it was not "
                                           "run. Use only the tools in the session.",
                                           is_error=True))

    async def run(self, name: str, arguments: dict[str, Any]) -> DesktopOutcome:
        """Map, judge, confirm, call and audit one action. Never raises for tool failures."""
        started = time.monotonic()
        arguments = {k: v for k, v in arguments.items() if k not in SELF_CONFIRMATION_KEYS}
        if self.client is None:
            return DesktopOutcome("error: no desktop server is connected (start the bridge "
                                  "with --mcp-command or --mcp-url)", is_error=True,
                                  decision="not_run")
        if not self.handles(name):
            return self.refuse_unknown(name, arguments)
        try:
            canonical = [_normalised(step) for step in tool_names.to_canonical(name, arguments)]
            steps = tool_names.for_server(canonical, self.offered)
        except tool_names.ToolNameError as exc:
            return self._finish(name, arguments, started, "not_run", "error",
                                DesktopOutcome(f"error: {exc}", is_error=True))
        decisions = await self._judge(canonical)
        denied = next((d for d in decisions if d.action is Action.DENY), None)
        if denied is not None:
            return self._finish(name, arguments, started, "denied", "not_run", DesktopOutcome(
                f"error: not allowed: {denied.reason}. Tell the user this action is switched "
                "off in the bridge's policy.", is_error=True), detail=denied.reason)
        decision = "allowed"
        if any(d.action is Action.CONFIRM for d in decisions):
            refusal = await self._ask(name, arguments, canonical, decisions, started)
            if refusal is not None:
                return refusal
            decision = "confirmed"
        return await self._call(name, arguments, canonical, steps, started, decision,
                                "; ".join(d.reason for d in decisions))

    async def _judge(self, canonical: list[tool_names.ToolStep]) -> list[Decision]:
        focus: Focus | None = None
        decisions = []
        for step in canonical:
            if focus is None and self.policy.needs_focus(step.name, step.arguments):
                focus = await self._read_focus()
            decisions.append(self.policy.decide(step.name, step.arguments,
                                                focus=focus or Focus(),
                                                facts=self._facts(step.name)))
        return decisions

    async def _ask(self, name: str, arguments: dict[str, Any],
                   canonical: list[tool_names.ToolStep], decisions: list[Decision],
                   started: float) -> DesktopOutcome | None:
        """Put the bridge's question to the user; the refusal to report, or None if approved."""
        views = [StepView(s.name, s.arguments, d.effect, d.reason)
                 for s, d in zip(canonical, decisions, strict=True)]
        reasons = "; ".join(d.reason for d in decisions if d.action is Action.CONFIRM)
        if longest_salient(views) > MAX_REVIEWABLE_CHARS:
            return self._finish(name, arguments, started, "refused", "not_run", DesktopOutcome(
                f"error: {name} was not run: an argument is longer than "
                f"{MAX_REVIEWABLE_CHARS} characters, too long for the user to review. Split "
                "the task into smaller steps.", is_error=True), detail="too long to review")
        request = ConfirmRequest(name, terminal_question(name, views), spoken_question(views))
        self._record(name, arguments, started, "asked", "pending", request.question)
        verdict = await self.confirmer.confirm(request)
        if verdict is Verdict.APPROVED:
            return None
        if verdict is Verdict.TIMED_OUT:
            return self._finish(name, arguments, started, "timed_out", "not_run",
                                DesktopOutcome(f"error: the user did not answer the "
                                               f"confirmation for {name} in time; it was not "
                                               "run.", is_error=True), detail=reasons)
        return self._finish(name, arguments, started, "refused", "not_run", DesktopOutcome(
            f"error: the user did not confirm {name}; it was not run.", is_error=True),
            detail=reasons)

    async def _call(self, name: str, arguments: dict[str, Any],
                    canonical: list[tool_names.ToolStep], steps: list[tool_names.ToolStep],
                    started: float, decision: str, reasons: str) -> DesktopOutcome:
        assert self.client is not None
        timeout_s = max(self.policy.timeout_s(step.name) for step in canonical)
        results: list[ToolResult] = []
        try:
            async with asyncio.timeout(timeout_s):
                for step in steps:
                    result = await self.client.call_tool(step.name, step.arguments)
                    self.focus.observe(tool_names.canonical_name(step.name), result.text)
                    results.append(result)
        except TimeoutError:
            self.focus.observe("", "")  # whatever ran may have moved the focus
            return self._finish(name, arguments, started, decision, "timeout", DesktopOutcome(
                f"error: {name} timed out after {timeout_s:g} s (the policy's timeout_s for "
                f"{canonical[0].name})", is_error=True))
        outcome = _merge(results)
        return self._finish(name, arguments, started, decision,
                            "error" if outcome.is_error else "ok", outcome,
                            detail=reasons if not outcome.is_error else "")

    async def _read_focus(self) -> Focus:
        """The focused window: the last Snapshot's if fresh, else a new Snapshot's."""
        cached = self.focus.current()
        if cached is not None:
            return cached
        assert self.client is not None
        try:
            snapshot = tool_names.for_server(
                [tool_names.ToolStep("Snapshot", {"use_vision": False})], self.offered)
        except tool_names.ToolNameError:
            return Focus()
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.policy.timeout_s("Snapshot")):
                result = await self.client.call_tool(snapshot[0].name, snapshot[0].arguments)
        except TimeoutError:
            return Focus()
        self._record(snapshot[0].name, snapshot[0].arguments, started, "allowed",
                     "error" if result.is_error else "ok", "the bridge's own focus check",
                     source="bridge")
        if result.is_error:
            return Focus()
        return self.focus.observe("Snapshot", result.text) or Focus()

    def _facts(self, canonical: str) -> ToolFacts | None:
        for tool in self.client.tools if self.client is not None else []:
            if tool_names.canonical_name(tool.name) == canonical:
                hints = tool.annotations
                return ToolFacts(read_only=hints.get("readOnlyHint"),
                                 destructive=hints.get("destructiveHint"))
        return None

    def _record(self, name: str, arguments: dict[str, Any], started: float, decision: str,
                status: str, detail: str, *, source: str | None = None) -> None:
        self.audit.record(tool=name, arguments=arguments, decision=decision, status=status,
                          duration_ms=(time.monotonic() - started) * 1000,
                          source=source or self.source, detail=detail)

    def _finish(self, name: str, arguments: dict[str, Any], started: float, decision: str,
                status: str, outcome: DesktopOutcome, detail: str = "") -> DesktopOutcome:
        outcome.decision = decision
        self._record(name, arguments, started, decision, status,
                     detail or (outcome.text[:200] if outcome.is_error else ""))
        return outcome


def _normalised(step: tool_names.ToolStep) -> tool_names.ToolStep:
    """The step with its ``mode`` spelt as the policy read it (``" Delete"`` → ``"delete"``),
    so what runs is exactly what was judged and asked about."""
    mode = step.arguments.get("mode")
    if not isinstance(mode, str):
        return step
    return tool_names.ToolStep(step.name, {**step.arguments, "mode": fold(mode)})


def _merge(results: list[ToolResult]) -> DesktopOutcome:
    text = "\n".join(r.text for r in results if r.text)
    is_error = any(r.is_error for r in results)
    if is_error and not text.startswith("error"):
        text = f"error: {text or 'the tool failed'}"
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n[… {len(text) - MAX_OUTPUT_CHARS} characters cut]"
    return DesktopOutcome(text or "done", is_error,
                          [img for r in results for img in r.images])
