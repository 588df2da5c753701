"""Lexical retrieval: a small tokenizer and an Okapi BM25 index over short texts.

Names, places and numbers are where embeddings of short personal facts miss most, so the
retrieval fuses this signal with cosine similarity (see `voice_agent.memory.ranking`).
Term weights are precomputed at build time, so a query costs one numpy scatter-add per
distinct query term.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["BM25_B", "BM25_K1", "BM25Index", "tokenize"]

BM25_K1 = 1.2
BM25_B = 0.75

# Unicode letters/digits; apostrophes inside words are dropped ("Caroline's" -> "caroline").
_TOKEN_PATTERN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_POSSESSIVE = re.compile(r"['’]s$")

# Function words and question words: queries are questions, memories are statements.
_STOP_WORDS = frozenset(
    """
    a an the and or but of to in on at for with from by as into about
    is are was were be been being am do does did done has have had having
    i me my you your he him his she her it its we our they them their this that these those
    what when where who whom which why how there here
    not no so than then too very can could will would should may might
    """.split()
)


def _stem(token: str) -> str:
    """Light suffix stripping so that word forms meet: plurals, -ing, -ed, final -e / -y.

    "paints"/"painting" -> "paint", "dance"/"dancing" -> "danc", "story"/"stories" ->
    "stori", "movie"/"movies" -> "movi". Cruder than Porter, but on LoCoMo dev it lifts BM25
    recall@10 from 0.676 (plurals, -ing, -ed only) to 0.687, and from 0.623 without stemming.
    """
    if token.isdigit() or len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        token = token[:-3] + "y"
    elif token.endswith("sses"):
        token = token[:-2]
    elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    for suffix in ("ing", "ed"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)]
            # "running" -> "runn" -> "run"; keep "ll"/"ss"/"zz" ("called" -> "call").
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            token = stem
            break
    if len(token) > 3 and token.endswith("e"):
        token = token[:-1]
    if len(token) > 3 and token.endswith("y"):
        token = token[:-1] + "i"
    return token


def tokenize(text: str) -> list[str]:
    """Splits text into normalised terms.

    Lowercases, keeps unicode words and numbers, drops stop words and one-letter words, and
    strips common English suffixes.

    Args:
        text: Any text.

    Returns:
        The terms in order of appearance (duplicates kept).
    """
    terms = []
    for match in _TOKEN_PATTERN.finditer(text.lower()):
        word = _POSSESSIVE.sub("", match.group()).replace("'", "").replace("’", "")
        if word in _STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        terms.append(_stem(word))
    return terms


class BM25Index:
    """Okapi BM25 over a fixed list of documents.

    Postings are one flat array per field, grouped by term (compressed sparse rows): the
    documents of term ``t`` are ``_docs[_offsets[t]:_offsets[t + 1]]`` with their precomputed
    term weights alongside, so scoring a query is a few scatter-adds into one score array.
    Each document's terms are kept as (term ids, counts), so `reordered` can derive the index
    of a slightly changed document list without tokenising the unchanged documents again.
    """

    def __init__(self, documents: Sequence[str], k1: float = BM25_K1, b: float = BM25_B) -> None:
        """Builds the index.

        Args:
            documents: The texts, addressed by position in results.
            k1: Term-frequency saturation.
            b: Length normalisation strength.
        """
        self._k1, self._b = k1, b
        self._vocab: dict[str, int] = {}
        self._finish([self._encode(text) for text in documents])

    def _encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The document's distinct term ids (adding new terms to the vocabulary) and counts."""
        counts = Counter(tokenize(text))
        vocab = self._vocab
        ids = [vocab.setdefault(term, len(vocab)) for term in counts]
        return (np.array(ids, dtype=np.int64),
                np.array(list(counts.values()), dtype=np.float32))

    def _finish(self, documents: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Computes the statistics and the postings of the encoded documents."""
        k1, b = self._k1, self._b
        self._documents = documents
        self._size = size = len(documents)
        self._vocab_size = vocab_size = len(self._vocab)
        if documents:
            terms = np.concatenate([terms for terms, _ in documents])
            tf = np.concatenate([counts for _, counts in documents])
        else:
            terms, tf = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        per_doc = np.fromiter((t.size for t, _ in documents), dtype=np.int64, count=size)
        doc_of = np.repeat(np.arange(size, dtype=np.int32), per_doc)
        lengths = np.bincount(doc_of, weights=tf, minlength=size).astype(np.float32)
        average_length = float(lengths.mean()) if size and lengths.mean() > 0 else 1.0
        # Per-document BM25 denominator part that does not depend on the term.
        length_norm = k1 * (1.0 - b + b * lengths / average_length)

        order = np.argsort(terms, kind="stable")  # by term, documents ascending within a term
        terms, docs, tf = terms[order], doc_of[order], tf[order]
        df = np.bincount(terms, minlength=vocab_size)
        offsets = np.zeros(vocab_size + 1, dtype=np.int64)
        np.cumsum(df, out=offsets[1:])
        # The "+1" idf variant (Lucene) stays positive for terms in most documents.
        idf = np.log(1.0 + (size - df + 0.5) / (df + 0.5)).astype(np.float32)
        self._offsets = offsets.tolist()
        self._docs = docs
        self._weights = (idf[terms] * tf * np.float32(k1 + 1.0)
                         / (tf + length_norm[docs])).astype(np.float32)

    def reordered(self, documents: Sequence[int | str]) -> BM25Index:
        """A new index over another document list, reusing this index's tokenised documents.

        Args:
            documents: Per new position, either the position of a document of this index
                (reused as is) or a new text (tokenised now).

        Returns:
            An index equal to ``BM25Index`` built from the corresponding texts.
        """
        other = BM25Index.__new__(BM25Index)
        other._k1, other._b = self._k1, self._b
        # A copy: this index stays immutable for readers in other threads. Terms no document
        # uses any more keep their ids; their postings are empty.
        other._vocab = dict(self._vocab)
        own = self._documents
        other._finish([own[doc] if isinstance(doc, int) else other._encode(doc)
                       for doc in documents])
        return other

    def __len__(self) -> int:
        return self._size

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (0 where no term matches).

        Args:
            query: Query text, tokenized like the documents.

        Returns:
            float32 array of length ``len(self)``.
        """
        result = np.zeros(self._size, dtype=np.float32)
        for term, count in Counter(tokenize(query)).items():
            term_id = self._vocab.get(term)
            if term_id is None or term_id >= self._vocab_size:
                continue
            start, end = self._offsets[term_id], self._offsets[term_id + 1]
            if start < end:
                # Document indices in one posting are unique, so plain fancy-index add is safe.
                result[self._docs[start:end]] += self._weights[start:end] * count
        return result
