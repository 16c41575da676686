"""Index terms to ranked passages: BM25 with precomputed per-term weights.

The scorer is rank-bm25's BM25Okapi with one change, the IDF: BM25Okapi gives
a term in half or more of the passages a zero or negative IDF, floored at a
fraction of the average IDF, which on a corpus of a few passages can itself be
zero or negative, so that a passage that matches ranks no higher than one that
does not. The IDF here is Lucene's, log(1 + (N - df + 0.5) / (df + 0.5)),
positive for every term (the tests compare against rank-bm25 with this IDF,
tests/auxil/reference_bm25.py).

rank-bm25 scores a query by looping in Python over every passage for each
term. `BM25Index` instead stores, for each term, the passages that hold it and
the weight it adds to each (a CSC sparse matrix, terms as columns), computed
with the same float64 expression, so a query costs only the postings of its
terms and its scores equal rank-bm25's bit for bit.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from retrieval.vocabulary import Vocabulary, sort_order

K1 = 1.5
B = 0.75
WEIGHT_CHUNK = 1 << 22
MAX_COUNT = np.iinfo(np.uint16).max


class Ranking(StrEnum):
    """How passages are scored: rank-bm25's float64 BM25 (the default), or Lucene's (lucene_scoring)."""

    EXACT = "exact"
    LUCENE = "lucene"


class Scorer(Protocol):
    """What answering needs of a ranking: BM25Index, LuceneIndex, or a cluster's search."""

    def top(self, terms: list[str], k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to `k` (passage, score) pairs, best first, ties by passage order; only where `mask` is True."""
        ...

    def document_frequency(self, term: str) -> int:
        """How many passages hold `term`."""
        ...


def idf_of(document_frequency: int, size: int) -> float:
    return math.log(1.0 + (size - document_frequency + 0.5) / (document_frequency + 0.5))


@dataclass(frozen=True)
class Postings:
    """Term-major counts: term t is in passages indices[indptr[t]:indptr[t+1]]."""

    indptr: np.ndarray  # int64, len(vocabulary) + 1
    indices: np.ndarray  # int32 passage numbers, ascending within a term
    counts: np.ndarray  # term frequencies


def postings_from_rows(term_ids: np.ndarray, counts: np.ndarray, row_ptr: np.ndarray, vocabulary_size: int) -> Postings:
    """Passage-major (term id, count) rows turned term-major.

    scipy's CSR to CSC conversion is a counting sort in C: linear time, and no
    argsort of every posting, which at a million passages would not fit.
    """
    import scipy.sparse  # only builds need it; keep it off the start-up path

    rows = scipy.sparse.csr_matrix(
        (counts, term_ids, row_ptr), shape=(len(row_ptr) - 1, vocabulary_size), copy=False
    )
    columns = rows.tocsc()
    return Postings(columns.indptr.astype(np.int64), columns.indices.astype(np.int32, copy=False), columns.data)


def _terms_of(indptr: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The term of each posting in lo..hi (postings are grouped by term, in order)."""
    first = int(np.searchsorted(indptr, lo, side="right")) - 1
    last = int(np.searchsorted(indptr, hi - 1, side="right")) - 1
    bounds = np.clip(indptr[first : last + 2], lo, hi)
    return np.repeat(np.arange(first, last + 1, dtype=np.int64), np.diff(bounds))


class PostingsIndex:
    """Per-term postings with one precomputed weight each, and what both scoring modes do with them.

    A subclass says how the weights are made (`from_postings`) and summed
    (`scores`); looking terms up and selecting the best passages are the same.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        indptr: np.ndarray,
        indices: np.ndarray,
        weights: np.ndarray,
        idf: np.ndarray,
        size: int,
        counts: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        self.vocabulary = vocabulary
        self.indptr = indptr
        self.indices = indices
        self.weights = weights
        self.idf_values = idf
        self.size = size
        # What the weights are computed from, kept so that an update can recompute
        # them for new passages without analysing the old ones again.
        self.counts = counts  # uint16, aligned with indices
        self.lengths = lengths  # int64 per passage: its number of terms

    def scores(self, terms: list[str]) -> np.ndarray:
        raise NotImplementedError

    def document_frequency(self, term: str) -> int:
        t = self.vocabulary.lookup(term)
        return 0 if t < 0 else int(self.indptr[t + 1] - self.indptr[t])

    def idf(self, term: str) -> float:
        t = self.vocabulary.lookup(term)
        return 0.0 if t < 0 else float(self.idf_values[t])

    def top(self, terms: list[str], k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to `k` (passage, score) with a positive score, best first; ties by passage order.

        `mask` (a boolean per passage) leaves out the passages where it is False
        before selecting, so the k best allowed passages are returned.
        """
        if k <= 0 or not terms:
            return []
        scores = self.scores(terms)
        if mask is not None:
            scores[~mask] = 0.0
        # Select among the passages that score at all: partitioning a million
        # mostly-zero scores costs far more than finding the non-zero ones.
        touched = np.flatnonzero(scores > 0)
        values = scores[touched]
        if touched.size > k:
            # Every passage scoring at least the k-th best score, ties included.
            threshold = np.partition(values, touched.size - k)[touched.size - k]
            keep = values >= threshold
            touched, values = touched[keep], values[keep]
        order = np.lexsort((touched, -values))[:k]
        return [(int(touched[i]), float(values[i])) for i in order]


class BM25Index(PostingsIndex):
    """BM25 scores from precomputed per-term weights, with a fixed tie order."""

    @classmethod
    def from_postings(
        cls, vocabulary: Vocabulary, postings: Postings, lengths: np.ndarray, k1: float = K1, b: float = B
    ) -> BM25Index:
        """Weights as BM25Okapi computes them: idf * tf(k1+1) / (tf + k1(1 - b + b dl/avgdl))."""
        size = len(lengths)
        # rank-bm25 takes avgdl as a Python sum over ints divided by the count.
        average = int(lengths.sum()) / size if size else 0.0
        frequencies = np.diff(postings.indptr)
        # math.log (rank-bm25's) once per distinct document frequency: a few thousand
        # values however large the vocabulary, and the same bits as term by term.
        distinct, inverse = np.unique(frequencies, return_inverse=True)
        idf = np.array([idf_of(df, size) for df in distinct.tolist()], dtype=np.float64)[inverse.reshape(-1)]
        # The same float64 expression as rank-bm25, element for element, computed a
        # slice of postings at a time so that no temporary is as large as the index.
        # A collection with no terms at all (stopwords only) has nothing to weigh.
        passage_norm = (
            k1 * (1 - b + b * lengths.astype(np.float64) / average) if average else lengths.astype(np.float64)
        )
        nnz = len(postings.indices)
        weights = np.empty(nnz, dtype=np.float64)
        for lo in range(0, nnz, WEIGHT_CHUNK):
            hi = min(lo + WEIGHT_CHUNK, nnz)
            terms = _terms_of(postings.indptr, lo, hi)
            tf = postings.counts[lo:hi].astype(np.float64)
            weights[lo:hi] = idf[terms] * (tf * (k1 + 1) / (tf + passage_norm[postings.indices[lo:hi]]))
        return cls(vocabulary, postings.indptr, postings.indices, weights, idf, size, postings.counts, lengths)

    @classmethod
    def build(cls, passage_terms: Sequence[list[str]], k1: float = K1, b: float = B) -> BM25Index:
        """The index of passages given as lists of terms (small corpora, tests)."""
        builder = IndexBuilder()
        for terms in passage_terms:
            builder.add(terms)
        return builder.finish(k1, b)

    def scores(self, terms: list[str]) -> np.ndarray:
        """The score of every passage for `terms` (repeats count, as in rank-bm25)."""
        scores = np.zeros(self.size, dtype=np.float64)
        for t in self.vocabulary.lookup_many(terms).tolist():
            if t < 0:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            # Passages are unique within a term, so fancy-index += is exact.
            scores[self.indices[lo:hi]] += self.weights[lo:hi]
        return scores


class IndexBuilder:
    """Collects passages' terms one passage at a time, in compact arrays."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._term_ids = array("i")
        self._counts = array("H")  # a term's count in a passage, capped at 16 bits
        self._row_lengths = array("q")
        self._lengths = array("q")

    def add(self, terms: list[str]) -> None:
        """Add the next passage, given as its list of terms."""
        counts = Counter(terms)
        self.add_counts(list(counts), list(counts.values()), len(terms))

    def add_counts(self, unique_terms: list[str], counts: list[int], length: int) -> None:
        """Add the next passage, given as its distinct terms, their counts and its length."""
        ids = self._ids
        self._term_ids.extend([ids.setdefault(t, len(ids)) for t in unique_terms])
        if counts and max(counts) > MAX_COUNT:
            counts = [min(c, MAX_COUNT) for c in counts]
        self._counts.extend(counts)
        self._row_lengths.append(len(unique_terms))
        self._lengths.append(length)

    def finish(self, k1: float = K1, b: float = B) -> BM25Index:
        return BM25Index.from_postings(*self.finish_postings(), k1, b)

    def finish_postings(self) -> tuple[Vocabulary, Postings, np.ndarray]:
        """The sorted vocabulary, term-major postings and passage lengths (for any scorer)."""
        inserted = list(self._ids)  # ids were handed out 0, 1, 2, ... in this order
        order = sort_order(inserted)
        terms = [inserted[i] for i in order]
        vocabulary = Vocabulary.from_sorted(terms)
        # Renumber the terms from first-seen order to their sorted ranks.
        rank = np.empty(len(terms), dtype=np.int32)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(terms), dtype=np.int32)
        del inserted, order
        self._ids = {}
        # In place, a slice at a time: a second array of every posting would be the build's peak.
        term_ids = np.frombuffer(self._term_ids, dtype=np.int32) if len(self._term_ids) else np.zeros(0, np.int32)
        for lo in range(0, len(term_ids), WEIGHT_CHUNK):
            term_ids[lo : lo + WEIGHT_CHUNK] = rank[term_ids[lo : lo + WEIGHT_CHUNK]]
        counts = np.frombuffer(self._counts, dtype=np.uint16) if len(self._counts) else np.zeros(0, np.uint16)
        self._term_ids, self._counts = array("i"), array("H")  # the views above hold the buffers until freed
        row_ptr = np.zeros(len(self._row_lengths) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(self._row_lengths, dtype=np.int64), out=row_ptr[1:])
        postings = postings_from_rows(term_ids, counts, row_ptr, len(terms))
        del term_ids, counts, row_ptr
        lengths = np.frombuffer(self._lengths, dtype=np.int64).copy()
        return vocabulary, postings, lengths
