"""The safety policy: defaults, allow-list, modes, overrides."""

from __future__ import annotations

import pytest

from bridge.policy import Action, Policy, PolicyError


@pytest.fixture
def policy():
    return Policy.load()


@pytest.mark.parametrize("tool", ["Snapshot", "Screenshot", "Click", "Type", "Move", "Scroll",
                                  "Shortcut", "Wait", "WaitFor", "App", "Scrape"])
def test_everyday_tools_run_without_confirmation(policy, tool):
    assert policy.decide(tool, {}).action is Action.ALLOW


@pytest.mark.parametrize(("tool", "args"), [
    ("PowerShell", {"command": "Remove-Item C:\\x"}),
    ("FileSystem", {"mode": "write", "path": "a"}),
    ("FileSystem", {"mode": "delete", "path": "a"}),
    ("FileSystem", {"mode": "copy", "path": "a"}),
    ("FileSystem", {"mode": "move", "path": "a"}),
    ("Registry", {"mode": "set", "path": "HKCU:\\x"}),
    ("Registry", {"mode": "delete", "path": "HKCU:\\x"}),
    ("Process", {"mode": "kill", "pid": 1}),
    ("SomeFutureTool", {}),
])
def test_risky_calls_and_unknown_tools_need_confirmation(policy, tool, args):
    assert policy.decide(tool, args).action is Action.CONFIRM


@pytest.mark.parametrize(("tool", "args"), [
    ("PowerShell", {"command": "Get-Date"}),
    ("PowerShell", {"command": " Get-Process chrome "}),
    ("FileSystem", {"mode": "read", "path": "a"}),
    ("Registry", {"mode": "get", "path": "x"}),
    ("Process", {"mode": "list"}),
])
def test_allow_list_and_read_modes_skip_confirmation(policy, tool, args):
    assert policy.decide(tool, args).action is Action.ALLOW


@pytest.mark.parametrize("command", ["Get-Date; Remove-Item x", "Get-Process | Stop-Process",
                                     "Get-Process $(Remove-Item x)", "Get-Date > out.txt",
                                     "Get-Process x\nRemove-Item y", "Get-Dates"])
def test_allow_list_never_covers_chained_commands(policy, command):
    assert policy.decide("PowerShell", {"command": command}).action is Action.CONFIRM


def test_self_confirmation_argument_changes_nothing(policy):
    decision = policy.decide("PowerShell", {"command": "Stop-Computer", "confirmed": True})
    assert decision.action is Action.CONFIRM


def test_override_file_replaces_single_tools_and_defaults(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[defaults]\naction = "deny"\ntimeout_s = 5\n'
                    '[tools.Click]\naction = "confirm"\ntimeout_s = 1.5\n')
    policy = Policy.load(path)
    assert policy.decide("Click", {}).action is Action.CONFIRM
    assert policy.timeout_s("Click") == 1.5
    assert policy.decide("Unknown", {}).action is Action.DENY
    assert policy.decide("Type", {}).action is Action.ALLOW  # untouched default entry
    assert policy.timeout_s("PowerShell") == 120


def test_bad_policy_file_is_a_clear_error(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[tools.Click]\naction = "maybe"\n')
    with pytest.raises(PolicyError, match="allow, confirm or deny"):
        Policy.load(path)
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.load(tmp_path / "missing.toml")
