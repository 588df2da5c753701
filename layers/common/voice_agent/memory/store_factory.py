"""Chooses the memory store adapter from the settings.

Kept apart from the port module (:mod:`voice_agent.memory.store`), which the adapters
import: the port never imports its own adapters.
"""

from __future__ import annotations

import os

from voice_agent.errors import ConfigError
from voice_agent.local_only import local_only_import
from voice_agent.memory.store import MemoryStore
from voice_agent.settings import get_settings

__all__ = ["make_store"]


def make_store() -> MemoryStore:
    """The configured store: DynamoDB if ``MEMORY_TABLE`` is set, else SQLite in the data dir.

    DynamoDB's endpoint honours ``AWS_ENDPOINT_URL_DYNAMODB``; the SQLite file is
    ``<VOICE_AGENT_DATA_DIR>/memory.sqlite3``.

    Raises:
        ConfigError: Neither ``MEMORY_TABLE`` nor ``VOICE_AGENT_DATA_DIR`` is set, or only the
            latter is and the SQLite store is not installed (the Lambda layer leaves it out).
    """
    settings = get_settings()
    if settings.memory_table:
        from voice_agent.memory.store_dynamodb import DynamoMemoryStore

        return DynamoMemoryStore(settings.memory_table)
    if settings.local_data_dir:
        with local_only_import("the SQLite memory store (MEMORY_TABLE unset)",
                               "set MEMORY_TABLE to the DynamoDB table"):
            from voice_agent.memory.store_sqlite import SqliteMemoryStore

        return SqliteMemoryStore(os.path.join(settings.local_data_dir, "memory.sqlite3"))
    raise ConfigError(
        "memory storage is not configured: set MEMORY_TABLE (DynamoDB) or "
        "VOICE_AGENT_DATA_DIR (local SQLite file)"
    )
