"""Deleting many items of a user's partition: bounded ``BatchWriteItem`` batches and "forget me"
(`MemoryStore.forget_user` of `store_dynamodb`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from voice_agent.memory.store import StoreUnavailable
from voice_agent.memory.store_dynamodb_items import from_item, item_key, pk, to_item, unavailable
from voice_agent.memory.store_dynamodb_table import LOG_SLOTS, UserTable

__all__ = ["delete_keys", "forget_partition"]

# What "forget me" deletes: everything of the user but META (its version counter moves on) and
# the RATE# counters (abuse limits, no personal content: forgetting must not reset them).
FORGOTTEN_PREFIXES = ("MEM#", "HIST#", "JOB#", "HASH#", "DONE#")
BATCH_ITEMS = 25  # BatchWriteItem's maximum
BATCH_ATTEMPTS = 6  # tries of one batch's unprocessed items, with backoff (≈ 1.6 s in all)
FORGET_THREADS = 8  # batches in flight: 30k items (a 10k-memory user) in a few seconds
FORGET_ROUNDS = 3  # writes landing during a forget make another round


def delete_keys(table: UserTable, keys: list[dict[str, Any]]) -> None:
    """Deletes the items of ``keys``, one batch of 25 after the other."""
    for start in range(0, len(keys), BATCH_ITEMS):
        _delete_batch(table, keys[start:start + BATCH_ITEMS])


def _delete_batch(table: UserTable, keys: list[dict[str, Any]],
                  deadline: float | None = None) -> None:
    """One BatchWriteItem of at most 25 deletes, retrying its unprocessed items."""
    from botocore.exceptions import BotoCoreError, ClientError

    # Not boto3's batch_writer: it resends unprocessed items until none are left, with no
    # pause, no attempt limit and no deadline, so a throttled table would hold a forget
    # past its budget (and the request past the API's 15 s) instead of failing retryable.
    pending = {table.name: [{"DeleteRequest": {"Key": key}} for key in keys]}
    for attempt in range(BATCH_ATTEMPTS):
        try:
            response = table.client.batch_write_item(RequestItems=pending)
        except (ClientError, BotoCoreError) as error:
            raise unavailable(error) from error
        pending = response.get("UnprocessedItems") or {}
        if not pending or (deadline is not None and time.monotonic() > deadline):
            break
        time.sleep(0.05 * 2**attempt)
    if pending:
        raise StoreUnavailable("DynamoDB kept throttling the delete", retryable=True)


def forget_partition(table: UserTable, user_id: str, budget_s: float) -> None:
    """See `MemoryStore.forget_user`.

    Rounds of: read the version, delete every item of the user but META and RATE# in
    bounded batches (25 keys, up to 8 in flight, unprocessed items retried), then reset
    META (count 0, log slots removed, version + 1) on the condition that no write landed
    meanwhile; if one did, another round deletes it. A failure or the budget running out
    stops the job where it is; META is reset last, so calling again finishes it.
    """
    deadline = time.monotonic() + budget_s
    for _round in range(FORGET_ROUNDS):
        version = table.version(user_id)
        keys = [{"PK": pk(user_id), "SK": item["SK"]}
                for item in table.query_prefix(user_id, "", ProjectionExpression="SK",
                                               ConsistentRead=True)
                if from_item(item)["SK"].startswith(FORGOTTEN_PREFIXES)]
        batches = [keys[i:i + BATCH_ITEMS] for i in range(0, len(keys), BATCH_ITEMS)]
        with ThreadPoolExecutor(max_workers=FORGET_THREADS) as pool:
            futures = [pool.submit(_delete_within, table, batch, deadline) for batch in batches]
            errors = [f.exception() for f in futures]
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            if isinstance(failed, StoreUnavailable):
                raise failed
            raise StoreUnavailable(f"forget failed: {type(failed).__name__}") from failed
        if version == 0:
            return  # the user never wrote a memory: there is no META to reset
        if _reset_meta(table, user_id, version):
            return
    raise StoreUnavailable("memories kept arriving during the forget, try again")


def _delete_within(table: UserTable, keys: list[dict[str, Any]], deadline: float) -> None:
    if time.monotonic() > deadline:
        raise StoreUnavailable("forgetting takes longer, try again to finish", retryable=True)
    _delete_batch(table, keys, deadline)


def _reset_meta(table: UserTable, user_id: str, version: int) -> bool:
    """META after a forget: no memories, no log; False if a write landed meanwhile."""
    slots = ", ".join(f"L{n}" for n in range(LOG_SLOTS))
    if not table.update_if(
        Key=item_key(user_id, "META"),
        UpdateExpression=f"SET version = :next, #count = :zero REMOVE {slots}",
        ConditionExpression="version = :version",
        ExpressionAttributeNames={"#count": "count"},
        ExpressionAttributeValues=to_item({":next": version + 1, ":zero": 0,
                                           ":version": version}),
    ):
        return False
    table.remember_version(user_id, version + 1)
    return True
