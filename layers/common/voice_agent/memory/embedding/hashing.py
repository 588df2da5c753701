"""Feature-hashing embedder: deterministic, dependency-free vectors for tests and fallbacks."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from voice_agent.memory.embedding.base import normalise_rows

__all__ = ["HashingEmbedder"]

_WORD_PATTERN = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic feature-hashing embedder: words plus character trigrams.

    Not semantic, but fast and dependency-free, so tests elsewhere can run without loading a
    model. The same text gives the same vector in every process (no salted ``hash()``).
    """

    def __init__(self, dimensions: int = 256) -> None:
        """Creates the embedder.

        Args:
            dimensions: Vector length; the id records it (``"hashing:<dimensions>"``).
        """
        if dimensions <= 0:
            raise ValueError("dimensions must be positive")
        self._dimensions = dimensions

    @property
    def id(self) -> str:
        """``"hashing:<dimensions>"``."""
        return f"hashing:{self._dimensions}"

    @property
    def dimensions(self) -> int:
        """The configured vector length."""
        return self._dimensions

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = _WORD_PATTERN.findall(text.lower())
        features = [("w:" + word, 1.0) for word in words]
        for word in words:
            padded = f"#{word}#"
            # Trigrams let "paint" and "painting" share features; weighted below whole words.
            features.extend(("c:" + padded[i : i + 3], 0.5) for i in range(len(padded) - 2))
        return features

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts by signed feature hashing.

        Returns:
            float32 array ``(len(texts), dimensions)``; rows are unit length, except the zero
            row of a text without any word.
        """
        result = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in self._features(text):
                digest = int.from_bytes(
                    hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little"
                )
                sign = 1.0 if digest & 1 else -1.0  # the sign bit keeps collisions unbiased
                result[row, (digest >> 1) % self._dimensions] += sign * weight
        return normalise_rows(result)
