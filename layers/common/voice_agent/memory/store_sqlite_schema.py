"""Schema and connection settings of the SQLite memory store (`store_sqlite`).

``memory_counts`` keeps each user's number of memories, maintained by triggers on every
insert and delete, so the per-user limit is one key lookup instead of counting the rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["SCHEMA", "connect"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    user_id TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL, meta TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, vec BLOB NOT NULL,
    emb TEXT NOT NULL, dims INTEGER NOT NULL, hash TEXT NOT NULL, rev INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS memories_by_hash ON memories (user_id, hash);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, memory_id TEXT NOT NULL,
    memory TEXT NOT NULL, event TEXT NOT NULL, at TEXT NOT NULL, previous TEXT
);
CREATE INDEX IF NOT EXISTS history_by_memory ON history (user_id, memory_id, at, seq);
CREATE TABLE IF NOT EXISTS jobs (
    user_id TEXT NOT NULL, job_id TEXT NOT NULL, body TEXT NOT NULL, expires_at INTEGER,
    PRIMARY KEY (user_id, job_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    user_id TEXT PRIMARY KEY, version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memory_log (
    user_id TEXT NOT NULL, version INTEGER NOT NULL, event TEXT NOT NULL,
    memory_id TEXT NOT NULL, PRIMARY KEY (user_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memory_counts (
    user_id TEXT PRIMARY KEY, n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS memory_counted AFTER INSERT ON memories BEGIN
    INSERT INTO memory_counts (user_id, n) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS memory_uncounted AFTER DELETE ON memories BEGIN
    UPDATE memory_counts SET n = n - 1 WHERE user_id = OLD.user_id;
END;
-- Files written before the counts existed: count their users once (users already counted,
-- by the triggers, keep their rows).
INSERT OR IGNORE INTO memory_counts (user_id, n)
    SELECT user_id, COUNT(*) FROM memories GROUP BY user_id;
CREATE TABLE IF NOT EXISTS applied (
    user_id TEXT NOT NULL, key TEXT NOT NULL, expires_at INTEGER,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Opens one connection to the store file (one per thread).

    Autocommit mode: transactions are explicit (``BEGIN IMMEDIATE``) where they matter.
    """
    db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
    db.execute("PRAGMA busy_timeout=10000")
    return db
