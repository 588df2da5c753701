"""Which window has the keyboard: read from Windows-MCP's own Snapshot output.

Typing Enter is harmless in a text editor and runs a command in a terminal, so the policy needs
the focused window. Windows-MCP reports it in every Snapshot:

* 0.8.x (``Snapshot``): a ``Focused Window:`` section holding a ``tabulate`` table
  (``Name  Depth  Status  Width  Height  Handle``), and ``Opened Windows:`` in the same format;
* the ``*-Tool`` generations (``State-Tool``): ``Focused App:`` / ``Opened Apps:`` with lines
  ``Name: <title> Depth: … Status: … Size: (w,h)``.

:class:`FocusTracker` keeps the last reading and tells when it is stale: older than the
policy's ``focus_max_age_s`` or older than the last action that could move the focus.
"""

from __future__ import annotations

import re
import time

from bridge.effect_types import Focus

_SECTION = re.compile(r"^\s*(Focused Window|Focused App|Opened Windows|Opened Apps)\s*:\s*$",
                      re.IGNORECASE | re.MULTILINE)
_OLD_ROW = re.compile(r"Name:\s*(.*?)\s+Depth:", re.IGNORECASE)
_NOTHING = re.compile(r"^no (active|opened)? ?(window|app)s? (found|opened)", re.IGNORECASE)

# Steps that only look: they cannot move the keyboard focus.
_LOOKING_TOOLS = frozenset({"Snapshot", "Screenshot", "Wait", "WaitFor", "Scrape",
                            "DisplayInventory", "Notification"})


def _rows(block: str) -> list[str]:
    names: list[str] = []
    for raw in block.splitlines():
        line = raw.strip()
        if not line or set(line) <= {"-", " "} or _NOTHING.match(line):
            continue
        old = _OLD_ROW.search(line)
        if old:
            names.append(old.group(1).strip())
            continue
        cells = re.split(r"\s{2,}", line)
        if cells[:2] == ["Name", "Depth"]:
            continue  # the table's header
        names.append(cells[0])
    return names


def parse_snapshot(text: str) -> Focus | None:
    """The focused and opened windows a Snapshot text reports; None if it has no such section."""
    matches = list(_SECTION.finditer(text))
    if not matches:
        return None
    sections: dict[str, list[str]] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        block = text[match.end():end]
        # A section ends at the first blank line after its content.
        block = re.split(r"\n\s*\n(?=\s*\S)", block.strip("\n"), maxsplit=1)[0]
        # The first section of each kind is the server's; a later one is screen text (a web
        # page can contain the words "Focused Window:").
        title = match.group(1).lower().replace(" ", "_")
        sections.setdefault(title, _rows(block))
    focused_rows = sections.get("focused_window", sections.get("focused_app", []))
    opened = sections.get("opened_windows", sections.get("opened_apps", []))
    focused = focused_rows[0] if focused_rows else None
    return Focus(focused=focused, opened=tuple(opened), known=True)


class FocusTracker:
    """The latest focus reading and whether it can still be trusted."""

    def __init__(self, max_age_s: float = 3.0) -> None:
        self.max_age_s = max_age_s
        self._focus: Focus | None = None
        self._read_at = 0.0

    def observe(self, tool: str, output: str) -> Focus | None:
        """Note a finished step: a Snapshot refreshes the reading, other actions stale it.

        Returns:
            The reading a Snapshot gave (None for other steps, or a Snapshot without one).
        """
        if tool == "Snapshot":
            parsed = parse_snapshot(output)
            if parsed is not None:
                self._focus, self._read_at = parsed, time.monotonic()
                return parsed
        if tool not in _LOOKING_TOOLS:
            self._focus = None
        return None

    def current(self) -> Focus | None:
        """The reading if it is fresh, else None (take a Snapshot)."""
        if self._focus is None or time.monotonic() - self._read_at > self.max_age_s:
            return None
        return self._focus
