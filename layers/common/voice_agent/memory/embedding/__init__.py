"""Text embedders: the `Embedder` protocol, its implementations and the process-wide factory.

Every embedder returns float32 rows of unit length, so cosine similarity is a dot product.
Each one has a stable `id` (name and dimension) that is stored with every vector: vectors
from different ids live in different spaces and are never compared.

One module per embedder: `bedrock` (Titan V2, what Lambda uses), `local` (MiniLM on
onnxruntime, the local runner's default) and `hashing` (tests and fallbacks). This package
imports none of them up front: a Lambda function that embeds through Bedrock never loads
onnxruntime, the tokenizer or the graph builder, and one that does not embed at all loads
neither numpy nor boto3 from here. The names below are still importable from this package;
each loads its module on first access. `local` and `hashing` are not in the Lambda layer
(`voice_agent.local_only`): choosing one there is a `ConfigError`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from voice_agent.catalogue import (
    DEFAULT_TITAN_DIMENSIONS,
    DEFAULT_TITAN_MODEL_ID,
    EMBEDDER_KINDS,
    TITAN_DIMENSIONS,
)
from voice_agent.local_only import local_only_import
from voice_agent.memory.embedding.base import Embedder, EmbeddingUnavailable, normalise_rows
from voice_agent.process_wide import ProcessWide
from voice_agent.settings import get_settings

if TYPE_CHECKING:
    from voice_agent.memory.embedding.bedrock import BedrockTitanEmbedder, make_bedrock_client
    from voice_agent.memory.embedding.hashing import HashingEmbedder
    from voice_agent.memory.embedding.local import LocalMiniLMEmbedder

__all__ = [
    "DEFAULT_TITAN_DIMENSIONS",
    "DEFAULT_TITAN_MODEL_ID",
    "TITAN_DIMENSIONS",
    "BedrockTitanEmbedder",
    "Embedder",
    "EmbeddingUnavailable",
    "HashingEmbedder",
    "LocalMiniLMEmbedder",
    "make_bedrock_client",
    "make_embedder",
    "normalise_rows",
    "reset_embedder_cache",
]

# Where each lazily exported name lives (one table, read by __getattr__).
_LAZY_EXPORTS = {
    "BedrockTitanEmbedder": "bedrock",
    "make_bedrock_client": "bedrock",
    "HashingEmbedder": "hashing",
    "LocalMiniLMEmbedder": "local",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with local_only_import(name, "use BedrockTitanEmbedder"):
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)


_embedders: ProcessWide[tuple[str, str | None, int | None], Embedder] = ProcessWide("embedders")


def reset_embedder_cache() -> None:
    """Forgets the embedders built by `make_embedder` (tests, after a SnapStart restore)."""
    _embedders.reset()


def _build(kind: str, model_id: str | None, dimensions: int | None) -> Embedder:
    if kind == "local":
        with local_only_import("the bundled MiniLM embedder (EMBEDDINGS=local)",
                               "set EMBEDDINGS=bedrock"):
            from voice_agent.memory.embedding.local import LocalMiniLMEmbedder

        return LocalMiniLMEmbedder()
    if kind == "hashing":
        with local_only_import("the hashing embedder (EMBEDDINGS=hashing)",
                               "set EMBEDDINGS=bedrock"):
            from voice_agent.memory.embedding.hashing import HashingEmbedder

        return HashingEmbedder()
    from voice_agent.memory.embedding.bedrock import BedrockTitanEmbedder

    assert model_id is not None and dimensions is not None
    # The client is built on the first embed: the session function's profile prefetch needs
    # only the embedder's id and should not pay for boto3 there.
    return BedrockTitanEmbedder(None, model_id, dimensions)


def make_embedder(kind: str | None = None) -> Embedder:
    """Returns the process-wide embedder for the configuration (cached, thread-safe).

    Settings come from :func:`voice_agent.settings.get_settings`:
    ``EMBEDDINGS`` (``local`` | ``bedrock`` | ``hashing``; default ``bedrock`` inside Lambda,
    i.e. when ``AWS_LAMBDA_FUNCTION_NAME`` is set, else ``local``), and for Bedrock
    ``EMBEDDING_MODEL_ID`` (default Titan V2) and ``EMBEDDING_DIMENSIONS`` (256/512/1024,
    default 512).

    Args:
        kind: Overrides ``EMBEDDINGS``.

    Raises:
        ValueError: Unknown ``kind`` argument.
        ConfigError: Invalid ``EMBEDDINGS`` or ``EMBEDDING_DIMENSIONS`` (or another setting);
            ``local`` or ``hashing`` where its module is not installed (the Lambda layer
            leaves both out).
    """
    settings = get_settings()
    if kind is None:
        kind = settings.embedder_kind
    if kind not in EMBEDDER_KINDS:
        raise ValueError(f"EMBEDDINGS must be one of {', '.join(EMBEDDER_KINDS)}, got {kind!r}")
    model_id: str | None = None
    dimensions: int | None = None
    if kind == "bedrock":
        model_id = settings.embedding_model_id
        dimensions = settings.embedding_dimensions
    return _embedders.get((kind, model_id, dimensions),
                          lambda: _build(kind, model_id, dimensions))
