"""int8 vector encoding: size, round trip, and that cosine rankings survive it."""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.memory.vectors import decode_vector, decode_vectors, encode_vector, encoded_size


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def test_encoded_vector_is_4_byte_scale_plus_one_byte_per_dimension() -> None:
    rng = np.random.default_rng(1)

    assert len(encode_vector(rng.standard_normal(1024))) == 1028 == encoded_size(1024)
    assert len(encode_vector(rng.standard_normal(384))) == 388 == encoded_size(384)


def test_round_trip_error_is_at_most_half_a_quantisation_step() -> None:
    vector = _unit_rows(np.random.default_rng(2).standard_normal((1, 1024)))[0]
    step = np.abs(vector).max() / 127

    decoded = decode_vector(encode_vector(vector), 1024)

    assert decoded.dtype == np.float32
    assert np.abs(decoded - vector).max() <= step / 2 + 1e-7
    assert float(decoded @ vector) / np.linalg.norm(decoded) > 0.9999


def test_decode_vectors_decodes_many_at_once_in_order() -> None:
    vectors = np.random.default_rng(3).standard_normal((5, 256)).astype(np.float32)
    blobs = [encode_vector(v) for v in vectors]

    decoded = decode_vectors(blobs, 256)

    assert decoded.shape == (5, 256)
    np.testing.assert_allclose(decoded, vectors, atol=np.abs(vectors).max() / 127)
    assert decode_vectors([], 256).shape == (0, 256)


def test_zero_vector_round_trips_to_zeros() -> None:
    np.testing.assert_array_equal(decode_vector(encode_vector(np.zeros(8)), 8), np.zeros(8))


def test_decode_rejects_blob_of_another_dimension() -> None:
    blob = encode_vector(np.ones(384))

    with pytest.raises(ValueError, match="388 bytes, expected 1028"):
        decode_vectors([blob], 1024)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf, 0.0]), np.ones((2, 2))])
def test_encode_rejects_non_finite_or_non_1d(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        encode_vector(bad)


def test_cosine_ranking_after_quantisation_matches_float32() -> None:
    # Given 2,000 memories with realistic structure (topics + noise, not pure noise, so that
    # similarities spread like real embeddings do) and 50 queries near some of them
    rng = np.random.default_rng(4)
    topics = rng.standard_normal((40, 1024))
    memories = _unit_rows(
        topics[rng.integers(0, 40, 2000)] + 0.8 * rng.standard_normal((2000, 1024))
    )
    noise = _unit_rows(rng.standard_normal((50, 1024)))
    queries = _unit_rows(memories[rng.integers(0, 2000, 50)] + 0.7 * noise)

    # When the memories are stored int8-encoded
    decoded = _unit_rows(decode_vectors([encode_vector(m) for m in memories], 1024))
    exact, approx = queries @ memories.T, queries @ decoded.T

    # Then cosines move by well under 0.01 and the top-10 lists are (nearly) the same
    assert np.abs(exact - approx).max() < 0.01
    overlap = [
        len(set(np.argsort(-e)[:10]) & set(np.argsort(-a)[:10])) / 10
        for e, a in zip(exact, approx, strict=True)
    ]
    assert np.mean(overlap) >= 0.97
    assert all(np.argmax(e) == np.argmax(a) for e, a in zip(exact, approx, strict=True))
