"""Search function: ``POST /api/search`` → Tavily, compacted for speech."""

from __future__ import annotations

from voice_agent.api import caller_id, lambda_entry, make_resolver, metrics
from voice_agent.search.models import WebSearchRequest, WebSearchResponse
from voice_agent.search.service import search_web

app = make_resolver()


@app.post("/api/search")
def search(body: WebSearchRequest) -> WebSearchResponse:
    user_id = caller_id(app)  # fail closed if the authorizer's context is missing
    result = search_web(user_id, body)
    metrics.add_metric(name="WebSearches", unit="Count", value=1)
    return result


lambda_handler = lambda_entry(app)
