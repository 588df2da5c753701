"""One change of `MemoryStore.apply` as one ``TransactWriteItems`` call on `store_dynamodb`.

The transaction holds the memory, ``META`` (version, count, log), the text-hash guard, the
history entry and, for worker changes, the ``DONE`` marker, each under a role; the roles whose
conditions failed name what a cancelled transaction means.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from voice_agent.memory.store import (
    JOB_TTL_S,
    AddMemory,
    AlreadyApplied,
    Change,
    DuplicateMemory,
    MemoryLimitReached,
    RemoveMemory,
    StaleMemory,
    StoreUnavailable,
    UpdateMemory,
)
from voice_agent.memory.store_dynamodb_items import (
    from_item,
    hash_guard,
    hash_release,
    history_item,
    item_key,
    memory_item,
    partition,
    to_item,
)
from voice_agent.memory.store_dynamodb_table import UserTable, meta_update

__all__ = ["Attempt", "apply_attempt"]


@dataclass(frozen=True)
class Attempt:
    """One try of `DynamoMemoryStore.apply`: the change and the version it conditions on."""

    user_id: str
    change: Change
    max_memories: int
    idempotency_key: str | None
    expected: int  # the user's version the write expects (it writes the next one)
    number: int  # 0 for the first try

    @property
    def new_hash(self) -> str | None:
        """The text hash the change claims, or None if it claims none (a delete, or an update
        that keeps its text)."""
        change = self.change
        if isinstance(change, AddMemory) or (
                isinstance(change, UpdateMemory) and change.record.hash != change.previous_hash):
            return change.record.hash
        return None


def apply_attempt(table: UserTable, attempt: Attempt) -> bool:
    """One attempt at the version after ``attempt.expected``; False if another write took it.

    Raises:
        AlreadyApplied, StaleMemory, DuplicateMemory, MemoryLimitReached, StoreUnavailable:
            See `MemoryStore.apply`.
    """
    items = _transaction(table.name, attempt)
    reasons = table.transact([item for _, item in items])
    if not reasons:
        return True
    failed = {role for (role, _), code in zip(items, reasons, strict=False)
              if code == "ConditionalCheckFailed"}
    return _cancelled(table, attempt, failed, reasons)


def _transaction(table: str, attempt: Attempt) -> list[tuple[str, dict[str, Any]]]:
    """(role, transaction item) pairs; the role of a failed condition names the exception."""
    user_id, change, expected = attempt.user_id, attempt.change, attempt.expected
    items: list[tuple[str, dict[str, Any]]] = []
    if isinstance(change, AddMemory):
        r = change.record
        items.append(("memory", {"Put": {
            "TableName": table, "Item": memory_item(user_id, r),
            "ConditionExpression": "attribute_not_exists(PK)",
        }}))
        items.append(("limit", meta_update(table, user_id, +1, expected, "ADD", r.id,
                                           attempt.max_memories)))
        items.append(("hash", hash_guard(table, user_id, r.hash, r.id)))
    elif isinstance(change, UpdateMemory):
        r = change.record
        items.append(("memory", {"Put": {
            "TableName": table, "Item": memory_item(user_id, r),
            "ConditionExpression": "rev = :rev",
            "ExpressionAttributeValues": to_item({":rev": change.expected_revision}),
        }}))
        items.append(("meta", meta_update(table, user_id, 0, expected, "UPDATE", r.id)))
        if attempt.new_hash is not None:
            items.append(("hash", hash_guard(table, user_id, r.hash, r.id)))
            items.append(("release", hash_release(table, user_id, change.previous_hash, r.id)))
    elif isinstance(change, RemoveMemory):
        items.append(("memory", {"Delete": {
            "TableName": table, "Key": item_key(user_id, f"MEM#{change.memory_id}"),
            "ConditionExpression": "rev = :rev",
            "ExpressionAttributeValues": to_item({":rev": change.expected_revision}),
        }}))
        items.append(("meta", meta_update(table, user_id, -1, expected, "DELETE",
                                          change.memory_id)))
        items.append(("release", hash_release(table, user_id, change.hash, change.memory_id)))
    items.append(("history", {"Put": {"TableName": table,
                                      "Item": history_item(user_id, change.history)}}))
    if attempt.idempotency_key is not None:
        items.append(("done", {"Put": {
            "TableName": table,
            "Item": to_item({"PK": partition(user_id), "SK": f"DONE#{attempt.idempotency_key}",
                             "expires_at": int(time.time()) + JOB_TTL_S}),
            "ConditionExpression": "attribute_not_exists(PK)",
        }}))
    return items


def _cancelled(table: UserTable, attempt: Attempt, failed: set[str], reasons: list[str]) -> bool:
    """Names a cancelled transaction by the roles whose condition failed; False to retry."""
    change = attempt.change
    if "done" in failed:
        raise AlreadyApplied(attempt.idempotency_key or "")
    if "memory" in failed or "release" in failed:
        if isinstance(change, AddMemory):
            raise AlreadyApplied(change.record.id)
        memory_id = change.memory_id if isinstance(change, RemoveMemory) else change.record.id
        raise StaleMemory(memory_id)
    if "hash" in failed and attempt.new_hash is not None:
        raise DuplicateMemory(_hash_owner(table, attempt.user_id, attempt.new_hash))
    if failed & {"meta", "limit"}:
        if table.lost_version_race(attempt.user_id, attempt.expected, attempt.number):
            return False
        if "limit" in failed:
            raise MemoryLimitReached(f"at most {attempt.max_memories} memories per user")
    raise StoreUnavailable(f"DynamoDB transaction cancelled: {reasons}", retryable=True)


def _hash_owner(table: UserTable, user_id: str, hash_: str) -> str:
    item = table.call("get_item", Key=item_key(user_id, f"HASH#{hash_}"),
                      ConsistentRead=True).get("Item")
    return str(from_item(item)["mem"]) if item else ""
