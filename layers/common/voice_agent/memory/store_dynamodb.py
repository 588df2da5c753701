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
Modules: `store_dynamodb_table` (low-level calls; ``META``: version, count, change log),
`store_dynamodb_items` (item shapes), `store_dynamodb_changes` (the transaction of a change),
`store_dynamodb_forget` (batch deletes, "forget me").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from voice_agent.aws import REQUEST_CALL, aws_client
from voice_agent.memory.store import (
    JOB_TTL_S,
    Change,
    HistoryRecord,
    JobRecord,
    LoggedChange,
    MemoryRecord,
    StoreUnavailable,
    VectorUpdate,
    decode_cursor,
    encode_cursor,
    read_job,
)
from voice_agent.memory.store_dynamodb_changes import Attempt, apply_attempt
from voice_agent.memory.store_dynamodb_forget import delete_keys, forget_partition
from voice_agent.memory.store_dynamodb_items import (
    from_item,
    hash_release,
    history_record,
    item_key,
    memory_record,
    pk,
    to_attribute,
    to_item,
)
from voice_agent.memory.store_dynamodb_table import VERSION_ATTEMPTS, UserTable, meta_update

__all__ = [
    "DynamoMemoryStore",
    "make_dynamodb_client",
]

_MEMORY_PROJECTION = "SK, #text, meta, created, updated, vec, emb, dims, #hash, rev"
_MEMORY_NAMES = {"#text": "text", "#hash": "hash"}


def make_dynamodb_client(region: str | None = None) -> Any:
    """A ``dynamodb`` client with bounded timeouts, so every request answers within 15 s.

    The endpoint honours ``AWS_ENDPOINT_URL_DYNAMODB`` (boto3 reads it natively).
    """
    # Worst case of one call ≈ 2 × (1 + 3) s + backoff; failures such as refused connections,
    # 5xx and throttling answer at once, so a request stays well inside the API's 15 s.
    return aws_client("dynamodb", REQUEST_CALL, region=region, max_pool_connections=32)


class DynamoMemoryStore:
    """`MemoryStore` on the DynamoDB table named by ``MEMORY_TABLE``."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        """Creates the adapter.

        Args:
            table_name: The table (key attributes ``PK``/``SK`` strings, TTL ``expires_at``).
            client: A boto3 ``dynamodb`` client; defaults to `make_dynamodb_client`.
        """
        self.table_name = table_name
        self._table = UserTable(table_name, client or make_dynamodb_client())

    def version(self, user_id: str) -> int:
        """See `MemoryStore.version` (a strongly consistent read of ``META``)."""
        return self._table.version(user_id)

    def changes_since(self, user_id: str, version: int) -> list[LoggedChange] | None:
        """See `MemoryStore.changes_since`: one strongly consistent read of ``META``."""
        return self._table.changes_since(user_id, version)

    # --- reads ---------------------------------------------------------------------------

    def load_memories(self, user_id: str) -> list[MemoryRecord]:
        """See `MemoryStore.load_memories`: one paginated Query of the user's partition."""
        items = self._table.query_prefix(
            user_id, "MEM#", ProjectionExpression=_MEMORY_PROJECTION,
            ExpressionAttributeNames=_MEMORY_NAMES, ConsistentRead=True,
        )
        return [memory_record(item) for item in items]

    def get_memory(self, user_id: str, memory_id: str) -> MemoryRecord | None:
        """See `MemoryStore.get_memory`."""
        item = self._table.call(
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
        for item in self._table.query_prefix(
                user_id, "MEM#", ProjectionExpression=_MEMORY_PROJECTION,
                ExpressionAttributeNames=_MEMORY_NAMES, Limit=limit + 1, **extra):
            records.append(memory_record(item))
            if len(records) > limit:
                break
        next_cursor = encode_cursor(records[limit - 1].id) if len(records) > limit else None
        return records[:limit], next_cursor

    def count_memories(self, user_id: str) -> int:
        """See `MemoryStore.count_memories` (kept in ``META.count``)."""
        item = self._table.call(
            "get_item", Key=item_key(user_id, "META"),
            ProjectionExpression="#count", ExpressionAttributeNames={"#count": "count"},
            ConsistentRead=True,
        ).get("Item") or {}
        return int(from_item(item).get("count", 0))

    def history(self, user_id: str, memory_id: str) -> list[HistoryRecord]:
        """See `MemoryStore.history` (SK order is time order)."""
        items = self._table.query_prefix(user_id, f"HIST#{memory_id}#", ConsistentRead=True)
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
        # "$" sorts right after "#": the upper bound closes every key of the last id.
        items = self._table.query(user_id, "PK = :pk AND SK BETWEEN :low AND :high",
                                  {":low": f"HIST#{low}#", ":high": f"HIST#{high}$"},
                                  ConsistentRead=True)
        for item in items:
            memory_id = from_item(item)["SK"][len("HIST#"):].split("#", 1)[0]
            if memory_id in wanted:
                found.setdefault(memory_id, []).append(history_record(item, memory_id))
        return found

    def get_job(self, user_id: str, job_id: str) -> JobRecord | None:
        """See `MemoryStore.get_job`; expired records count as gone (TTL deletes lazily)."""
        item = self._table.call(
            "get_item", Key={"PK": pk(user_id), "SK": to_attribute(f"JOB#{job_id}")},
            ConsistentRead=True,
        ).get("Item")
        if not item or int(item["expires_at"]["N"]) <= time.time():
            return None
        return read_job(item["body"]["S"])

    # --- writes --------------------------------------------------------------------------

    def apply(
        self, user_id: str, change: Change, *, max_memories: int,
        idempotency_key: str | None = None,
    ) -> None:
        """See `MemoryStore.apply`."""
        for number in range(VERSION_ATTEMPTS):
            attempt = Attempt(user_id, change, max_memories, idempotency_key,
                              self._table.expected_version(user_id), number)
            if apply_attempt(self._table, attempt):
                self._table.remember_version(user_id, attempt.expected + 1)
                return
        raise AssertionError("unreachable")

    def set_vectors(self, user_id: str, updates: Sequence[VectorUpdate]) -> None:
        """See `MemoryStore.set_vectors` (conditional on the text hash, no version bump)."""
        for u in updates:
            self._table.update_if(  # False: the text changed meanwhile, its vector is stale
                Key=item_key(user_id, f"MEM#{u.memory_id}"),
                UpdateExpression="SET vec = :vec, emb = :emb, dims = :dims",
                ConditionExpression="#hash = :hash", ExpressionAttributeNames={"#hash": "hash"},
                ExpressionAttributeValues=to_item({":vec": u.vector, ":emb": u.embedder_id,
                                                   ":dims": u.dims, ":hash": u.hash}),
            )

    def delete_memory(self, user_id: str, memory_id: str) -> bool:
        """See `MemoryStore.delete_memory`.

        History goes first and the memory last: if the call is cut in between, the memory is
        still there and deleting again finishes the job (never an orphaned memory).
        """
        keys = [{"PK": pk(user_id), "SK": item["SK"]}
                for item in self._table.query_prefix(user_id, f"HIST#{memory_id}#",
                                                     ProjectionExpression="SK")]
        memory = self.get_memory(user_id, memory_id)
        if memory is None and not keys:
            return False
        delete_keys(self._table, keys)
        changed = 0
        for attempt in range(VERSION_ATTEMPTS):
            if memory is None:
                return True
            expected = self._table.expected_version(user_id)
            reasons = self._table.transact([
                # Conditional on the revision read, so the hash released is the current one.
                {"Delete": {"TableName": self.table_name,
                            "Key": item_key(user_id, f"MEM#{memory_id}"),
                            "ConditionExpression": "rev = :rev",
                            "ExpressionAttributeValues": to_item({":rev": memory.revision})}},
                meta_update(self.table_name, user_id, -1, expected, "DELETE", memory_id),
                hash_release(self.table_name, user_id, memory.hash, memory_id),
            ])
            if not reasons:
                self._table.remember_version(user_id, expected + 1)
                return True
            if "ConditionalCheckFailed" not in reasons:
                raise StoreUnavailable(f"DynamoDB transaction cancelled: {reasons}")
            if reasons[0] == "ConditionalCheckFailed" or reasons[2] == "ConditionalCheckFailed":
                changed += 1
                if changed == 3:
                    break
                memory = self.get_memory(user_id, memory_id)  # changed meanwhile: read again
            elif not self._table.lost_version_race(user_id, expected, attempt):
                raise StoreUnavailable(f"DynamoDB transaction cancelled: {reasons}")
        raise StoreUnavailable("the memory kept changing during the delete")

    def forget_user(self, user_id: str, budget_s: float) -> None:
        """See `MemoryStore.forget_user` (and `store_dynamodb_forget.forget_partition`)."""
        forget_partition(self._table, user_id, budget_s)

    def put_job(self, user_id: str, job: JobRecord) -> None:
        """See `MemoryStore.put_job`."""
        self._table.call("put_item", Item={
            "PK": pk(user_id), "SK": to_attribute(f"JOB#{job.job_id}"),
            "body": to_attribute(job.to_json()),
            "expires_at": to_attribute(int(time.time()) + JOB_TTL_S),
        })
