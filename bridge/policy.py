"""The safety policy: which desktop calls run, which are asked about, which never run.

Loaded from ``bridge/policy.default.toml`` and optionally a user's file (``--policy``). A call
is decided from its effect (:mod:`bridge.effects`), never from what the model claims: arguments
such as ``confirmed: true`` are stripped before anything looks at the call.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bridge import effects
from bridge.effect_types import NO_FOCUS, Effect, Focus, Rules, ToolFacts, WordLists

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.default.toml")

# Arguments a model might add to talk its way past confirmation; they are stripped before the
# call and never consulted.
SELF_CONFIRMATION_KEYS = frozenset({"confirmed", "confirm", "user_confirmed", "approved",
                                    "user_approved", "skip_confirmation", "no_confirm"})


class Action(StrEnum):
    """What happens to one call."""

    ALLOW = "allow"
    CONFIRM = "confirm"
    DENY = "deny"


TOOL_ACTIONS = ("auto", "allow", "confirm", "deny")
_TOOL_KEYS = frozenset({"action", "timeout_s", "read_only_cmdlets"})
_DEFAULT_KEYS = frozenset({"timeout_s", "slow_notice_s", "confirm_wait_s", "question_timeout_s",
                           "focus_max_age_s"})


@dataclass(frozen=True)
class ToolRule:
    """The policy file's entry for one tool: ``auto`` decides by effect."""

    action: str = "auto"
    timeout_s: float | None = None


@dataclass(frozen=True)
class Decision:
    """The verdict on one call, its effect class and a reason for the question and audit."""

    action: Action
    effect: Effect
    reason: str


class PolicyError(ValueError):
    """The policy file is malformed."""


@dataclass
class Policy:
    """Effect classes → actions, per-tool overrides, the word lists and the timing knobs."""

    classes: dict[Effect, Action]
    rules: Rules
    tools: dict[str, ToolRule] = field(default_factory=dict)
    default_timeout_s: float = 30.0
    slow_notice_s: float = 2.0
    confirm_wait_s: float = 15.0
    question_timeout_s: float = 60.0
    focus_max_age_s: float = 3.0

    @classmethod
    def load(cls, override: str | Path | None = None) -> Policy:
        """Read the default policy, then apply ``override`` key by key if given.

        Raises:
            PolicyError: a file cannot be parsed or holds an unknown key or value.
        """
        data = _read(DEFAULT_POLICY_PATH)
        if override is not None:
            data = merge(data, _read(Path(override)))
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from the parsed TOML structure (the default file's shape).

        Raises:
            PolicyError: an unknown key, action or class.
        """
        defaults = dict(data.get("defaults", {}))
        _check_keys(defaults, _DEFAULT_KEYS, "[defaults]")
        classes = {Effect.RUNS_CODE: Action.CONFIRM, Effect.DESTROYS: Action.CONFIRM,
                   Effect.READS_SECRETS: Action.CONFIRM, Effect.UNKNOWN: Action.CONFIRM,
                   Effect.EVERYDAY: Action.ALLOW}
        for name, value in data.get("classes", {}).items():
            try:
                classes[Effect(name)] = Action(value)
            except ValueError as exc:
                raise PolicyError(f"[classes] {name} = {value!r}: classes are "
                                  f"{', '.join(e.value for e in Effect)}; actions are allow, "
                                  "confirm or deny") from exc
        tools: dict[str, ToolRule] = {}
        cmdlets: list[str] = []
        for name, entry in data.get("tools", {}).items():
            _check_keys(entry, _TOOL_KEYS, f"[tools.{name}]")
            action = entry.get("action", "auto")
            if action not in TOOL_ACTIONS:
                raise PolicyError(f"[tools.{name}] action must be one of "
                                  f"{', '.join(TOOL_ACTIONS)}")
            timeout = entry.get("timeout_s")
            tools[name] = ToolRule(action, None if timeout is None else float(timeout))
            if name == "PowerShell":
                cmdlets = list(entry.get("read_only_cmdlets", ()))
        try:
            lists = WordLists.from_dict(data.get("lists", {}))
        except (TypeError, AttributeError) as exc:
            raise PolicyError(f"[lists] entries must be lists of strings: {exc}") from exc
        rules = Rules(lists=lists,
                              read_only_cmdlets=frozenset(c.casefold() for c in cmdlets))
        try:
            return cls(classes=classes, rules=rules, tools=tools,
                       default_timeout_s=float(defaults.get("timeout_s", 30.0)),
                       slow_notice_s=float(defaults.get("slow_notice_s", 2.0)),
                       confirm_wait_s=float(defaults.get("confirm_wait_s", 15.0)),
                       question_timeout_s=float(defaults.get("question_timeout_s", 60.0)),
                       focus_max_age_s=float(defaults.get("focus_max_age_s", 3.0)))
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"[defaults] values must be numbers: {exc}") from exc

    def timeout_s(self, tool: str) -> float:
        """How long a call of ``tool`` may take."""
        rule = self.tools.get(tool)
        return rule.timeout_s if rule and rule.timeout_s is not None else self.default_timeout_s

    def needs_focus(self, tool: str, arguments: Mapping[str, Any]) -> bool:
        """Whether deciding this step needs to know the focused window."""
        rule = self.tools.get(tool, ToolRule())
        return rule.action == "auto" and effects.needs_focus(tool, arguments, self.rules)

    def decide(self, tool: str, arguments: Mapping[str, Any], *, focus: Focus = NO_FOCUS,
               facts: ToolFacts | None = None) -> Decision:
        """Decide on one canonical step (current tool name, arguments as they would be sent)."""
        rule = self.tools.get(tool, ToolRule())
        if rule.action == "deny":
            return Decision(Action.DENY, Effect.UNKNOWN, f"{tool} is switched off in the policy")
        if rule.action == "allow":
            return Decision(Action.ALLOW, Effect.EVERYDAY,
                            f"{tool} is allowed unasked by the policy file")
        assessment = effects.assess(tool, arguments, self.rules, focus=focus, facts=facts)
        action = self.classes[assessment.effect]
        if rule.action == "confirm" and action is Action.ALLOW:
            action = Action.CONFIRM
        return Decision(action, assessment.effect, assessment.reason)


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``: tables merge key by key, lists and values replace."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _check_keys(entry: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: "
                          f"{', '.join(sorted(allowed))})")


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"cannot read the policy file {path}: {exc}") from exc
