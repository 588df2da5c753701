"""The web-search use case."""

from __future__ import annotations

from voice_agent.search.models import WebSearchRequest, WebSearchResponse
from voice_agent.search.tavily import TavilyClient, WebSearch, compact_results
from voice_agent.secrets import get_api_key
from voice_agent.settings import get_settings


def search_web(request: WebSearchRequest, client: WebSearch | None = None) -> WebSearchResponse:
    """Search the web and return results compacted for speech."""
    if client is None:
        settings = get_settings()
        client = TavilyClient(settings.tavily_base_url, get_api_key("TAVILY_API_KEY"),
                              settings.tavily_timeout_s)
    return compact_results(request, client.search(request.query, request.max_results))
