"""SQLite adapter of `MemoryStore` for local use (``voice-agent dev``) and fast tests.

One durable file in WAL mode. Each thread gets its own connection (the dev server is
multi-threaded); every write runs in a ``BEGIN IMMEDIATE`` transaction, which serialises
writers, so the count limit and the version counter stay exact under concurrent adds. Every
statement filters by user id. Each version bump writes a ``memory_log`` row in the same
transaction (the last `LOG_KEPT` are kept), so warm caches can catch up by reading only the
memories changed since their version.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    read_job,
)
from voice_agent.memory.store_sqlite_schema import SCHEMA, connect
from voice_agent.memory.store_values import metadata_json

__all__ = ["SqliteMemoryStore"]

_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit
LOG_KEPT = 256  # change-log entries kept per user (older gaps reload everything)

_MEMORY_COLUMNS = "id, text, meta, created_at, updated_at, vec, emb, dims, hash, rev"


def _memory(row: sqlite3.Row | tuple[Any, ...]) -> MemoryRecord:
    return MemoryRecord(
        id=row[0], text=row[1], metadata=json.loads(row[2]) if row[2] is not None else None,
        created_at=row[3], updated_at=row[4], vector=bytes(row[5]), embedder_id=row[6],
        dims=row[7], hash=row[8], revision=row[9],
    )


class SqliteMemoryStore:
    """`MemoryStore` on a local SQLite file."""

    def __init__(self, path: str | Path) -> None:
        """Opens (and creates if needed) the database file.

        Args:
            path: The file, e.g. ``<VOICE_AGENT_DATA_DIR>/memory.sqlite3``; its directory is
                created if missing.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # executescript commits by itself; the schema statements are idempotent.
        self._db().executescript(SCHEMA)

    # --- connections ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite busy: {error}") from error
        try:
            yield db
        except sqlite3.OperationalError as error:
            db.execute("ROLLBACK")
            raise StoreUnavailable(f"SQLite failed: {error}") from error
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    @staticmethod
    def _bump(db: sqlite3.Connection, user_id: str, event: str, memory_id: str) -> None:
        """Bumps the version and logs the write (inside the caller's transaction)."""
        (version,) = db.execute(
            "INSERT INTO meta (user_id, version) VALUES (?, 1) "
            "ON CONFLICT (user_id) DO UPDATE SET version = version + 1 RETURNING version",
            (user_id,),
        ).fetchone()
        db.execute("INSERT OR REPLACE INTO memory_log (user_id, version, event, memory_id) "
                   "VALUES (?, ?, ?, ?)", (user_id, version, event, memory_id))
        db.execute("DELETE FROM memory_log WHERE user_id = ? AND version <= ?",
                   (user_id, version - LOG_KEPT))

    # --- reads ---------------------------------------------------------------------------

    def version(self, user_id: str) -> int:
        """See `MemoryStore.version`."""
        row = self._db().execute(
            "SELECT version FROM meta WHERE user_id = ?", (user_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def load_memories(self, user_id: str) -> list[MemoryRecord]:
        """See `MemoryStore.load_memories`."""
        rows = self._db().execute(
            f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE user_id = ? ORDER BY id", (user_id,)
        ).fetchall()
        return [_memory(row) for row in rows]

    def changes_since(self, user_id: str, version: int) -> list[LoggedChange] | None:
        """See `MemoryStore.changes_since`."""
        db = self._db()
        current = self.version(user_id)
        if current == version:
            return []
        if current < version:
            return None
        rows = db.execute(
            "SELECT version, event, memory_id FROM memory_log WHERE user_id = ? AND version > ? "
            "ORDER BY version", (user_id, version),
        ).fetchall()
        changes = [LoggedChange(int(row[0]), row[1], row[2]) for row in rows]
        expected = range(version + 1, version + 1 + len(changes))
        if len(changes) < current - version or any(
                change.version != number for change, number in zip(changes, expected,
                                                                   strict=True)):
            return None  # a gap: writes without a log entry, or entries already trimmed
        return changes

    def get_memory(self, user_id: str, memory_id: str) -> MemoryRecord | None:
        """See `MemoryStore.get_memory`."""
        row = self._db().execute(
            f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE user_id = ? AND id = ?",
            (user_id, memory_id),
        ).fetchone()
        return _memory(row) if row else None

    def list_memories(
        self, user_id: str, limit: int, cursor: str | None
    ) -> tuple[list[MemoryRecord], str | None]:
        """See `MemoryStore.list_memories`."""
        after = decode_cursor(cursor) if cursor else ""
        rows = self._db().execute(
            f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE user_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            (user_id, after, limit + 1),
        ).fetchall()
        records = [_memory(row) for row in rows[:limit]]
        next_cursor = encode_cursor(records[-1].id) if len(rows) > limit else None
        return records, next_cursor

    def count_memories(self, user_id: str) -> int:
        """See `MemoryStore.count_memories`."""
        return _count(self._db(), user_id)

    def history(self, user_id: str, memory_id: str) -> list[HistoryRecord]:
        """See `MemoryStore.history`."""
        rows = self._db().execute(
            "SELECT memory_id, memory, event, at, previous FROM history "
            "WHERE user_id = ? AND memory_id = ? ORDER BY at, seq",
            (user_id, memory_id),
        ).fetchall()
        return [HistoryRecord(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def histories(self, user_id: str,
                  memory_ids: Sequence[str]) -> dict[str, list[HistoryRecord]]:
        """See `MemoryStore.histories`."""
        found: dict[str, list[HistoryRecord]] = {}
        ids = list(dict.fromkeys(memory_ids))
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start:start + _IN_CHUNK]
            rows = self._db().execute(
                "SELECT memory_id, memory, event, at, previous FROM history "
                f"WHERE user_id = ? AND memory_id IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY memory_id, at, seq",
                (user_id, *chunk),
            ).fetchall()
            for r in rows:
                found.setdefault(r[0], []).append(HistoryRecord(r[0], r[1], r[2], r[3], r[4]))
        return found

    def get_job(self, user_id: str, job_id: str) -> JobRecord | None:
        """See `MemoryStore.get_job`."""
        row = self._db().execute(
            "SELECT body FROM jobs WHERE user_id = ? AND job_id = ? AND expires_at > ?",
            (user_id, job_id, int(time.time())),
        ).fetchone()
        return read_job(row[0]) if row else None

    # --- writes --------------------------------------------------------------------------

    def apply(
        self, user_id: str, change: Change, *, max_memories: int,
        idempotency_key: str | None = None,
    ) -> None:
        """See `MemoryStore.apply`."""
        with self._write() as db:
            if idempotency_key is not None:
                try:
                    db.execute(
                        "INSERT INTO applied (user_id, key, expires_at) VALUES (?, ?, ?)",
                        (user_id, idempotency_key, int(time.time()) + JOB_TTL_S),
                    )
                except sqlite3.IntegrityError as error:
                    raise AlreadyApplied(idempotency_key) from error
            if isinstance(change, AddMemory):
                self._add(db, user_id, change, max_memories)
            elif isinstance(change, UpdateMemory):
                self._update(db, user_id, change)
            elif isinstance(change, RemoveMemory):
                removed = db.execute(
                    "DELETE FROM memories WHERE user_id = ? AND id = ? AND rev = ?",
                    (user_id, change.memory_id, change.expected_revision),
                ).rowcount
                if removed != 1:
                    raise StaleMemory(change.memory_id)
            self._add_history(db, user_id, change.history)
            if isinstance(change, RemoveMemory):
                self._bump(db, user_id, "DELETE", change.memory_id)
            else:
                event = "ADD" if isinstance(change, AddMemory) else "UPDATE"
                self._bump(db, user_id, event, change.record.id)

    def _add(self, db: sqlite3.Connection, user_id: str, change: AddMemory,
             max_memories: int) -> None:
        r = change.record
        if db.execute("SELECT 1 FROM memories WHERE user_id = ? AND id = ?",
                      (user_id, r.id)).fetchone():
            raise AlreadyApplied(r.id)
        # A known text is a duplicate even at the limit (as on DynamoDB).
        _check_unique(db, user_id, r.hash, r.id)
        if _count(db, user_id) >= max_memories:
            raise MemoryLimitReached(f"at most {max_memories} memories per user")
        db.execute(
            f"INSERT INTO memories (user_id, {_MEMORY_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (user_id, r.id, r.text, metadata_json(r.metadata), r.created_at, r.updated_at,
             r.vector, r.embedder_id, r.dims, r.hash, r.revision),
        )

    @staticmethod
    def _update(db: sqlite3.Connection, user_id: str, change: UpdateMemory) -> None:
        r = change.record
        _check_unique(db, user_id, r.hash, r.id)
        updated = db.execute(
            "UPDATE memories SET text = ?, meta = ?, updated_at = ?, vec = ?, emb = ?, "
            "dims = ?, hash = ?, rev = ? WHERE user_id = ? AND id = ? AND rev = ?",
            (r.text, metadata_json(r.metadata), r.updated_at, r.vector, r.embedder_id, r.dims,
             r.hash, r.revision, user_id, r.id, change.expected_revision),
        ).rowcount
        if updated != 1:
            raise StaleMemory(r.id)

    @staticmethod
    def _add_history(db: sqlite3.Connection, user_id: str, entry: HistoryRecord) -> None:
        db.execute(
            "INSERT INTO history (user_id, memory_id, memory, event, at, previous) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, entry.memory_id, entry.memory, entry.event, entry.at,
             entry.previous_memory),
        )

    def set_vectors(self, user_id: str, updates: Sequence[VectorUpdate]) -> None:
        """See `MemoryStore.set_vectors`."""
        if not updates:
            return
        with self._write() as db:
            db.executemany(
                "UPDATE memories SET vec = ?, emb = ?, dims = ? "
                "WHERE user_id = ? AND id = ? AND hash = ?",
                [(u.vector, u.embedder_id, u.dims, user_id, u.memory_id, u.hash)
                 for u in updates],
            )

    def delete_memory(self, user_id: str, memory_id: str) -> bool:
        """See `MemoryStore.delete_memory`."""
        with self._write() as db:
            removed = db.execute(
                "DELETE FROM memories WHERE user_id = ? AND id = ?", (user_id, memory_id)
            ).rowcount
            purged = db.execute(
                "DELETE FROM history WHERE user_id = ? AND memory_id = ?", (user_id, memory_id)
            ).rowcount
            if removed:
                self._bump(db, user_id, "DELETE", memory_id)
        return bool(removed or purged)

    def forget_user(self, user_id: str, budget_s: float) -> None:
        """See `MemoryStore.forget_user`: one transaction, so all of it or nothing."""
        del budget_s  # a local file deletes a user's rows well within any budget
        with self._write() as db:
            for table in ("memories", "memory_counts", "history", "jobs", "applied",
                          "memory_log"):
                db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
            db.execute("UPDATE meta SET version = version + 1 WHERE user_id = ?", (user_id,))

    def put_job(self, user_id: str, job: JobRecord) -> None:
        """See `MemoryStore.put_job`."""
        body = job.to_json()
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (user_id, job_id, body, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, job_id) DO UPDATE SET body = excluded.body",
                (user_id, job.job_id, body, int(time.time()) + JOB_TTL_S),
            )


def _count(db: sqlite3.Connection, user_id: str) -> int:
    """The user's number of memories (kept by the schema's triggers)."""
    row = db.execute("SELECT n FROM memory_counts WHERE user_id = ?", (user_id,)).fetchone()
    return int(row[0]) if row else 0


def _check_unique(db: sqlite3.Connection, user_id: str, hash_: str, memory_id: str) -> None:
    """Raises `DuplicateMemory` if another memory of the user has the same text hash."""
    row = db.execute("SELECT id FROM memories WHERE user_id = ? AND hash = ? AND id != ?",
                     (user_id, hash_, memory_id)).fetchone()
    if row:
        raise DuplicateMemory(row[0])

