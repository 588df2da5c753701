"""``GET /api/memory/export``: the caller's memories with metadata, dates and history, by page.

A page holds at most ``limit`` memories and stops early once its JSON passes
`EXPORT_PAGE_BYTES`, so however long the memories and histories are, every answer stays far
below Lambda's 6 MB response limit; ``next_cursor`` continues. Each exported memory goes back
in through ``POST /api/memory`` (`import_request`).
"""

from __future__ import annotations

import json

from voice_agent.errors import Unprocessable
from voice_agent.memory.models import (
    AddMemoryRequest,
    ExportedMemory,
    ExportResponse,
    HistoryEntry,
)
from voice_agent.memory.store import encode_cursor
from voice_agent.memory.upstream import upstream_errors
from voice_agent.memory.wiring import MemoryDeps

__all__ = ["DEFAULT_EXPORT_PAGE", "EXPORT_PAGE_BYTES", "MAX_EXPORT_PAGE", "export_memories",
           "import_request"]

DEFAULT_EXPORT_PAGE = 500
MAX_EXPORT_PAGE = 1000
# A memory is at most ~8 KB of text plus 2 KB of metadata plus its history: a page that stops
# after passing 1 MB stays several megabytes under the 6 MB limit.
EXPORT_PAGE_BYTES = 1_000_000


def export_memories(user_id: str, limit: int, cursor: str | None,
                    deps: MemoryDeps) -> ExportResponse:
    """One page of the user's export, in memory id order.

    Raises:
        Unprocessable: The cursor is not one a previous page handed out.
        ApiError: 503/502 when the store fails.
    """
    with upstream_errors():
        try:
            records, next_cursor = deps.store.list_memories(user_id, limit, cursor)
        except ValueError as error:
            raise Unprocessable("cursor: invalid cursor") from error
        histories = deps.store.histories(user_id, [r.id for r in records])
        total = deps.store.count_memories(user_id)
    memories: list[ExportedMemory] = []
    size = 0
    for record in records:
        memory = ExportedMemory(
            id=record.id, memory=record.text, metadata=record.metadata,
            created_at=record.created_at, updated_at=record.updated_at,
            history=[HistoryEntry(memory=h.memory, event=h.event, at=h.at,
                                  previous_memory=h.previous_memory)
                     for h in histories.get(record.id, [])],
        )
        memories.append(memory)
        # Measured as the resolver sends it: json.dumps escapes non-ASCII (up to 6 bytes a
        # character), so counting characters of model_dump_json would undercount.
        size += len(json.dumps(memory.model_dump(), separators=(",", ":")))
        if size > EXPORT_PAGE_BYTES and len(memories) < len(records):
            next_cursor = encode_cursor(record.id)  # the rest on the next page
            break
    return ExportResponse(total=total, memories=memories, next_cursor=next_cursor)


def import_request(memory: ExportedMemory) -> AddMemoryRequest:
    """The ``POST /api/memory`` body that adds an exported memory back, dated as it was.

    Stored verbatim (``infer=false``) with its metadata exactly as exported; the new memory has
    a new id, ``updated_at`` equal to ``created_at`` and a history starting with one ADD.
    """
    return AddMemoryRequest(messages=memory.memory, metadata=memory.metadata,
                            created_at=memory.created_at, infer=False)
