"""Search function: ``POST /api/search`` → Tavily, compacted for speech."""

from __future__ import annotations

from voice_agent.api import caller_id, lambda_entry, make_resolver, metrics
from voice_agent.search.models import WebSearchRequest, WebSearchResponse
from voice_agent.search.service import search_web

app = make_resolver()


@app.post("/api/search")
def search(body: WebSearchRequest) -> WebSearchResponse:
    caller_id(app)  # only signed-in callers reach here; fail closed if the context is missing
    metrics.add_metric(name="WebSearches", unit="Count", value=1)
    return search_web(body)


lambda_handler = lambda_entry(app)
