"""Per-embedder vector matrices of a memory index: built once, carried over on a change.

Vectors of different embedders live in different spaces, so an index keeps one matrix per
embedder id: the positions of its items and their vectors as unit-length float32 rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voice_agent.memory.vectors import decode_vectors

__all__ = ["NewVector", "VectorGroup", "carried_over", "checked_group", "embedder_of"]

# A new item's vector and the id of its embedder.
NewVector = tuple[str, np.ndarray | bytes]


@dataclass(frozen=True, slots=True)
class VectorGroup:
    """The items of one embedder in an index.

    Attributes:
        rows: Positions of the items in the index.
        matrix: ``(len(rows), dims)`` float32, unit-length rows.
    """

    rows: np.ndarray
    matrix: np.ndarray


def _vector_group(positions: list[int], vectors: list[np.ndarray | bytes]) -> VectorGroup:
    blobs = [v for v in vectors if isinstance(v, bytes | bytearray | memoryview)]
    if len(blobs) == len(vectors):
        dims = len(vectors[0]) - 4  # encoded size is 4 + dims (vectors module)
        matrix = decode_vectors([bytes(b) for b in blobs], dims)
    else:
        matrix = np.vstack(
            [
                decode_vectors([bytes(v)], len(v) - 4)[0]
                if isinstance(v, bytes | bytearray | memoryview)
                else np.asarray(v, dtype=np.float32).reshape(-1)
                for v in vectors
            ]
        ).astype(np.float32, copy=False)
    # Quantised vectors are not exactly unit length any more; cosine needs them to be.
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return VectorGroup(np.asarray(positions, dtype=np.int64), np.ascontiguousarray(matrix))


def checked_group(embedder_id: str, positions: list[int],
                  vectors: list[np.ndarray | bytes]) -> VectorGroup:
    """The group of ``embedder_id``'s vectors (float arrays or `vectors` bytes) at ``positions``.

    Raises:
        ValueError: The vectors differ in dimension.
    """
    try:
        return _vector_group(positions, vectors)
    except ValueError as error:
        raise ValueError(f"vectors of embedder {embedder_id!r} differ in dimension") from error


def embedder_of(groups: Mapping[str, VectorGroup], size: int) -> list[str]:
    """The embedder id of each of the ``size`` positions of an index."""
    embedders = [""] * size
    for embedder_id, group in groups.items():
        for position in group.rows.tolist():
            embedders[position] = embedder_id
    return embedders


def carried_over(groups: Mapping[str, VectorGroup], size: int,
                 sources: Sequence[int | NewVector]) -> dict[str, VectorGroup]:
    """The groups of a changed index; unchanged items keep their decoded, normalised rows.

    Args:
        groups: The groups of the index before the change.
        size: How many items that index holds.
        sources: Per position of the changed index: the item's position before the change
            (its row is reused) or the vector of a new or changed item.

    Raises:
        ValueError: Vectors of one embedder id would differ in dimension.
    """
    old_groups = {
        embedder_id: (group, np.full(size, -1, dtype=np.int64))
        for embedder_id, group in groups.items()
    }
    for group, row_of in old_groups.values():
        row_of[group.rows] = np.arange(group.rows.size)
    # Per embedder: new positions, old rows to copy (or -1) and vectors of new items.
    grouped: dict[str, tuple[list[int], list[int], list[np.ndarray | bytes]]] = {}
    embedders = embedder_of(groups, size)
    for position, source in enumerate(sources):
        if isinstance(source, int):
            embedder_id = embedders[source]
            row = int(old_groups[embedder_id][1][source])
            vector: np.ndarray | bytes | None = None
        else:
            (embedder_id, vector), row = source, -1
        group_positions, rows, vectors = grouped.setdefault(embedder_id, ([], [], []))
        group_positions.append(position)
        rows.append(row)
        if vector is not None:
            vectors.append(vector)
    vector_groups = {}
    for embedder_id, (group_positions, rows, vectors) in grouped.items():
        if not vectors:
            old = old_groups[embedder_id][0].matrix
            matrix = old[np.asarray(rows, dtype=np.int64)]
            vector_groups[embedder_id] = VectorGroup(
                np.asarray(group_positions, dtype=np.int64), np.ascontiguousarray(matrix))
            continue
        fresh = checked_group(embedder_id, list(range(len(vectors))), vectors).matrix
        row_index = np.asarray(rows, dtype=np.int64)
        reused = row_index >= 0
        matrix = np.empty((row_index.size, fresh.shape[1]), dtype=np.float32)
        if reused.any():
            if old_groups[embedder_id][0].matrix.shape[1] != fresh.shape[1]:
                raise ValueError(
                    f"vectors of embedder {embedder_id!r} differ in dimension")
            matrix[reused] = old_groups[embedder_id][0].matrix[row_index[reused]]
        matrix[~reused] = fresh
        vector_groups[embedder_id] = VectorGroup(
            np.asarray(group_positions, dtype=np.int64), matrix)
    return vector_groups
