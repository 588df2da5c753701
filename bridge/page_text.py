"""Compacting a scraped web page for a spoken answer.

Windows-MCP's ``Scrape`` returns the page as markdown. It would ask the client for an MCP
sampling call to clean it up, but the bridge answers no sampling request (it holds no model
key, and the realtime model already reads the result), so it asks for ``use_sampling: false``
and compacts the text itself: images and link targets go, lines made only of links
(navigation, cookie banners, footers) go, repeated lines go, and what is left is cut at a
paragraph or sentence within :data:`PAGE_MAX_CHARS`.
"""

from __future__ import annotations

import re
from typing import Final

PAGE_MAX_CHARS: Final = 4_000  # about 1,000 tokens: a page's gist, not its whole text

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"<?https?://\S+>?")
_BULLET = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+")
_MARKUP = re.compile(r"[*_`|>#]+")
_SEPARATORS = re.compile(r"[\s·•|/,;:–—-]+")
_HEADER = re.compile(r"\A(URL: ?\S*\nContent:\n)")


def _mostly_links(line: str) -> bool:
    """Whether ``line`` is mostly links: navigation, cookie buttons, footers."""
    links = _LINK.findall(line)
    if not links:
        return False
    linked = sum(len(_SEPARATORS.sub("", text)) for text in links)
    rest = len(_SEPARATORS.sub("", _MARKUP.sub("", _BULLET.sub("", _LINK.sub("", line)))))
    # Prose that cites a source keeps its sentence; a short line of buttons does not.
    return rest <= 12 or (rest + linked <= 120 and linked * 5 >= (rest + linked) * 2)


def _clean(line: str) -> str:
    line = _URL.sub("", _LINK.sub(r"\1", _IMAGE.sub("", line)))
    line = _MARKUP.sub("", _BULLET.sub("- ", line))
    return " ".join(line.split())


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = head.rfind("\n")
    if end < limit // 2:
        end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    kept = head[: end + 1].rstrip() if end >= limit // 2 else head.rsplit(" ", 1)[0]
    return f"{kept}\n[… {len(text) - len(kept)} more characters of the page left out]"


def compact_page(text: str, limit: int = PAGE_MAX_CHARS) -> str:
    """``text`` (a Scrape result) without markup noise, cut to about ``limit`` characters.

    The ``URL: …`` / ``Content:`` header of the result is kept as it is.
    """
    header_match = _HEADER.match(text)
    header = header_match.group(1) if header_match else ""
    lines: list[str] = []
    seen: set[str] = set()
    for raw in text[len(header):].splitlines():
        if _mostly_links(_IMAGE.sub("", raw)):
            continue
        line = _clean(raw)
        if not line:
            if lines and lines[-1]:
                lines.append("")
            continue
        if line.casefold() in seen:
            continue
        seen.add(line.casefold())
        lines.append(line)
    return header + _cut("\n".join(lines).strip(), limit)
