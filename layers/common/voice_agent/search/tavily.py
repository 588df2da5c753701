"""Tavily adapter and the speech compaction of its results."""

from __future__ import annotations

import re
from typing import Any, Protocol
from urllib.parse import urlparse

from voice_agent.http import post_json
from voice_agent.search.models import WebSearchRequest, WebSearchResponse, WebSearchResult

SNIPPET_CHARS = 280  # about 15 seconds of speech per source
ANSWER_CHARS = 600


class WebSearch(Protocol):
    def search(self, query: str, max_results: int) -> dict[str, Any]: ...


class TavilyClient:
    """``POST {TAVILY_BASE_URL}/search`` with httpx and a bounded timeout."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        self._url = base_url.rstrip("/") + "/search"
        self._api_key = api_key
        self._timeout_s = timeout_s

    def search(self, query: str, max_results: int) -> dict[str, Any]:
        body = {"query": query, "max_results": max_results, "include_answer": True,
                "search_depth": "basic"}
        return post_json(self._url, body, api_key=self._api_key, timeout_s=self._timeout_s,
                         service="Tavily")


_MARKUP = re.compile(r"[#*_`>|\[\]]+")
_SPACES = re.compile(r"\s+")


def speakable(text: str, limit: int) -> str:
    """Strip markdown-ish noise and cut at a sentence (or word) boundary within ``limit``."""
    text = _SPACES.sub(" ", _MARKUP.sub("", text or "")).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    sentence_end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if sentence_end >= limit // 2:
        return cut[: sentence_end + 1]
    return cut.rsplit(" ", 1)[0] + "…"


def site_name(url: str) -> str:
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.")


def compact_results(request: WebSearchRequest, raw: dict[str, Any]) -> WebSearchResponse:
    """Answer plus a few short snippets with their source names, best first."""
    results = []
    for item in raw.get("results") or []:
        if not isinstance(item, dict) or not item.get("url"):
            continue
        results.append(WebSearchResult(
            title=speakable(str(item.get("title") or ""), 120),
            url=str(item["url"]),
            source=site_name(str(item["url"])),
            content=speakable(str(item.get("content") or ""), SNIPPET_CHARS),
            score=float(item.get("score") or 0.0),
        ))
    results.sort(key=lambda r: r.score, reverse=True)
    answer = raw.get("answer")
    return WebSearchResponse(
        query=request.query,
        answer=speakable(answer, ANSWER_CHARS) if isinstance(answer, str) and answer else None,
        results=results[: request.max_results],
    )
