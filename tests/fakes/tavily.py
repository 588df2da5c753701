"""Loopback fake of Tavily's ``POST /search``."""

from __future__ import annotations

from tests.fakes.http_server import LoopbackHttpServer, RecordedRequest, ScriptedResponse

SAMPLE_ANSWER = "It is **sunny** in Lisbon today, around 24 degrees."


class FakeTavily(LoopbackHttpServer):
    def default_response(self, request: RecordedRequest) -> ScriptedResponse:
        if request.method != "POST" or request.path != "/search":
            return super().default_response(request)
        query = request.json().get("query", "")
        results = [
            {"title": f"Result {i} for {query}", "url": f"https://www.site{i}.example/page",
             "content": ("Lisbon weather. " * 40).strip(), "score": 0.9 - i * 0.1}
            for i in range(int(request.json().get("max_results", 5)))
        ]
        return ScriptedResponse(200, {"query": query, "answer": SAMPLE_ANSWER,
                                      "results": results, "response_time": 0.1})
