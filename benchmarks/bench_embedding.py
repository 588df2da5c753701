"""The local MiniLM embedder: numpy forward pass vs onnxruntime fp32 vs int8, by thread count.

All in one run: one query (p50/p95 over --queries calls), a batch of 64 facts, the cosine of
each variant's vectors to the fp32 ONNX vectors over the LoCoMo facts and questions (or the
built-in sentences when the data set is absent), and the three similarities the
sentence-transformers quickstart publishes (0.6660, 0.1046, 0.1411); then two callers
embedding at once (as concurrent requests do) with 1 and 2 onnxruntime threads.

    uv run python benchmarks/bench_embedding.py [--queries 300] [--data PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _numpy_minilm  # noqa: E402

from voice_agent.memory.embedding.local import LocalMiniLMEmbedder  # noqa: E402

QUERY = "What did Caroline say about her adoption plans last summer?"
PUBLISHED = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "locomo-dev.json"


def timed_ms(call: Callable[[], object], repeats: int) -> list[float]:
    """Runs call repeats times after 10 warm-up calls; milliseconds per call."""
    for _ in range(10):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p(times: list[float], q: int) -> float:
    """The q-th percentile."""
    return float(np.percentile(times, q))


def corpus(path: Path) -> list[str]:
    """LoCoMo observation facts and questions, or the published sentences if absent."""
    if not path.exists():
        return PUBLISHED + [QUERY]
    texts: list[str] = []
    for sample in json.loads(path.read_text()):
        for facts in sample["observation"].values():
            for per_speaker in facts.values():
                texts.extend(str(item[0]) for item in per_speaker)
        texts.extend(str(q["question"]) for q in sample["qa"])
    return texts


def main() -> None:
    """Measures every variant and prints one line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    texts = corpus(args.data)
    facts = texts[:64]
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {len(texts)} texts for "
        f"the cosines; one query of {len(QUERY)} chars; batch of {len(facts)} facts"
    )
    started = time.perf_counter()
    reference = LocalMiniLMEmbedder("fp32", threads=1)
    reference.warm_up()
    print(f"onnx fp32 model build + session: {time.perf_counter() - started:.2f} s")
    fp32_vectors = reference.embed(texts)

    variants: list[tuple[str, Callable[[Sequence[str]], np.ndarray]]] = []
    started = time.perf_counter()
    numpy_model = _numpy_minilm.load()
    print(f"numpy model load: {time.perf_counter() - started:.2f} s")
    variants.append(
        ("numpy (before), 1 BLAS thread", lambda t: _numpy_minilm.embed(numpy_model, t))
    )
    for precision in ("fp32", "int8"):
        for threads in (1, 2):
            embedder = LocalMiniLMEmbedder(precision, threads=threads)  # type: ignore[arg-type]
            embedder.warm_up()
            variants.append((f"onnx {precision}, {threads} thread(s)", embedder.embed))

    baseline = None
    for name, embed in variants:
        query = timed_ms(lambda embed=embed: embed([QUERY]), args.queries)
        batch = timed_ms(lambda embed=embed: embed(facts), 5)
        if name.startswith("numpy"):
            vectors = np.vstack([embed(texts[i : i + 32]) for i in range(0, len(texts), 32)])
        else:
            vectors = embed(texts)
        cosine = (vectors * fp32_vectors).sum(axis=1)
        published = embed(PUBLISHED)
        similarity = published @ published.T
        baseline = baseline or statistics.median(query)
        print(
            f"{name:32s} query p50 {p(query, 50):6.2f} ms p95 {p(query, 95):6.2f} ms "
            f"({p(query, 50) / baseline:.2f}x numpy) | 64 facts {statistics.median(batch):7.1f} ms"
            f" | cosine to fp32 min {cosine.min():.5f} mean {cosine.mean():.5f} | published "
            f"{similarity[0, 1]:.4f} {similarity[0, 2]:.4f} {similarity[1, 2]:.4f}"
        )
    # What the dev server does under load: requests embedding at the same time.
    from concurrent.futures import ThreadPoolExecutor

    for threads in (1, 2):
        embedder = LocalMiniLMEmbedder("fp32", threads=threads)
        with ThreadPoolExecutor(max_workers=2) as pool:
            started = time.perf_counter()
            latencies = list(
                pool.map(
                    lambda i, e=embedder: timed_ms(
                        lambda: e.embed([f"{QUERY} {i}"]), args.queries // 2
                    ),
                    range(2),
                )
            )
            wall = time.perf_counter() - started
        merged = latencies[0] + latencies[1]
        print(
            f"two concurrent callers, onnx fp32 {threads} thread(s): query p50 {p(merged, 50):6.2f}"
            f" ms p95 {p(merged, 95):6.2f} ms, {len(merged) / wall:6.1f} queries/s"
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
