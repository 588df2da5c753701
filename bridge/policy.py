"""The safety policy: which desktop tool runs freely, which needs confirmation, which is off.

Loaded from ``bridge/policy.default.toml`` and optionally overridden by the user's file
(``--policy``). Decisions are made on canonical (current-generation) tool names and never
depend on anything the model claims: an argument such as ``confirmed: true`` is ignored.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.default.toml")

# Arguments a model might add to talk its way past confirmation; they are stripped before the
# call and never consulted.
SELF_CONFIRMATION_KEYS = frozenset({"confirmed", "confirm", "user_confirmed", "approved"})


class Action(StrEnum):
    """What the policy allows for one call."""

    ALLOW = "allow"
    CONFIRM = "confirm"
    DENY = "deny"


@dataclass(frozen=True)
class ToolRule:
    """The policy entry of one tool."""

    action: Action
    timeout_s: float
    confirm_modes: frozenset[str] = frozenset()
    allow_patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Decision:
    """The verdict on one call and a short reason for the audit log."""

    action: Action
    reason: str


class PolicyError(ValueError):
    """The policy file is malformed."""


@dataclass
class Policy:
    """Per-tool rules plus defaults for tools the file does not list."""

    default: ToolRule
    rules: dict[str, ToolRule] = field(default_factory=dict)
    slow_notice_s: float = 2.0
    confirm_wait_s: float = 15.0

    @classmethod
    def load(cls, override: str | Path | None = None) -> Policy:
        """Read the default policy, then apply ``override`` (tool by tool) if given.

        Raises:
            PolicyError: a file cannot be parsed or names an unknown action.
        """
        data = _read(DEFAULT_POLICY_PATH)
        if override is not None:
            extra = _read(Path(override))
            data.setdefault("defaults", {}).update(extra.get("defaults", {}))
            data.setdefault("tools", {}).update(extra.get("tools", {}))
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """Build a policy from the parsed TOML structure."""
        defaults = data.get("defaults", {})
        default = _rule(defaults, None, "defaults")
        rules = {name: _rule(entry, default, name)
                 for name, entry in data.get("tools", {}).items()}
        return cls(default=default, rules=rules,
                   slow_notice_s=float(defaults.get("slow_notice_s", 2.0)),
                   confirm_wait_s=float(defaults.get("confirm_wait_s", 15.0)))

    def rule(self, tool: str) -> ToolRule:
        """The rule for a canonical tool name (the default for unknown tools)."""
        return self.rules.get(tool, self.default)

    def timeout_s(self, tool: str) -> float:
        """How long a call of ``tool`` may take."""
        return self.rule(tool).timeout_s

    def decide(self, tool: str, arguments: dict[str, Any]) -> Decision:
        """Decide on one canonical call; ``arguments`` are what would be sent."""
        rule = self.rule(tool)
        if rule.action is Action.DENY:
            return Decision(Action.DENY, f"{tool} is disabled by the policy")
        mode = arguments.get("mode")
        if isinstance(mode, str) and mode in rule.confirm_modes:
            return Decision(Action.CONFIRM, f"{tool} mode {mode} needs confirmation")
        if rule.action is Action.CONFIRM:
            command = arguments.get("command")
            if isinstance(command, str) and _allow_listed(command.strip(), rule.allow_patterns):
                return Decision(Action.ALLOW, "command matches the allow-list")
            return Decision(Action.CONFIRM, f"{tool} needs confirmation")
        return Decision(Action.ALLOW, "allowed by the policy")


# A pattern such as `^Get-Process( |$)` must not let `Get-Process; Remove-Item …` through:
# commands that chain, pipe, redirect or substitute are never allow-listed.
_CHAINING = re.compile(r"[;|&`<>\n\r]|\$\(|@\(")


def _allow_listed(command: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    if not command or _CHAINING.search(command):
        return False
    return any(p.search(command) for p in patterns)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"cannot read the policy file {path}: {exc}") from exc


def _rule(entry: dict[str, Any], base: ToolRule | None, where: str) -> ToolRule:
    try:
        action = Action(entry.get("action", base.action if base else "confirm"))
    except ValueError as exc:
        raise PolicyError(f"{where}: action must be allow, confirm or deny") from exc
    try:
        patterns = tuple(re.compile(p) for p in entry.get("allow_patterns", ()))
    except re.error as exc:
        raise PolicyError(f"{where}: bad allow_patterns entry: {exc}") from exc
    return ToolRule(
        action=action,
        timeout_s=float(entry.get("timeout_s", base.timeout_s if base else 30.0)),
        confirm_modes=frozenset(entry.get("confirm_modes", ())),
        allow_patterns=patterns,
    )
