"""Memory API: search, add, list, export, forget, delete, history and job status."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from voice_agent.api import CallerId, lambda_entry, make_resolver
from voice_agent.memory import export, forget, use_cases, wiring
from voice_agent.memory.filters import MAX_FILTERS_PARAM_CHARS, parse_filters_param
from voice_agent.memory.index_cache import INDEX_MODULES
from voice_agent.memory.models import (
    AddMemoryRequest,
    AddMemoryResponse,
    ExportResponse,
    HistoryResponse,
    JobResponse,
    ListMemoriesResponse,
    QueuedResponse,
    SearchMemoriesRequest,
    SearchMemoriesResponse,
)
from voice_agent.snapstart import prime_before_snapshot

# Search and add load the index and numpy on first use, so the routes that read no index
# start without them; a SnapStart snapshot holds them already.
prime_before_snapshot(*INDEX_MODULES)

app = make_resolver()
_ADD_RESPONSES: dict[int, OpenAPIResponse] = {
    201: {"description": "Stored verbatim (infer=false)",
          "content": {"application/json": {"model": AddMemoryResponse}}},
    202: {"description": "Extraction job queued (infer=true)",
          "content": {"application/json": {"model": QueuedResponse}}},
}
_FILTERS_HELP = ('JSON object {metadata key: value}; only memories matching every pair, '
                 'e.g. {"source":"user"}')


@app.post("/api/memory/search", summary="Search the caller's memories", tags=["memory"])
def search(body: SearchMemoriesRequest, user_id: CallerId) -> SearchMemoriesResponse:
    return use_cases.search_memories(user_id, body, wiring.memory_deps())


@app.post("/api/memory", summary="Add memories", tags=["memory"], responses=_ADD_RESPONSES)
def add(body: AddMemoryRequest, user_id: CallerId) -> Response[AddMemoryResponse | QueuedResponse]:
    result = use_cases.add_memories(user_id, body, wiring.memory_deps())
    status = 202 if isinstance(result, QueuedResponse) else 201
    return Response(status, "application/json", result)


@app.get("/api/memory", summary="List the caller's memories", tags=["memory"])
def list_all(user_id: CallerId,
             limit: Annotated[int, Query(ge=1, le=100)] = 20,
             cursor: Annotated[str | None, Query(max_length=512)] = None,
             filters: Annotated[str | None, Query(max_length=MAX_FILTERS_PARAM_CHARS,
                                                  description=_FILTERS_HELP)] = None,
             ) -> ListMemoriesResponse:
    return use_cases.list_memories(user_id, limit, cursor, wiring.memory_deps(),
                                 parse_filters_param(filters))


@app.delete("/api/memory", summary="Forget everything: delete all of the caller's memories",
            tags=["memory"], responses={204: {"description": "Everything is gone"},
                                        503: {"description": "Not finished: retry to finish"}})
def forget_all(user_id: CallerId) -> Response[None]:
    forget.forget_memories(user_id, wiring.memory_deps())
    return Response(204)


@app.get("/api/memory/export", summary="Export the caller's memories, page by page",
         tags=["memory"])
def export_all(user_id: CallerId,
               limit: Annotated[int, Query(ge=1, le=export.MAX_EXPORT_PAGE)] =
               export.DEFAULT_EXPORT_PAGE,
               cursor: Annotated[str | None, Query(max_length=512)] = None) -> ExportResponse:
    return export.export_memories(user_id, limit, cursor, wiring.memory_deps())


@app.get("/api/memory/jobs/<job_id>", summary="Status of an add job", tags=["memory"])
def job(job_id: str, user_id: CallerId) -> JobResponse:
    return use_cases.job_status(user_id, job_id, wiring.memory_deps())


@app.get("/api/memory/<memory_id>/history", summary="Changes of a memory", tags=["memory"])
def history(memory_id: str, user_id: CallerId) -> HistoryResponse:
    return use_cases.memory_history(user_id, memory_id, wiring.memory_deps())


@app.delete("/api/memory/<memory_id>", summary="Delete a memory and its history",
            tags=["memory"], responses={204: {"description": "Deleted"}})
def delete(memory_id: str, user_id: CallerId) -> Response[None]:
    use_cases.delete_memory(user_id, memory_id, wiring.memory_deps())
    return Response(204)


lambda_handler = lambda_entry(app)
