"""The reference scorer: rank-bm25's BM25Okapi with the positive (Lucene) IDF the index uses."""

from __future__ import annotations

from rank_bm25 import BM25Okapi

from retrieval.ranking import idf_of


class PositiveIdfBM25(BM25Okapi):
    """BM25Okapi with an IDF that is positive for every term."""

    def _calc_idf(self, nd: dict[str, int]) -> None:
        for word, freq in nd.items():
            self.idf[word] = idf_of(freq, self.corpus_size)
        self.average_idf = sum(self.idf.values()) / len(self.idf) if self.idf else 0.0
