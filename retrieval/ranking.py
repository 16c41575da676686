"""Index terms to ranked passages: BM25 scoring with rank-bm25.

rank-bm25's BM25Okapi gives a term in half or more of the passages a zero or
negative IDF, floored at a fraction of the average IDF, which on a corpus of a
few passages can itself be zero or negative: then a passage that matches ranks
no higher than one that does not. The IDF here is Lucene's,
log(1 + (N - df + 0.5) / (df + 0.5)), positive for every term; the rest of the
scoring is BM25Okapi's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rank_bm25 import BM25Okapi

K1 = 1.5
B = 0.75


class PositiveIdfBM25(BM25Okapi):
    """BM25Okapi with an IDF that is positive for every term."""

    def _calc_idf(self, nd: dict[str, int]) -> None:
        for word, freq in nd.items():
            self.idf[word] = math.log(1.0 + (self.corpus_size - freq + 0.5) / (freq + 0.5))
        self.average_idf = sum(self.idf.values()) / len(self.idf) if self.idf else 0.0


class Ranker:
    """BM25 over a list of passages' terms, with a fixed tie order."""

    def __init__(self, passage_terms: Sequence[list[str]]) -> None:
        self._bm25 = PositiveIdfBM25(list(passage_terms), k1=K1, b=B)
        self.size = len(passage_terms)

    def idf(self, term: str) -> float:
        """The term's IDF, 0.0 for a term in no passage."""
        return self._bm25.idf.get(term, 0.0)

    def document_frequency(self, term: str) -> int:
        return self._document_frequencies().get(term, 0)

    def _document_frequencies(self) -> dict[str, int]:
        if not hasattr(self, "_df"):
            df: dict[str, int] = {}
            for frequencies in self._bm25.doc_freqs:
                for term in frequencies:
                    df[term] = df.get(term, 0) + 1
            self._df = df
        return self._df

    def contains(self, index: int, term: str) -> bool:
        return term in self._bm25.doc_freqs[index]

    def scores(self, terms: list[str]) -> np.ndarray:
        """The score of every passage for `terms`."""
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float64)

    def top(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """Up to `k` (passage index, score) with a positive score, best first.

        Ties are broken by corpus order, so the same question always gives the
        same ranking.
        """
        if k <= 0 or not terms:
            return []
        scores = self.scores(terms)
        candidates = np.flatnonzero(scores > 0)
        if candidates.size == 0:
            return []
        order = np.lexsort((candidates, -scores[candidates]))[:k]
        return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]
