"""What every memory use case shares: upstream failures as API errors, batched embedding."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from voice_agent.errors import RateLimited, ServiceUnavailable, UpstreamError
from voice_agent.memory.embedding import Embedder, EmbeddingUnavailable
from voice_agent.memory.store import StoreUnavailable

if TYPE_CHECKING:  # numpy is imported by the paths that embed, not by every handler
    import numpy as np

__all__ = ["RETRY_AFTER_S", "embed_texts", "upstream_errors"]

RETRY_AFTER_S = 2


@contextmanager
def upstream_errors() -> Iterator[None]:
    """Maps embedding/storage failures to the API's JSON errors (429 / 503 / 502)."""
    try:
        yield
    except EmbeddingUnavailable as error:
        if error.throttled:
            raise RateLimited("embedding service is busy, try again shortly",
                              RETRY_AFTER_S) from error
        if error.retryable:
            raise ServiceUnavailable("embedding service unavailable, try again",
                                     headers={"Retry-After": str(RETRY_AFTER_S)}) from error
        raise UpstreamError("embedding service error") from error
    except StoreUnavailable as error:
        if error.retryable:
            raise ServiceUnavailable("memory store unavailable, try again",
                                     headers={"Retry-After": str(RETRY_AFTER_S)}) from error
        raise UpstreamError("memory store error") from error


def embed_texts(embedder: Embedder, texts: Sequence[str],
           known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Embeds texts in one batch: each distinct text once, none already in ``known``."""
    import numpy as np

    result = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    known = known or {}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    fresh = dict(zip(missing, embedder.embed(missing), strict=True)) if missing else {}
    for row, text in enumerate(texts):
        result[row] = known[text] if text in known else fresh[text]
    return result
