"""DynamoDB item shapes of the memory store (`store_dynamodb`) and its error mapping."""

from __future__ import annotations

import json
import secrets
from typing import Any

from voice_agent.aws import error_code, is_throttling_code
from voice_agent.memory.store import HistoryRecord, MemoryRecord, StoreUnavailable

# Besides throttling (voice_agent.aws.THROTTLING_ERROR_CODES), errors worth trying again.
_RETRYABLE_CODES = {"InternalServerError", "ServiceUnavailable", "TransactionInProgressException"}


def _pk(user_id: str) -> dict[str, str]:
    return {"S": f"USER#{user_id}"}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _unavailable(error: Exception) -> StoreUnavailable:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        code = error_code(error)
        if is_throttling_code(code):
            return StoreUnavailable("DynamoDB throttled the request", retryable=True)
        return StoreUnavailable(f"DynamoDB error: {code or 'unknown'}",
                                retryable=code in _RETRYABLE_CODES)
    return StoreUnavailable(f"DynamoDB unreachable: {type(error).__name__}", retryable=True)


def _memory_item(user_id: str, r: MemoryRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": _pk(user_id), "SK": _s(f"MEM#{r.id}"), "text": _s(r.text),
        "created": _s(r.created_at), "updated": _s(r.updated_at), "vec": {"B": r.vector},
        "emb": _s(r.embedder_id), "dims": _n(r.dims), "hash": _s(r.hash), "rev": _n(r.revision),
    }
    if r.metadata is not None:
        # JSON text keeps metadata exactly as given (DynamoDB numbers would become Decimals).
        item["meta"] = _s(json.dumps(r.metadata, ensure_ascii=False, separators=(",", ":")))
    return item


def _memory_record(item: dict[str, Any]) -> MemoryRecord:
    meta = item.get("meta")
    vector = item["vec"]["B"]
    return MemoryRecord(
        id=item["SK"]["S"][len("MEM#"):], text=item["text"]["S"],
        metadata=json.loads(meta["S"]) if meta else None,
        created_at=item["created"]["S"], updated_at=item["updated"]["S"],
        vector=bytes(vector.value if hasattr(vector, "value") else vector),
        embedder_id=item["emb"]["S"], dims=int(item["dims"]["N"]), hash=item["hash"]["S"],
        revision=int(item["rev"]["N"]),
    )


def _history_item(user_id: str, entry: HistoryRecord) -> dict[str, Any]:
    # The random suffix keeps two changes of one memory in the same microsecond apart.
    sk = f"HIST#{entry.memory_id}#{entry.at}#{secrets.token_hex(3)}"
    item: dict[str, Any] = {
        "PK": _pk(user_id), "SK": _s(sk), "memory": _s(entry.memory),
        "event": _s(entry.event), "at": _s(entry.at),
    }
    if entry.previous_memory is not None:
        item["prev"] = _s(entry.previous_memory)
    return item
