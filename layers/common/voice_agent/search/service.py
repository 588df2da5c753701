"""The web-search use case."""

from __future__ import annotations

from voice_agent.ratelimit import get_rate_limiter
from voice_agent.search.models import WebSearchRequest, WebSearchResponse
from voice_agent.search.tavily import TavilyClient, WebSearch, compact_results
from voice_agent.secrets import get_api_key
from voice_agent.settings import get_settings


def search_web(user_id: str, request: WebSearchRequest,
               client: WebSearch | None = None) -> WebSearchResponse:
    """Search the web for ``user_id`` (verified by the authorizer), compacted for speech.

    Each search spends the operator's Tavily credits, so it is rate-limited per user like
    minting (``SEARCH_RATE_LIMIT`` per ``SEARCH_RATE_WINDOW_SECONDS``; 429 + Retry-After).
    """
    settings = get_settings()
    if client is None:
        # The key first, so a misconfigured deployment answers its 500 at once.
        client = TavilyClient(settings.tavily_base_url, get_api_key("TAVILY_API_KEY"),
                              settings.tavily_timeout_s)
    if settings.search_rate_limit > 0:
        get_rate_limiter(settings.memory_table).hit(
            user_id, "search", settings.search_rate_limit, settings.search_rate_window_s)
    return compact_results(request, client.search(request.query, request.max_results))
