"""DynamoDB item shapes of the memory store (`store_dynamodb`) and its error mapping.

Attribute values are marshalled by boto3's `TypeSerializer` / `TypeDeserializer` (the store
talks to the low-level client). The stored shapes are fixed: strings ``S``, integers ``N``,
the vector ``B``, metadata as JSON text; attributes without a value are left out, never stored
as ``NULL``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from voice_agent.aws import error_code, is_throttling_code
from voice_agent.memory.store import HistoryRecord, MemoryRecord, StoreUnavailable
from voice_agent.memory.store_values import metadata_json

__all__ = [
    "RETRYABLE_CODES",
    "from_item",
    "hash_guard",
    "hash_release",
    "history_item",
    "history_record",
    "item_key",
    "memory_item",
    "memory_record",
    "partition",
    "pk",
    "to_attribute",
    "to_item",
    "unavailable",
]

# Besides throttling (voice_agent.aws.THROTTLING_ERROR_CODES), errors worth trying again.
RETRYABLE_CODES = {"InternalServerError", "ServiceUnavailable", "TransactionInProgressException"}

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    """One attribute value in DynamoDB's wire form (``"x"`` → ``{"S": "x"}``)."""
    wire: dict[str, Any] = _SERIALIZER.serialize(value)
    return wire


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """An item (or expression values) in wire form; ``None`` values are left out."""
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()
            if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A wire-form item as Python values (numbers as `Decimal`, binaries as `Binary`)."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def partition(user_id: str) -> str:
    """The partition key of everything of a user, ``USER#<sub>``."""
    return f"USER#{user_id}"


def pk(user_id: str) -> dict[str, Any]:
    """`partition` in wire form."""
    return to_attribute(partition(user_id))


def item_key(user_id: str, sort_key: str) -> dict[str, Any]:
    """The primary key of one item of the user."""
    return {"PK": pk(user_id), "SK": to_attribute(sort_key)}


def unavailable(error: Exception) -> StoreUnavailable:
    """Maps a botocore error to `StoreUnavailable` (retryable when trying again may work)."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        code = error_code(error)
        if is_throttling_code(code):
            return StoreUnavailable("DynamoDB throttled the request", retryable=True)
        return StoreUnavailable(f"DynamoDB error: {code or 'unknown'}",
                                retryable=code in RETRYABLE_CODES)
    return StoreUnavailable(f"DynamoDB unreachable: {type(error).__name__}", retryable=True)


def memory_item(user_id: str, r: MemoryRecord) -> dict[str, Any]:
    """The ``MEM#<id>`` item of a memory."""
    return to_item({
        "PK": partition(user_id), "SK": f"MEM#{r.id}", "text": r.text,
        "created": r.created_at, "updated": r.updated_at, "vec": r.vector,
        "emb": r.embedder_id, "dims": r.dims, "hash": r.hash, "rev": r.revision,
        "meta": metadata_json(r.metadata),
    })


def memory_record(item: Mapping[str, Any]) -> MemoryRecord:
    """The memory of a ``MEM#<id>`` item."""
    values = from_item(item)
    meta = values.get("meta")
    return MemoryRecord(
        id=values["SK"][len("MEM#"):], text=values["text"],
        metadata=json.loads(meta) if meta else None,
        created_at=values["created"], updated_at=values["updated"],
        vector=bytes(values["vec"].value), embedder_id=values["emb"],
        dims=int(values["dims"]), hash=values["hash"], revision=int(values["rev"]),
    )


def history_item(user_id: str, entry: HistoryRecord) -> dict[str, Any]:
    """A ``HIST#<memory id>#<time>#<n>`` item."""
    # The random suffix keeps two changes of one memory in the same microsecond apart.
    sk = f"HIST#{entry.memory_id}#{entry.at}#{secrets.token_hex(3)}"
    return to_item({"PK": partition(user_id), "SK": sk, "memory": entry.memory,
                    "event": entry.event, "at": entry.at, "prev": entry.previous_memory})


def history_record(item: Mapping[str, Any], memory_id: str) -> HistoryRecord:
    """The history entry of a ``HIST#`` item of the memory ``memory_id``."""
    values = from_item(item)
    return HistoryRecord(memory_id=memory_id, memory=values["memory"], event=values["event"],
                         at=values["at"], previous_memory=values.get("prev"))


def hash_guard(table_name: str, user_id: str, hash_: str, memory_id: str) -> dict[str, Any]:
    """Claims a text hash for a memory: fails if another memory of the user holds it."""
    return {"Put": {
        "TableName": table_name,
        "Item": to_item({"PK": partition(user_id), "SK": f"HASH#{hash_}", "mem": memory_id}),
        "ConditionExpression": "attribute_not_exists(PK) OR mem = :self",
        "ExpressionAttributeValues": to_item({":self": memory_id}),
    }}


def hash_release(table_name: str, user_id: str, hash_: str, memory_id: str) -> dict[str, Any]:
    """Frees a text hash, but only if it is (still) this memory's."""
    return {"Delete": {
        "TableName": table_name, "Key": item_key(user_id, f"HASH#{hash_}"),
        "ConditionExpression": "attribute_not_exists(PK) OR mem = :self",
        "ExpressionAttributeValues": to_item({":self": memory_id}),
    }}
