"""What every embedder shares: the `Embedder` protocol, its error and row normalisation.

Nothing here imports numpy at module load, so the factory (and the handlers that only need
the protocol's name) stay cheap to import on a cold start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Embedder", "EmbeddingUnavailable", "normalise_rows"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors."""

    @property
    def id(self) -> str:
        """Stable id recorded with every stored vector, e.g. ``"titan-v2:1024"``."""
        ...

    @property
    def dimensions(self) -> int:
        """Length of every vector this embedder returns."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts.

        Args:
            texts: The texts to embed.

        Returns:
            A float32 array of shape ``(len(texts), dimensions)`` with L2-normalised rows.
        """
        ...


class EmbeddingUnavailable(Exception):
    """The embedding service could not produce vectors.

    Attributes:
        message: What went wrong, safe to log (never contains the embedded text).
        retryable: True when trying again later may succeed (throttling, timeouts,
            service unavailable); the API maps it to 429/503, otherwise to 502.
    """

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Scales rows to unit length in place; all-zero rows stay zero."""
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
