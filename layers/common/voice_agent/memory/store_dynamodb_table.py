"""The memory table on the low-level DynamoDB client, and each user's ``META`` item.

Calls answer `StoreUnavailable` on failure; queries follow pagination; transactions retry
conflicts between concurrent writers of one user with jittered backoff.

``META`` holds the user's version (+1 on every write), memory count and change log. The log
lives in ``META`` itself: the write that takes the version to ``v`` conditions on the version
being ``v - 1`` and stores ``"<v>:<A|U|D>:<memory id>"`` in slot ``L<v mod 16>``. So a warm cache
at version ``v`` reads one item (``META``, under 1 KB) to learn which memories changed since, as
long as fewer than 16 writes happened; a writer that lost the version race re-reads ``META``
and tries again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from typing import Any

from voice_agent.memory.store import LoggedChange, StoreUnavailable
from voice_agent.memory.store_dynamodb_items import (
    from_item,
    item_key,
    partition,
    to_item,
    unavailable,
)

__all__ = ["LOG_SLOTS", "VERSION_ATTEMPTS", "UserTable", "meta_update"]

CONFLICT_ATTEMPTS = 8  # concurrent adds of one user conflict on META; 8 tries ≈ 2 s worst case
LOG_SLOTS = 16  # change-log entries kept in META (≈ 50 bytes each: META stays under 1 KB)
VERSION_ATTEMPTS = 40  # writers of one user racing for the next version; jittered backoff
KNOWN_VERSIONS = 4096  # users whose last seen version is remembered (saves a read per write)
_OPS = {"ADD": "A", "UPDATE": "U", "DELETE": "D"}
_EVENTS: dict[str, Any] = {op: event for event, op in _OPS.items()}


def meta_update(table_name: str, user_id: str, count_delta: int, expected_version: int,
                event: str, memory_id: str, max_memories: int | None = None) -> dict[str, Any]:
    """The transaction item taking META from ``expected_version`` to the next version and
    logging the write (conditional on the count staying under ``max_memories`` if given)."""
    version = expected_version + 1
    values: dict[str, Any] = {
        ":zero": 0, ":delta": count_delta, ":version": version,
        ":entry": f"{version}:{_OPS[event]}:{memory_id}",
    }
    if expected_version:
        condition = "version = :expected"
        values[":expected"] = expected_version
    else:
        condition = "attribute_not_exists(version)"
    if max_memories is not None:
        condition = f"({condition}) AND (attribute_not_exists(#count) OR #count < :max)"
        values[":max"] = max_memories
    return {"Update": {
        "TableName": table_name,
        "Key": item_key(user_id, "META"),
        "UpdateExpression": "SET version = :version, "
                            "#count = if_not_exists(#count, :zero) + :delta, #slot = :entry",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#count": "count", "#slot": f"L{version % LOG_SLOTS}"},
        "ExpressionAttributeValues": to_item(values),
    }}


def meta_version(item: Mapping[str, Any]) -> int:
    """The version of a (wire-form) META item; 0 for a user who never wrote."""
    return int(from_item(item).get("version", 0))


class UserTable:
    """The memory table, one partition per user, and the last version seen of each user."""

    def __init__(self, name: str, client: Any) -> None:
        """Wraps ``client`` (a boto3 ``dynamodb`` client) for the table ``name``."""
        self.name = name
        self.client = client
        # Last version seen per user: the expected version of the next write. A wrong guess
        # only costs a failed condition and one META read.
        self.versions: dict[str, int] = {}

    def call(self, operation: str, **kwargs: Any) -> Any:
        """One client call on the table (``TableName`` added)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(TableName=self.name, **kwargs)
        except (ClientError, BotoCoreError) as error:
            raise unavailable(error) from error

    def update_if(self, **kwargs: Any) -> bool:
        """A conditional ``UpdateItem``; False if its condition failed."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.update_item(TableName=self.name, **kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise unavailable(error) from error
        except BotoCoreError as error:
            raise unavailable(error) from error
        return True

    def query(self, user_id: str, condition: str, values: Mapping[str, Any],
              **kwargs: Any) -> Iterator[dict[str, Any]]:
        """The user's items matching the key ``condition`` (on ``:pk`` and ``values``),
        following pagination."""
        start: dict[str, Any] | None = None
        wire = to_item({":pk": partition(user_id), **values})
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = self.call("query", KeyConditionExpression=condition,
                             ExpressionAttributeValues=wire, **kwargs, **extra)
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def query_prefix(self, user_id: str, prefix: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """The user's items whose SK starts with ``prefix`` ("": every item)."""
        if not prefix:
            return self.query(user_id, "PK = :pk", {}, **kwargs)
        return self.query(user_id, "PK = :pk AND begins_with(SK, :prefix)",
                          {":prefix": prefix}, **kwargs)

    def transact(self, items: list[dict[str, Any]]) -> list[str]:
        """Runs a transaction; returns the cancellation codes ([] on success)."""
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return []
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise unavailable(error) from error
                reasons = [r.get("Code", "None") for r in
                           error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons or not reasons:
                    return reasons or ["Unknown"]
                if attempt + 1 == CONFLICT_ATTEMPTS:
                    raise StoreUnavailable("DynamoDB transaction kept conflicting") from error
                # TransactionConflict / throttling: another write of this user is in flight.
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
            except BotoCoreError as error:
                raise unavailable(error) from error
        raise AssertionError("unreachable")

    # --- META ----------------------------------------------------------------------------

    def version(self, user_id: str) -> int:
        """The user's version (a strongly consistent read of ``META``)."""
        item = self.call("get_item", Key=item_key(user_id, "META"),
                         ProjectionExpression="version", ConsistentRead=True).get("Item") or {}
        version = meta_version(item)
        self.remember_version(user_id, version)
        return version

    def expected_version(self, user_id: str) -> int:
        """The version the user's next write expects: the last seen, else read."""
        known = self.versions.get(user_id)
        return self.version(user_id) if known is None else known

    def remember_version(self, user_id: str, version: int) -> None:
        """Notes the user's version, forgetting every user's once too many are known."""
        if len(self.versions) >= KNOWN_VERSIONS:
            self.versions.clear()
        self.versions[user_id] = version

    def meta(self, user_id: str) -> dict[str, Any]:
        """The user's whole META item (wire form; {} if none), read strongly consistent."""
        item: dict[str, Any] = self.call(
            "get_item", Key=item_key(user_id, "META"), ConsistentRead=True,
        ).get("Item") or {}
        self.remember_version(user_id, meta_version(item))
        return item

    def lost_version_race(self, user_id: str, expected: int, attempt: int) -> bool:
        """After META's condition failed: True (and a pause) if another write moved the version.

        False means the version is still ``expected``, so the count limit failed.
        """
        if meta_version(self.meta(user_id)) == expected:
            return False
        if attempt + 1 == VERSION_ATTEMPTS:
            raise StoreUnavailable("concurrent writes of this user kept winning, try again")
        time.sleep(random.uniform(0, min(0.1, 0.005 * 2**attempt)))
        return True

    def changes_since(self, user_id: str, version: int) -> list[LoggedChange] | None:
        """See `MemoryStore.changes_since`: one strongly consistent read of ``META``."""
        values = from_item(self.meta(user_id))
        current = int(values.get("version", 0))
        if current == version:
            return []
        if current < version or current - version > LOG_SLOTS:
            return None
        changes = []
        for number in range(version + 1, current + 1):
            entry = str(values.get(f"L{number % LOG_SLOTS}", ""))
            logged, _, rest = entry.partition(":")
            op, _, memory_id = rest.partition(":")
            if logged != str(number) or op not in _EVENTS or not memory_id:
                return None  # overwritten by a later write, or a write without a log entry
            changes.append(LoggedChange(number, _EVENTS[op], memory_id))
        return changes
