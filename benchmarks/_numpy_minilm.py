"""The numpy forward pass of all-MiniLM-L6-v2 the local embedder ran before onnxruntime.

Kept only as the reference `bench_embedding.py` measures the ONNX graph against (speed, and
cosine to it); nothing in the product imports it. One BLAS thread, as the embedder ran it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from voice_agent.memory.embedding.local import read_checked_model_files

_MINILM_LAYERS = 6
_MINILM_HEADS = 12
_MINILM_HIDDEN = 384
_MINILM_MAX_TOKENS = 256
_MINILM_LAYER_NORM_EPS = 1e-12


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

    def __init__(self) -> None:
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer

        files = read_checked_model_files()
        weights = load_safetensors(files["model.safetensors"])
        tokenizer_json = files["tokenizer.json"].decode("utf-8")

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


def embed(model: _MiniLMModel, texts: Sequence[str]) -> np.ndarray:
    """Embeds texts one batch at a time with one BLAS thread; unit rows."""
    ids, mask = model.tokenize(texts)
    with threadpool_limits(limits=1, user_api="blas"):
        pooled = model.encode(ids, mask)
    norms: np.ndarray = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: np.ndarray = pooled / np.maximum(norms, 1e-12)
    return result


def load() -> _MiniLMModel:
    """Loads the weights (about 2 s)."""
    return _MiniLMModel()
