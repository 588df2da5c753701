"""The PowerShell rule: a strict tokenizer that finds the one plain read-only cmdlet.

A command is everyday only when it provably is one listed read-only cmdlet with literal
arguments; anything PowerShell could evaluate runs code.
"""

from __future__ import annotations

import re
from typing import Any

from bridge.effect_signals import secret_in
from bridge.effect_types import Assessment, Effect, Rules

_LITERAL = re.compile(r"[A-Za-z0-9_.:\\/-]+")
_EXECUTING_PARAMETERS = ("-command", "-encodedcommand", "-enc", "-ec", "-scriptblock",
                         "-filepath", "-argumentlist", "-computername", "-session",
                         "-credential", "-e")
_EXECUTING_WORDS = frozenset({"iex", "iwr", "irm", "invoke-expression", "invoke-webrequest",
                              "invoke-restmethod", "start-process", "saps", "start",
                              "invoke-command", "icm", "invoke-item", "ii"})


def powershell(command: Any, rules: Rules) -> Assessment:
    """Judge a PowerShell command: everyday only if it is provably one plain read-only cmdlet.

    A strict tokenizer, not a pattern search: the command must be ASCII, one line, and made of
    space-separated literal words (letters, digits, ``_ . : \\ /`` and a leading ``-``) whose
    first is a listed read-only cmdlet. Anything PowerShell could evaluate — ``( ) { } $ ; | &
    @ ` ,`` quotes, redirection, wildcards, a newline, ``-EncodedCommand`` — means it runs code.
    """
    if not isinstance(command, str) or not command.strip():
        return Assessment(Effect.RUNS_CODE, "PowerShell with no plain command")
    secret = secret_in([command], rules.lists)
    text = command.strip()
    tokens = text.split(" ")
    plain = (text.isascii() and all(_LITERAL.fullmatch(t) for t in tokens))
    if not plain:
        return Assessment(Effect.RUNS_CODE, "PowerShell that is not one plain command"
                          + (f" (and it names {secret})" if secret else ""))
    folded = [t.casefold() for t in tokens]
    if folded[0] not in rules.read_only_cmdlets:
        return Assessment(Effect.RUNS_CODE, f"PowerShell {tokens[0]} is not a listed read-only "
                          "cmdlet")
    for token in folded[1:]:
        if token in _EXECUTING_WORDS or (token.startswith("-") and any(
                p.startswith(token) for p in _EXECUTING_PARAMETERS if len(token) > 1)):
            return Assessment(Effect.RUNS_CODE, f"PowerShell with {token}")
    if secret:
        return Assessment(Effect.READS_SECRETS, "PowerShell reading a key or credential location")
    return Assessment(Effect.EVERYDAY, f"read-only cmdlet {tokens[0]}")
