"""Values the memory stores derive: timestamps, the text hash behind unique texts, page cursors,
the stored form of metadata.

Both adapters (`voice_agent.memory.store_dynamodb`, `voice_agent.memory.store_sqlite`) and the
use cases use them; `voice_agent.memory.store` re-exports them with the port.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

__all__ = ["decode_cursor", "encode_cursor", "metadata_json", "normalise_text", "now_iso",
           "text_hash"]


def now_iso() -> str:
    """Current UTC time as ISO 8601 with microseconds (sorts lexically in time order)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Text as compared for exact duplicates: NFKC, case-folded, single spaces, no end dot."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", folded).strip().rstrip(".!").strip()


def text_hash(text: str) -> str:
    """Short stable hash of the normalised text (exact-duplicate detection)."""
    return hashlib.blake2b(normalise_text(text).encode("utf-8"), digest_size=12).hexdigest()


def encode_cursor(memory_id: str) -> str:
    """The opaque cursor of the page after ``memory_id`` (pages are in memory id order)."""
    return base64.urlsafe_b64encode(json.dumps({"after": memory_id}).encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The memory id a cursor of `encode_cursor` continues after.

    Raises:
        ValueError: Not a cursor we handed out.
    """
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor.encode()))["after"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError("invalid cursor") from error
    if not isinstance(after, str) or not after:
        raise ValueError("invalid cursor")
    return after


def metadata_json(metadata: Any) -> str | None:
    """A memory's metadata as both stores keep it: compact JSON text, exactly as given (a
    DynamoDB number would come back as a Decimal), or None for none."""
    if metadata is None:
        return None
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
