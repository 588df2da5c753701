"""DynamoDB adapter of `MemoryStore`: one table, one partition per user.

Item layout (``PK`` = ``USER#<sub>`` for everything of a user)::

    SK = MEM#<id>                          text, meta (JSON), created, updated, vec (B, int8),
                                           emb, dims, hash, rev
    SK = HIST#<memory id>#<iso time>#<n>   memory, event, at, prev
    SK = JOB#<job id>                      body (JSON), expires_at (TTL, 7 days)
    SK = META                              version (+1 on every write), count (memories),
                                           L0 … L15: change log ring, "<version>:<op>:<id>"
    SK = HASH#<text hash>                  mem: the memory holding that normalised text
    SK = DONE#<idempotency key>            expires_at (TTL, 7 days): a worker change applied

Each change is one ``TransactWriteItems`` call (memory + history + META, and the ``DONE``
marker for worker changes), so nothing is ever half-written, the per-user count limit is exact
(a condition on ``META.count``), a text is stored once per user (a condition on its ``HASH#``
item) and concurrent writers are serialised by DynamoDB itself.
Transaction conflicts between concurrent writers of one user are retried with jittered backoff.

The change log lives in the ``META`` item itself: the write that takes the version to ``v``
conditions on the version being ``v - 1`` and stores ``"<v>:<A|U|D>:<memory id>"`` in slot
``L<v mod 16>``. So a warm cache at version ``v`` reads one item (``META``, under 1 KB) to learn
which memories changed since, as long as fewer than 16 writes happened; a writer that lost the
version race re-reads ``META`` and tries again.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from voice_agent.aws import REQUEST_CALL, aws_client
from voice_agent.memory.store import (
    JOB_TTL_S,
    AddMemory,
    AlreadyApplied,
    Change,
    DuplicateMemory,
    HistoryRecord,
    JobRecord,
    LoggedChange,
    MemoryLimitReached,
    MemoryRecord,
    RemoveMemory,
    StaleMemory,
    StoreUnavailable,
    UpdateMemory,
    VectorUpdate,
    decode_cursor,
    encode_cursor,
)
from voice_agent.memory.store_dynamodb_items import (
    from_item,
    hash_guard,
    hash_release,
    history_item,
    history_record,
    item_key,
    memory_item,
    memory_record,
    pk,
    to_attribute,
    to_item,
    unavailable,
)

__all__ = [
    "DynamoMemoryStore",
    "make_dynamodb_client",
]

_CONFLICT_ATTEMPTS = 8  # concurrent adds of one user conflict on META; 8 tries ≈ 2 s worst case
LOG_SLOTS = 16  # change-log entries kept in META (≈ 50 bytes each: META stays under 1 KB)
_VERSION_ATTEMPTS = 40  # writers of one user racing for the next version; jittered backoff
_KNOWN_VERSIONS = 4096  # users whose last seen version is remembered (saves a read per write)
_OPS = {"ADD": "A", "UPDATE": "U", "DELETE": "D"}
_EVENTS: dict[str, Any] = {op: event for event, op in _OPS.items()}
_MEMORY_PROJECTION = "SK, #text, meta, created, updated, vec, emb, dims, #hash, rev"
_MEMORY_NAMES = {"#text": "text", "#hash": "hash"}
# What "forget me" deletes: everything of the user but META (its version counter moves on) and
# the RATE# counters (abuse limits, no personal content: forgetting must not reset them).
_FORGOTTEN_PREFIXES = ("MEM#", "HIST#", "JOB#", "HASH#", "DONE#")
_BATCH_ITEMS = 25  # BatchWriteItem's maximum
_BATCH_ATTEMPTS = 6  # tries of one batch's unprocessed items, with backoff (≈ 1.6 s in all)
_FORGET_THREADS = 8  # batches in flight: 30k items (a 10k-memory user) in a few seconds
_FORGET_ROUNDS = 3  # writes landing during a forget make another round


def make_dynamodb_client(region: str | None = None) -> Any:
    """A ``dynamodb`` client with bounded timeouts, so every request answers within 15 s.

    The endpoint honours ``AWS_ENDPOINT_URL_DYNAMODB`` (boto3 reads it natively).
    """
    # Worst case of one call ≈ 2 × (1 + 3) s + backoff; failures such as refused connections,
    # 5xx and throttling answer at once, so a request stays well inside the API's 15 s.
    return aws_client("dynamodb", REQUEST_CALL, region=region, max_pool_connections=32)


@dataclass(frozen=True)
class _Attempt:
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


class DynamoMemoryStore:
    """`MemoryStore` on the DynamoDB table named by ``MEMORY_TABLE``."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        """Creates the adapter.

        Args:
            table_name: The table (key attributes ``PK``/``SK`` strings, TTL ``expires_at``).
            client: A boto3 ``dynamodb`` client; defaults to `make_dynamodb_client`.
        """
        self.table_name = table_name
        self._client = client or make_dynamodb_client()
        # Last version seen per user: the expected version of the next write. A wrong guess
        # only costs a failed condition and one META read.
        self._versions: dict[str, int] = {}

    # --- low level -----------------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, operation)(TableName=self.table_name, **kwargs)
        except (ClientError, BotoCoreError) as error:
            raise unavailable(error) from error

    def _query(self, user_id: str, prefix: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """All items of the user whose SK starts with ``prefix`` ("": every item), following
        pagination."""
        start: dict[str, Any] | None = None
        condition = "PK = :pk AND begins_with(SK, :prefix)" if prefix else "PK = :pk"
        values = to_item({":pk": f"USER#{user_id}", ":prefix": prefix or None})
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = self._call(
                "query", KeyConditionExpression=condition, ExpressionAttributeValues=values,
                **kwargs, **extra,
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def _transact(self, items: list[dict[str, Any]]) -> list[str]:
        """Runs a transaction; returns the cancellation codes ([] on success)."""
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=items)
                return []
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise unavailable(error) from error
                reasons = [r.get("Code", "None") for r in
                           error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons or not reasons:
                    return reasons or ["Unknown"]
                if attempt + 1 == _CONFLICT_ATTEMPTS:
                    raise StoreUnavailable("DynamoDB transaction kept conflicting") from error
                # TransactionConflict / throttling: another write of this user is in flight.
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
            except BotoCoreError as error:
                raise unavailable(error) from error
        raise AssertionError("unreachable")

    def _meta_update(self, user_id: str, count_delta: int, expected_version: int,
                     event: str, memory_id: str,
                     max_memories: int | None = None) -> dict[str, Any]:
        """Takes META from ``expected_version`` to the next version and logs the write."""
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
            "TableName": self.table_name,
            "Key": item_key(user_id, "META"),
            "UpdateExpression": "SET version = :version, "
                                "#count = if_not_exists(#count, :zero) + :delta, #slot = :entry",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#count": "count",
                                         "#slot": f"L{version % LOG_SLOTS}"},
            "ExpressionAttributeValues": to_item(values),
        }}

    def _expected_version(self, user_id: str) -> int:
        known = self._versions.get(user_id)
        return self.version(user_id) if known is None else known

    def _remember_version(self, user_id: str, version: int) -> None:
        if len(self._versions) >= _KNOWN_VERSIONS:
            self._versions.clear()
        self._versions[user_id] = version

    def _meta(self, user_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self._call(
            "get_item", Key=item_key(user_id, "META"), ConsistentRead=True,
        ).get("Item") or {}
        self._remember_version(user_id, self._meta_version(item))
        return item

    def _lost_version_race(self, user_id: str, expected: int, attempt: int) -> bool:
        """After META's condition failed: True (and a pause) if another write moved the version.

        False means the version is still ``expected``, so the count limit failed.
        """
        if self._meta_version(self._meta(user_id)) == expected:
            return False
        if attempt + 1 == _VERSION_ATTEMPTS:
            raise StoreUnavailable("concurrent writes of this user kept winning, try again")
        time.sleep(random.uniform(0, min(0.1, 0.005 * 2**attempt)))
        return True

    @staticmethod
    def _meta_version(item: dict[str, Any]) -> int:
        return int(from_item(item).get("version", 0))

    # --- reads ---------------------------------------------------------------------------

    def version(self, user_id: str) -> int:
        """See `MemoryStore.version` (a strongly consistent read of ``META``)."""
        item = self._call(
            "get_item", Key=item_key(user_id, "META"),
            ProjectionExpression="version", ConsistentRead=True,
        ).get("Item") or {}
        version = self._meta_version(item)
        self._remember_version(user_id, version)
        return version

    def changes_since(self, user_id: str, version: int) -> list[LoggedChange] | None:
        """See `MemoryStore.changes_since`: one strongly consistent read of ``META``."""
        item = self._meta(user_id)
        current = self._meta_version(item)
        if current == version:
            return []
        if current < version or current - version > LOG_SLOTS:
            return None
        values = from_item(item)
        changes = []
        for number in range(version + 1, current + 1):
            entry = str(values.get(f"L{number % LOG_SLOTS}", ""))
            logged, _, rest = entry.partition(":")
            op, _, memory_id = rest.partition(":")
            if logged != str(number) or op not in _EVENTS or not memory_id:
                return None  # overwritten by a later write, or a write without a log entry
            changes.append(LoggedChange(number, _EVENTS[op], memory_id))
        return changes

    def load_memories(self, user_id: str) -> list[MemoryRecord]:
        """See `MemoryStore.load_memories`: one paginated Query of the user's partition."""
        items = self._query(
            user_id, "MEM#", ProjectionExpression=_MEMORY_PROJECTION,
            ExpressionAttributeNames=_MEMORY_NAMES, ConsistentRead=True,
        )
        return [memory_record(item) for item in items]

    def get_memory(self, user_id: str, memory_id: str) -> MemoryRecord | None:
        """See `MemoryStore.get_memory`."""
        item = self._call(
            "get_item", Key=item_key(user_id, f"MEM#{memory_id}"),
            ProjectionExpression=_MEMORY_PROJECTION, ExpressionAttributeNames=_MEMORY_NAMES,
            ConsistentRead=True,
        ).get("Item")
        return memory_record(item) if item else None

    def list_memories(
        self, user_id: str, limit: int, cursor: str | None
    ) -> tuple[list[MemoryRecord], str | None]:
        """See `MemoryStore.list_memories`."""
        extra: dict[str, Any] = {}
        if cursor:
            after = decode_cursor(cursor)
            # The cursor only names a memory id; the partition is always the caller's.
            extra["ExclusiveStartKey"] = item_key(user_id, f"MEM#{after}")
        records: list[MemoryRecord] = []
        # One more than asked tells whether a next page exists without an empty last page.
        for item in self._query(user_id, "MEM#", ProjectionExpression=_MEMORY_PROJECTION,
                                ExpressionAttributeNames=_MEMORY_NAMES, Limit=limit + 1,
                                **extra):
            records.append(memory_record(item))
            if len(records) > limit:
                break
        next_cursor = encode_cursor(records[limit - 1].id) if len(records) > limit else None
        return records[:limit], next_cursor

    def count_memories(self, user_id: str) -> int:
        """See `MemoryStore.count_memories` (kept in ``META.count``)."""
        item = self._call(
            "get_item", Key=item_key(user_id, "META"),
            ProjectionExpression="#count", ExpressionAttributeNames={"#count": "count"},
            ConsistentRead=True,
        ).get("Item") or {}
        return int(from_item(item).get("count", 0))

    def history(self, user_id: str, memory_id: str) -> list[HistoryRecord]:
        """See `MemoryStore.history` (SK order is time order)."""
        items = self._query(user_id, f"HIST#{memory_id}#", ConsistentRead=True)
        return [history_record(item, memory_id) for item in items]

    def histories(self, user_id: str,
                  memory_ids: Sequence[str]) -> dict[str, list[HistoryRecord]]:
        """See `MemoryStore.histories`: one Query over the SK range of the ids given.

        History keys sort by memory id, then time, so the range from the smallest id to the
        largest holds them all (and histories of other ids in between, which are skipped).
        """
        wanted = set(memory_ids)
        if not wanted:
            return {}
        low, high = min(wanted), max(wanted)
        found: dict[str, list[HistoryRecord]] = {}
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = self._call(
                "query",
                # "$" sorts right after "#": the upper bound closes every key of the last id.
                KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
                ExpressionAttributeValues=to_item({":pk": f"USER#{user_id}",
                                                   ":low": f"HIST#{low}#",
                                                   ":high": f"HIST#{high}$"}),
                ConsistentRead=True, **extra,
            )
            for item in page.get("Items", []):
                memory_id = from_item(item)["SK"][len("HIST#"):].split("#", 1)[0]
                if memory_id in wanted:
                    found.setdefault(memory_id, []).append(history_record(item, memory_id))
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    def get_job(self, user_id: str, job_id: str) -> JobRecord | None:
        """See `MemoryStore.get_job`; expired records count as gone (TTL deletes lazily)."""
        item = self._call(
            "get_item", Key={"PK": pk(user_id), "SK": to_attribute(f"JOB#{job_id}")},
            ConsistentRead=True,
        ).get("Item")
        if not item or int(item["expires_at"]["N"]) <= time.time():
            return None
        return JobRecord(**json.loads(item["body"]["S"]))

    # --- writes --------------------------------------------------------------------------

    def _hash_owner(self, user_id: str, hash_: str) -> str:
        item = self._call("get_item", Key=item_key(user_id, f"HASH#{hash_}"),
                          ConsistentRead=True).get("Item")
        return str(from_item(item)["mem"]) if item else ""

    def apply(
        self, user_id: str, change: Change, *, max_memories: int,
        idempotency_key: str | None = None,
    ) -> None:
        """See `MemoryStore.apply`."""
        for number in range(_VERSION_ATTEMPTS):
            attempt = _Attempt(user_id, change, max_memories, idempotency_key,
                               self._expected_version(user_id), number)
            if self._apply_once(attempt):
                self._remember_version(user_id, attempt.expected + 1)
                return
        raise AssertionError("unreachable")

    def _apply_once(self, attempt: _Attempt) -> bool:
        """One attempt at the version after ``attempt.expected``; False if another write
        took it."""
        table, user_id, change, expected = (self.table_name, attempt.user_id, attempt.change,
                                            attempt.expected)
        # (role, transaction item); the role of a failed condition names the exception.
        items: list[tuple[str, dict[str, Any]]] = []
        if isinstance(change, AddMemory):
            r = change.record
            items.append(("memory", {"Put": {
                "TableName": table, "Item": memory_item(user_id, r),
                "ConditionExpression": "attribute_not_exists(PK)",
            }}))
            items.append(("limit", self._meta_update(user_id, +1, expected, "ADD", r.id,
                                                     attempt.max_memories)))
            items.append(("hash", hash_guard(table, user_id, r.hash, r.id)))
        elif isinstance(change, UpdateMemory):
            r = change.record
            items.append(("memory", {"Put": {
                "TableName": table, "Item": memory_item(user_id, r),
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeValues": to_item({":rev": change.expected_revision}),
            }}))
            items.append(("meta", self._meta_update(user_id, 0, expected, "UPDATE", r.id)))
            if attempt.new_hash is not None:
                items.append(("hash", hash_guard(table, user_id, r.hash, r.id)))
                items.append(("release",
                              hash_release(table, user_id, change.previous_hash, r.id)))
        elif isinstance(change, RemoveMemory):
            items.append(("memory", {"Delete": {
                "TableName": table,
                "Key": item_key(user_id, f"MEM#{change.memory_id}"),
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeValues": to_item({":rev": change.expected_revision}),
            }}))
            items.append(("meta", self._meta_update(user_id, -1, expected, "DELETE",
                                                    change.memory_id)))
            items.append(("release",
                          hash_release(table, user_id, change.hash, change.memory_id)))
        items.append(("history", {"Put": {"TableName": table,
                                          "Item": history_item(user_id, change.history)}}))
        if attempt.idempotency_key is not None:
            items.append(("done", {"Put": {
                "TableName": table,
                "Item": to_item({"PK": f"USER#{user_id}",
                                 "SK": f"DONE#{attempt.idempotency_key}",
                                 "expires_at": int(time.time()) + JOB_TTL_S}),
                "ConditionExpression": "attribute_not_exists(PK)",
            }}))
        reasons = self._transact([item for _, item in items])
        if not reasons:
            return True
        failed = {role for (role, _), code in zip(items, reasons, strict=False)
                  if code == "ConditionalCheckFailed"}
        return self._cancelled(attempt, failed, reasons)

    def _cancelled(self, attempt: _Attempt, failed: set[str], reasons: list[str]) -> bool:
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
            raise DuplicateMemory(self._hash_owner(attempt.user_id, attempt.new_hash))
        if failed & {"meta", "limit"}:
            if self._lost_version_race(attempt.user_id, attempt.expected, attempt.number):
                return False
            if "limit" in failed:
                raise MemoryLimitReached(f"at most {attempt.max_memories} memories per user")
        raise StoreUnavailable(f"DynamoDB transaction cancelled: {reasons}", retryable=True)

    def set_vectors(self, user_id: str, updates: Sequence[VectorUpdate]) -> None:
        """See `MemoryStore.set_vectors` (conditional on the text hash, no version bump)."""
        from botocore.exceptions import ClientError

        for u in updates:
            try:
                self._client.update_item(
                    TableName=self.table_name,
                    Key=item_key(user_id, f"MEM#{u.memory_id}"),
                    UpdateExpression="SET vec = :vec, emb = :emb, dims = :dims",
                    ConditionExpression="#hash = :hash",
                    ExpressionAttributeNames={"#hash": "hash"},
                    ExpressionAttributeValues=to_item({":vec": u.vector, ":emb": u.embedder_id,
                                                       ":dims": u.dims, ":hash": u.hash}),
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code != "ConditionalCheckFailedException":
                    raise unavailable(error) from error

    def delete_memory(self, user_id: str, memory_id: str) -> bool:
        """See `MemoryStore.delete_memory`.

        History goes first and the memory last: if the call is cut in between, the memory is
        still there and deleting again finishes the job (never an orphaned memory).
        """
        keys = [{"PK": pk(user_id), "SK": item["SK"]}
                for item in self._query(user_id, f"HIST#{memory_id}#",
                                        ProjectionExpression="SK")]
        memory = self.get_memory(user_id, memory_id)
        if memory is None and not keys:
            return False
        self._batch_delete(keys)
        changed = 0
        for attempt in range(_VERSION_ATTEMPTS):
            if memory is None:
                return True
            expected = self._expected_version(user_id)
            reasons = self._transact([
                # Conditional on the revision read, so the hash released is the current one.
                {"Delete": {"TableName": self.table_name,
                            "Key": item_key(user_id, f"MEM#{memory_id}"),
                            "ConditionExpression": "rev = :rev",
                            "ExpressionAttributeValues": to_item({":rev": memory.revision})}},
                self._meta_update(user_id, -1, expected, "DELETE", memory_id),
                hash_release(self.table_name, user_id, memory.hash, memory_id),
            ])
            if not reasons:
                self._remember_version(user_id, expected + 1)
                return True
            if "ConditionalCheckFailed" not in reasons:
                raise StoreUnavailable(f"DynamoDB transaction cancelled: {reasons}")
            if reasons[0] == "ConditionalCheckFailed" or reasons[2] == "ConditionalCheckFailed":
                changed += 1
                if changed == 3:
                    break
                memory = self.get_memory(user_id, memory_id)  # changed meanwhile: read again
            elif not self._lost_version_race(user_id, expected, attempt):
                raise StoreUnavailable(f"DynamoDB transaction cancelled: {reasons}")
        raise StoreUnavailable("the memory kept changing during the delete")

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), _BATCH_ITEMS):
            self._delete_batch(keys[start:start + _BATCH_ITEMS])

    def _delete_batch(self, keys: list[dict[str, Any]], deadline: float | None = None) -> None:
        """One BatchWriteItem of at most 25 deletes, retrying its unprocessed items."""
        from botocore.exceptions import BotoCoreError, ClientError

        # Not boto3's batch_writer: it resends unprocessed items until none are left, with no
        # pause, no attempt limit and no deadline, so a throttled table would hold a forget
        # past its budget (and the request past the API's 15 s) instead of failing retryable.

        pending = {self.table_name: [{"DeleteRequest": {"Key": key}} for key in keys]}
        for attempt in range(_BATCH_ATTEMPTS):
            try:
                response = self._client.batch_write_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as error:
                raise unavailable(error) from error
            pending = response.get("UnprocessedItems") or {}
            if not pending or (deadline is not None and time.monotonic() > deadline):
                break
            time.sleep(0.05 * 2**attempt)
        if pending:
            raise StoreUnavailable("DynamoDB kept throttling the delete", retryable=True)

    def forget_user(self, user_id: str, budget_s: float) -> None:
        """See `MemoryStore.forget_user`.

        Rounds of: read the version, delete every item of the user but META and RATE# in
        bounded batches (25 keys, up to 8 in flight, unprocessed items retried), then reset
        META (count 0, log slots removed, version + 1) on the condition that no write landed
        meanwhile; if one did, another round deletes it. A failure or the budget running out
        stops the job where it is; META is reset last, so calling again finishes it.
        """
        deadline = time.monotonic() + budget_s
        for _round in range(_FORGET_ROUNDS):
            version = self.version(user_id)
            keys = [{"PK": pk(user_id), "SK": item["SK"]}
                    for item in self._query(user_id, "", ProjectionExpression="SK",
                                            ConsistentRead=True)
                    if from_item(item)["SK"].startswith(_FORGOTTEN_PREFIXES)]
            batches = [keys[i:i + _BATCH_ITEMS] for i in range(0, len(keys), _BATCH_ITEMS)]
            with ThreadPoolExecutor(max_workers=_FORGET_THREADS) as pool:
                futures = [pool.submit(self._delete_within, batch, deadline)
                           for batch in batches]
                errors = [f.exception() for f in futures]
            failed = next((e for e in errors if e is not None), None)
            if failed is not None:
                if isinstance(failed, StoreUnavailable):
                    raise failed
                raise StoreUnavailable(f"forget failed: {type(failed).__name__}") from failed
            if version == 0:
                return  # the user never wrote a memory: there is no META to reset
            if self._reset_meta(user_id, version):
                return
        raise StoreUnavailable("memories kept arriving during the forget, try again")

    def _delete_within(self, keys: list[dict[str, Any]], deadline: float) -> None:
        if time.monotonic() > deadline:
            raise StoreUnavailable("forgetting takes longer, try again to finish",
                                   retryable=True)
        self._delete_batch(keys, deadline)

    def _reset_meta(self, user_id: str, version: int) -> bool:
        """META after a forget: no memories, no log; False if a write landed meanwhile."""
        from botocore.exceptions import BotoCoreError, ClientError

        slots = ", ".join(f"L{n}" for n in range(LOG_SLOTS))
        try:
            self._client.update_item(
                TableName=self.table_name, Key=item_key(user_id, "META"),
                UpdateExpression=f"SET version = :next, #count = :zero REMOVE {slots}",
                ConditionExpression="version = :version",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues=to_item({":next": version + 1, ":zero": 0,
                                                   ":version": version}),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise unavailable(error) from error
        except BotoCoreError as error:
            raise unavailable(error) from error
        self._remember_version(user_id, version + 1)
        return True

    def put_job(self, user_id: str, job: JobRecord) -> None:
        """See `MemoryStore.put_job`."""
        body = json.dumps({
            "job_id": job.job_id, "status": job.status, "results": job.results,
            "error": job.error, "plan": job.plan, "created_at": job.created_at,
            "updated_at": job.updated_at, "attempts": job.attempts,
        }, ensure_ascii=False)
        self._call("put_item", Item={
            "PK": pk(user_id), "SK": to_attribute(f"JOB#{job.job_id}"),
            "body": to_attribute(body), "expires_at": to_attribute(int(time.time()) + JOB_TTL_S),
        })
