"""Retrieval quality of the memory engine on LoCoMo (dev split): hybrid vs embedding vs BM25.

For each conversation, every observation fact becomes one memory (verbatim, dated by its
session). Questions of categories 1-4 that have evidence are asked; a retrieved fact is
relevant when its evidence dialog ids intersect the question's. Prints recall@5, recall@10 and
hit@5 per mode (overall and per category) with timings, plus the ranking latency over 10k
memories.

    uv run python benchmarks/memory_eval.py [--data PATH] [--embedder local|hashing ...] [--tune]
                                             [--cross-validate]

The data set is read from ``shared/data`` (CC BY-NC 4.0; see its README), never copied here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from voice_agent.memory.embedding import Embedder, HashingEmbedder, LocalMiniLMEmbedder
from voice_agent.memory.ranking import (
    DEFAULT_WEIGHTS,
    HybridWeights,
    IndexItem,
    MemoryIndex,
    SearchMode,
)
from voice_agent.memory.vectors import encode_vector

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "locomo-dev.json"
DIA_ID_PATTERN = re.compile(r"D:?(\d+):(\d+)")
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
MODES: tuple[SearchMode, ...] = ("hybrid", "embedding", "bm25")
DEPTH = 10


@dataclass
class Fact:
    id: str
    text: str
    evidence: frozenset[tuple[int, int]]
    updated_at: float


@dataclass
class Question:
    text: str
    category: int
    evidence: frozenset[tuple[int, int]]
    relevant: frozenset[str] = field(default_factory=frozenset)


@dataclass
class Conversation:
    sample_id: str
    facts: list[Fact]
    questions: list[Question]


def parse_dia_ids(evidence: object) -> frozenset[tuple[int, int]]:
    """Dialog ids in any of the data's evidence shapes (string, list, malformed strings)."""
    text = " ".join(evidence) if isinstance(evidence, list) else str(evidence)
    return frozenset((int(s), int(t)) for s, t in DIA_ID_PATTERN.findall(text))


def parse_session_time(value: str) -> float:
    """``"1:56 pm on 8 May, 2023"`` -> unix seconds."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").timestamp()


def load_conversations(path: Path) -> list[Conversation]:
    conversations = []
    for sample in json.loads(path.read_text(encoding="utf-8")):
        sample_id = sample["sample_id"]
        facts: list[Fact] = []
        for session_key, by_speaker in sample["observation"].items():
            session = session_key.removesuffix("_observation")
            updated_at = parse_session_time(sample["conversation"][f"{session}_date_time"])
            for speaker_facts in by_speaker.values():
                for text, evidence in speaker_facts:
                    facts.append(
                        Fact(f"{sample_id}:{len(facts)}", text, parse_dia_ids(evidence), updated_at)
                    )
        questions = []
        for qa in sample["qa"]:
            evidence = parse_dia_ids(qa.get("evidence") or [])
            if qa["category"] not in CATEGORY_NAMES or not evidence:
                continue
            relevant = frozenset(f.id for f in facts if f.evidence & evidence)
            questions.append(Question(qa["question"], qa["category"], evidence, relevant))
        conversations.append(Conversation(sample_id, facts, questions))
    return conversations


class PrecomputedEmbedder:
    """Serves vectors computed elsewhere, looked up by text.

    For embedders that cannot run in this environment (e.g. a wheel built for another Python):
    export the texts with ``--export-texts``, embed them there, and pass the ``.npz`` (arrays
    ``facts`` and ``questions``, rows in the exported order) with ``--vectors``.
    """

    def __init__(self, name: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.id = name
        self.dimensions = int(vectors.shape[1])
        self._by_text = {text: vectors[row] for row, text in enumerate(texts)}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self._by_text[text] for text in texts]).astype(np.float32)


def load_precomputed(path: Path, conversations: Sequence[Conversation]) -> PrecomputedEmbedder:
    arrays = np.load(path)
    texts = [f.text for c in conversations for f in c.facts]
    texts += [q.text for c in conversations for q in c.questions]
    vectors = np.vstack([arrays["facts"], arrays["questions"]])
    if vectors.shape[0] != len(texts):
        raise SystemExit(f"{path}: {vectors.shape[0]} vectors for {len(texts)} texts")
    return PrecomputedEmbedder(path.stem, texts, vectors)


def make_named_embedder(name: str) -> Embedder:
    if name == "local":
        return LocalMiniLMEmbedder()
    if name == "local-int8":
        return LocalMiniLMEmbedder("int8")
    if name == "hashing":
        return HashingEmbedder(256)
    raise SystemExit(f"unknown embedder {name!r} (local, local-int8, hashing)")


@dataclass
class Prepared:
    """Indexes and query vectors of one embedder, computed once and reused by every mode."""

    embedder_id: str
    indexes: list[MemoryIndex]
    query_vectors: list[np.ndarray]
    now: list[float]
    fact_embed_s: float
    query_embed_ms: list[float]


def prepare(conversations: Sequence[Conversation], embedder: Embedder) -> Prepared:
    indexes, query_vectors, now, query_embed_ms = [], [], [], []
    fact_embed_s = 0.0
    for conversation in conversations:
        started = time.perf_counter()
        vectors = embedder.embed([f.text for f in conversation.facts])
        fact_embed_s += time.perf_counter() - started
        items = [
            # Stored as the service stores them: int8-encoded bytes.
            IndexItem(f.id, f.text, encode_vector(v), embedder.id, f.updated_at)
            for f, v in zip(conversation.facts, vectors, strict=True)
        ]
        indexes.append(MemoryIndex.build(items))
        rows = []
        for question in conversation.questions:
            started = time.perf_counter()
            rows.append(embedder.embed([question.text])[0])
            query_embed_ms.append((time.perf_counter() - started) * 1000)
        query_vectors.append(np.vstack(rows))
        now.append(max(f.updated_at for f in conversation.facts))
    return Prepared(embedder.id, indexes, query_vectors, now, fact_embed_s, query_embed_ms)


@dataclass
class Scores:
    recall5: float
    recall10: float
    hit5: float
    count: int


def average(rows: list[tuple[float, float, float]]) -> Scores:
    if not rows:
        return Scores(0.0, 0.0, 0.0, 0)
    r5, r10, h5 = (statistics.fmean(column) for column in zip(*rows, strict=True))
    return Scores(r5, r10, h5, len(rows))


def evaluate(
    conversations: Sequence[Conversation],
    prepared: Prepared,
    mode: SearchMode,
    weights: HybridWeights = DEFAULT_WEIGHTS,
    only: Collection[int] | None = None,
) -> tuple[dict[int | str, Scores], list[float]]:
    """Scores one mode; questions without any relevant fact cannot count and are skipped.

    ``only`` restricts the run to the conversations at those positions.
    """
    per_question: dict[int | str, list[tuple[float, float, float]]] = defaultdict(list)
    search_ms = []
    for position, (conversation, index, vectors, now) in enumerate(zip(
        conversations, prepared.indexes, prepared.query_vectors, prepared.now, strict=True
    )):
        if only is not None and position not in only:
            continue
        for question, vector in zip(conversation.questions, vectors, strict=True):
            if not question.relevant:
                continue
            started = time.perf_counter()
            results = index.search(
                question.text,
                vector,
                prepared.embedder_id,
                DEPTH,
                mode=mode,
                weights=weights,
                now=now,
            )
            search_ms.append((time.perf_counter() - started) * 1000)
            ranked = [memory_id for memory_id, _ in results]
            found5 = len(question.relevant.intersection(ranked[:5]))
            found10 = len(question.relevant.intersection(ranked[:10]))
            row = (
                found5 / len(question.relevant),
                found10 / len(question.relevant),
                1.0 if found5 else 0.0,
            )
            per_question["all"].append(row)
            per_question[question.category].append(row)
    return {key: average(rows) for key, rows in per_question.items()}, search_ms


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def print_table(title: str, results: dict[str, dict[int | str, Scores]]) -> None:
    print(f"\n{title}")
    header = f"{'slice':<14}{'n':>5}  " + "  ".join(
        f"{mode + ' R@5':>14}{'R@10':>7}{'H@5':>7}" for mode in results
    )
    print(header)
    print("-" * len(header))
    keys: list[int | str] = ["all", *CATEGORY_NAMES]
    for key in keys:
        label = "all" if key == "all" else f"{key} {CATEGORY_NAMES[int(key)]}"
        first = next(iter(results.values()))
        cells = "  ".join(
            f"{scores[key].recall5:>14.3f}{scores[key].recall10:>7.3f}{scores[key].hit5:>7.3f}"
            for scores in results.values()
        )
        print(f"{label:<14}{first[key].count:>5}  {cells}")


def weight_grid() -> list[HybridWeights]:
    grid = []
    for semantic, recency, episode, date in itertools.product(
        np.arange(0.50, 0.85, 0.05), (0.0, 0.02, 0.05), (0.0, 0.2, 0.3, 0.4, 0.5, 0.6),
        (0.0, 0.1, 0.2, 0.3, 0.4),
    ):
        lexical = 1.0 - semantic - recency
        if lexical >= 0:
            grid.append(HybridWeights(float(semantic), lexical, recency, 180.0, episode, date))
    return grid


def tune(conversations: Sequence[Conversation], prepared: Prepared) -> None:
    """Grid over fusion weights (recall@10, then recall@5); prints the best few."""
    grid = []
    for weights in weight_grid():
        scores, _ = evaluate(conversations, prepared, "hybrid", weights)
        grid.append((scores["all"].recall10, scores["all"].recall5, weights))
    grid.sort(key=lambda row: (row[0], row[1]), reverse=True)
    print(f"\nFusion grid on {prepared.embedder_id} (best 12 of {len(grid)}, by R@10 then R@5):")
    for recall10, recall5, w in grid[:12]:
        print(
            f"  semantic={w.semantic:.2f} lexical={w.lexical:.2f} recency={w.recency:.2f} "
            f"episode={w.episode:.1f} date={w.date:.1f}  R@10={recall10:.4f} R@5={recall5:.4f}"
        )


@dataclass
class Fold:
    """One conversation held out: the weights tuned on the others and what they score on it."""

    held_out: int
    weights: HybridWeights
    recall10_sum: float
    questions: int


def recall_table(conversations: Sequence[Conversation], prepared: Prepared,
                 grid: Sequence[HybridWeights]) -> list[list[tuple[float, int]]]:
    """Per weighting, per conversation: (sum of recall@10, scorable questions)."""
    table = []
    for weights in grid:
        row = []
        for position in range(len(conversations)):
            scores, _ = evaluate(conversations, prepared, "hybrid", weights, only={position})
            row.append((scores["all"].recall10 * scores["all"].count, scores["all"].count))
        table.append(row)
    return table


def leave_one_out(grid: Sequence[HybridWeights], table: Sequence[Sequence[tuple[float, int]]],
                  candidates: Collection[int] | None = None) -> tuple[float, list[Fold]]:
    """Held-out recall@10 over all questions, tuning among ``candidates`` (grid positions).

    For each conversation, the weighting with the best recall@10 on the other conversations
    is chosen and scored on the held-out one; nothing tuned ever sees the questions it is
    judged on.
    """
    chosen = sorted(candidates) if candidates is not None else list(range(len(grid)))
    folds = []
    for held_out in range(len(table[0])):
        def training_recall(row: Sequence[tuple[float, int]], held_out: int = held_out) -> float:
            kept = [cell for p, cell in enumerate(row) if p != held_out]
            return sum(total for total, _ in kept) / max(sum(n for _, n in kept), 1)

        best = max(chosen, key=lambda i: training_recall(table[i]))
        total, count = table[best][held_out]
        folds.append(Fold(held_out, grid[best], total, count))
    recall = sum(f.recall10_sum for f in folds) / max(sum(f.questions for f in folds), 1)
    return recall, folds


def cross_validate(conversations: Sequence[Conversation], prepared: Prepared) -> None:
    """Leave one conversation out: tune on the others, score the held-out one.

    Guards the tuned figure against fitting the dev questions: the held-out recall is what
    weights chosen without seeing a conversation achieve on it.
    """
    grid = weight_grid()
    held_out_recall, folds = leave_one_out(grid, recall_table(conversations, prepared, grid))
    print(f"\nLeave-one-conversation-out on {prepared.embedder_id} ({len(grid)} weightings):")
    for fold in folds:
        w = fold.weights
        print(
            f"  {conversations[fold.held_out].sample_id}: tuned on the others "
            f"semantic={w.semantic:.2f} episode={w.episode:.1f} date={w.date:.1f} -> held-out "
            f"R@10 {fold.recall10_sum / max(fold.questions, 1):.3f} ({fold.questions} questions)"
        )
    bm25, _ = evaluate(conversations, prepared, "bm25")
    print(
        f"  held-out hybrid R@10 {held_out_recall:.3f} vs BM25 {bm25['all'].recall10:.3f} = "
        f"{held_out_recall / bm25['all'].recall10:.2f}x"
    )


def ranking_latency(conversations: Sequence[Conversation], size: int, dims: int) -> None:
    """Ranking cost alone (no query embedding) over ``size`` memories of ``dims`` dimensions."""
    rng = np.random.default_rng(7)
    facts = [f for c in conversations for f in c.facts]
    items = []
    for i in range(size):
        fact = facts[i % len(facts)]
        vector = rng.standard_normal(dims).astype(np.float32)
        items.append(IndexItem(f"m{i}", f"{fact.text} #{i}", encode_vector(vector), "x", 0.0))
    started = time.perf_counter()
    index = MemoryIndex.build(items)
    build_ms = (time.perf_counter() - started) * 1000
    questions = [q for c in conversations for q in c.questions][:300]
    timings = {}
    for mode in MODES:
        samples = []
        for question in questions:
            query = rng.standard_normal(dims).astype(np.float32)
            started = time.perf_counter()
            index.search(question.text, query, "x", DEPTH, mode=mode, now=1.0)
            samples.append((time.perf_counter() - started) * 1000)
        timings[mode] = samples
    print(
        f"\nRanking latency over {size} memories x {dims} dims ({len(questions)} queries, "
        f"build {build_ms:.0f} ms):"
    )
    for mode, samples in timings.items():
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        print(f"  {mode:<10} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo-dev.json path")
    parser.add_argument(
        "--embedder",
        action="append",
        choices=("local", "local-int8", "hashing"),
        help="embedder(s) to evaluate; repeat to compare (default: local)",
    )
    parser.add_argument(
        "--vectors", type=Path, help="also evaluate precomputed vectors (.npz: facts, questions)"
    )
    parser.add_argument(
        "--export-texts", type=Path, help="write the fact and question texts as JSON and stop"
    )
    parser.add_argument("--tune", action="store_true", help="also grid-search fusion weights")
    parser.add_argument(
        "--cross-validate",
        action="store_true",
        help="also tune on all but one conversation and score the held-out one, for each",
    )
    parser.add_argument(
        "--latency-size", type=int, default=10_000, help="memories in the latency test (0: skip)"
    )
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"data not found: {args.data} (use --data PATH)", file=sys.stderr)
        return 2

    conversations = load_conversations(args.data)
    if args.export_texts:
        texts = {
            "facts": [f.text for c in conversations for f in c.facts],
            "questions": [q.text for c in conversations for q in c.questions],
        }
        args.export_texts.write_text(json.dumps(texts), encoding="utf-8")
        print(f"wrote {len(texts['facts'])} facts and {len(texts['questions'])} questions")
        return 0
    questions = [q for c in conversations for q in c.questions]
    answerable = sum(1 for q in questions if q.relevant)
    print(
        f"LoCoMo dev: {len(conversations)} conversations, "
        f"{sum(len(c.facts) for c in conversations)} facts, {len(questions)} questions "
        f"(categories 1-4 with evidence), {answerable} with at least one matching fact "
        f"(the others cannot be scored and are skipped)"
    )
    embedders: list[Embedder] = [make_named_embedder(n) for n in args.embedder or ["local"]]
    if args.vectors:
        embedders.append(load_precomputed(args.vectors, conversations))
    for embedder in embedders:
        if isinstance(embedder, LocalMiniLMEmbedder):
            started = time.perf_counter()
            embedder.warm_up()
            print(f"\n{embedder.id}: model load {time.perf_counter() - started:.2f} s")
        prepared = prepare(conversations, embedder)
        facts = sum(len(c.facts) for c in conversations)
        if isinstance(embedder, PrecomputedEmbedder):
            print(f"\n{embedder.id}: precomputed vectors (no embedding timings)")
        else:
            print(
                f"{embedder.id}: embedded {facts} facts in {prepared.fact_embed_s:.2f} s "
                f"({prepared.fact_embed_s / facts * 1000:.2f} ms/fact, batched); query embedding "
                f"p50 {percentile(prepared.query_embed_ms, 50):.2f} ms, "
                f"p95 {percentile(prepared.query_embed_ms, 95):.2f} ms"
            )
        results = {}
        search_ms = {}
        for mode in MODES:
            results[mode], search_ms[mode] = evaluate(conversations, prepared, mode)
        print_table(f"Retrieval on {embedder.id} (weights {DEFAULT_WEIGHTS})", results)
        print(
            "search p50 ms: " + ", ".join(f"{m} {percentile(search_ms[m], 50):.2f}" for m in MODES)
        )
        hybrid, bm25 = results["hybrid"]["all"].recall10, results["bm25"]["all"].recall10
        ratio = hybrid / bm25 if bm25 else float("inf")
        verdict = "met" if ratio >= 1.2 else "NOT met"
        print(
            f"hybrid R@10 / BM25 R@10 = {hybrid:.3f} / {bm25:.3f} = {ratio:.2f}x "
            f"(target 1.2x: {verdict})"
        )
        print("context boosts (hybrid R@10):", end="")
        for label, weights in (
            ("neither", replace(DEFAULT_WEIGHTS, episode=0.0, date=0.0)),
            ("episodes only", replace(DEFAULT_WEIGHTS, date=0.0)),
            ("dates only", replace(DEFAULT_WEIGHTS, episode=0.0)),
            ("both", DEFAULT_WEIGHTS),
        ):
            scores, _ = evaluate(conversations, prepared, "hybrid", weights)
            print(f"  {label} {scores['all'].recall10:.3f}", end="")
        print()
        if args.tune:
            tune(conversations, prepared)
        if args.cross_validate:
            cross_validate(conversations, prepared)
    if args.latency_size > 0:
        for dims in (384, 1024):
            ranking_latency(conversations, args.latency_size, dims)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
