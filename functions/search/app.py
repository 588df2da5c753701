"""Search function: ``POST /api/search`` → Tavily, compacted for speech."""

from __future__ import annotations

from voice_agent.api import CallerId, lambda_entry, make_resolver
from voice_agent.observability import metrics
from voice_agent.search.models import WebSearchRequest, WebSearchResponse
from voice_agent.search.service import search_web

app = make_resolver()


@app.post("/api/search")
def search(body: WebSearchRequest, user_id: CallerId) -> WebSearchResponse:
    result = search_web(user_id, body)
    metrics.add_metric(name="WebSearches", unit="Count", value=1)
    return result


lambda_handler = lambda_entry(app)
