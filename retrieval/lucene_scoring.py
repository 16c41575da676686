"""Lucene-compatible BM25: the scores Lucene 8 (and OpenSearch) give the same terms.

Lucene's BM25Similarity differs from rank-bm25's arithmetic in ways that
reorder close passages, so a collection served by OpenSearch ranks like the
local mode only if the local mode scores the way Lucene does:

- a passage's length is stored in one byte (`SmallFloat.intToByte4`): exact
  up to 39 terms, then 4 significant bits; scores use the decoded length;
- N is the number of passages that have at least one term (Lucene's
  docCount), avgdl is sumTotalTermFreq / docCount, both rounded to float32;
- idf is computed in double and rounded to float32; the per-term score is
  weight - weight / (1 + tf * normInverse) in float32, where weight is
  boost * idf and normInverse = 1 / (k1 (1 - b + b dl / avgdl)), Lucene 8's
  form without the constant (k1 + 1) factor;
- a term repeated in the query is one clause boosted by its count
  (BooleanQuery's rewrite sums duplicate SHOULD clauses' boosts);
- a passage's score is its clauses' float32 scores summed in double, then
  rounded to float32; ties go to the lower document id (corpus order);
- a token longer than 255 UTF-16 units is cut into pieces, as the whitespace
  tokenizer's maximum token length does, in the index and in the query.

Each posting keeps tf * normInverse (float32), the only per-posting factor
the query does not change, so a saved index has the arrays BM25Index has.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from retrieval.ranking import K1, B, BM25Index, Postings, PostingsIndex, Ranking
from retrieval.vocabulary import Vocabulary, sort_terms

MAX_TOKEN_LENGTH = 255  # UTF-16 code units, the whitespace tokenizer's default
_NUM_FREE_VALUES = 24  # intToByte4 keeps lengths below this exact


def _int4(value: int) -> int:
    """Lucene's longToInt4: 4 significant bits, the implicit top bit dropped."""
    bits = value.bit_length()
    if bits < 4:
        return value
    shift = bits - 4
    return ((value >> shift) & 0x07) | ((shift + 1) << 3)


def _from_int4(code: int) -> int:
    shift = (code >> 3) - 1
    return code & 0x07 if shift < 0 else ((code & 0x07) | 0x08) << shift


def length_to_byte(length: int) -> int:
    """The one-byte norm Lucene stores for a field of `length` tokens."""
    if length < 0:
        raise ValueError(f"a length cannot be negative: {length}")
    return length if length < _NUM_FREE_VALUES else _NUM_FREE_VALUES + _int4(length - _NUM_FREE_VALUES)


def byte_to_length(code: int) -> int:
    """The length Lucene scores with for a stored norm byte."""
    return code if code < _NUM_FREE_VALUES else _NUM_FREE_VALUES + _from_int4(code - _NUM_FREE_VALUES)


LENGTH_TABLE = np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)
_NORM_OF_SMALL = np.array([length_to_byte(i) for i in range(4096)], dtype=np.uint8)


def norm_bytes(lengths: np.ndarray) -> np.ndarray:
    """`length_to_byte` of every length (vectorized for the common short passages)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    small = lengths < len(_NORM_OF_SMALL)
    out = np.empty(len(lengths), dtype=np.uint8)
    out[small] = _NORM_OF_SMALL[lengths[small]]
    for i in np.flatnonzero(~small).tolist():
        out[i] = length_to_byte(int(lengths[i]))
    return out


def token_pieces(term: str) -> list[str]:
    """`term` as the whitespace tokenizer emits it: cut every MAX_TOKEN_LENGTH UTF-16 units."""
    if len(term) <= MAX_TOKEN_LENGTH // 2 or len(term.encode("utf-16-le")) <= 2 * MAX_TOKEN_LENGTH:
        return [term]
    pieces, start, units = [], 0, 0
    for i, char in enumerate(term):
        units += 2 if ord(char) > 0xFFFF else 1
        # The tokenizer checks after appending, so a surrogate pair may end at 256 units.
        if units >= MAX_TOKEN_LENGTH:
            pieces.append(term[start : i + 1])
            start, units = i + 1, 0
    if start < len(term):
        pieces.append(term[start:])
    return pieces


def lucene_tokens(terms: Iterable[str]) -> list[str]:
    """The tokens Lucene indexes for `terms` joined by spaces."""
    out: list[str] = []
    for term in terms:
        out.extend(token_pieces(term))
    return out


def query_boosts(terms: Iterable[str]) -> list[tuple[str, int]]:
    """Distinct query tokens with their counts, in first-seen order (the SHOULD clauses after rewrite)."""
    return list(Counter(lucene_tokens(terms)).items())


class LuceneIndex(PostingsIndex):
    """Lucene 8's BM25 over the same postings as BM25Index, with the same query interface.

    Its `weights` are float32 tf * normInverse per posting, its idf values float32.
    """

    ranking = Ranking.LUCENE

    @classmethod
    def from_postings(
        cls, vocabulary: Vocabulary, postings: Postings, lengths: np.ndarray, k1: float = K1, b: float = B
    ) -> LuceneIndex:
        vocabulary, postings, lengths = _split_long_terms(vocabulary, postings, lengths)
        size = len(lengths)
        doc_count = int(np.count_nonzero(lengths))
        total = int(lengths.sum())
        frequencies = np.diff(postings.indptr)
        # idf: double arithmetic, then (float); N - df + 0.5 and df + 0.5 as Java evaluates them.
        df = frequencies.astype(np.float64)
        idf = np.log(1.0 + (doc_count - df + 0.5) / (df + 0.5)).astype(np.float32)
        k1_32, b_32 = np.float32(k1), np.float32(b)
        average = np.float32(total / doc_count) if doc_count else np.float32(1.0)
        one = np.float32(1.0)
        # cache[i] = 1f / (k1 * ((1 - b) + b * LENGTH_TABLE[i] / avgdl)), each step a float32 operation.
        cache = one / (k1_32 * ((one - b_32) + b_32 * LENGTH_TABLE / average))
        norm_inverse = cache[norm_bytes(lengths)]
        tf = postings.counts.astype(np.float32)
        weights = tf * norm_inverse[postings.indices]
        return cls(
            vocabulary, postings.indptr, postings.indices, weights.astype(np.float32), idf, size, postings.counts,
            np.asarray(lengths, dtype=np.int64),
        )

    def scores(self, terms: list[str]) -> np.ndarray:
        """Every passage's score for `terms` (float64 holding Lucene's float32 values)."""
        sums = np.zeros(self.size, dtype=np.float64)
        clauses = query_boosts(terms)
        ids = self.vocabulary.lookup_many([term for term, _ in clauses]).tolist()
        one = np.float32(1.0)
        for t, (_, count) in zip(ids, clauses):
            if t < 0:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            weight = np.float32(count) * self.idf_values[t]
            term_scores = weight - weight / (one + self.weights[lo:hi])
            sums[self.indices[lo:hi]] += term_scores
        return sums.astype(np.float32).astype(np.float64)


def _split_long_terms(
    vocabulary: Vocabulary, postings: Postings, lengths: np.ndarray
) -> tuple[Vocabulary, Postings, np.ndarray]:
    """The postings Lucene sees when every token over MAX_TOKEN_LENGTH is cut into pieces."""
    byte_lengths = np.diff(vocabulary.offsets)
    candidates = np.flatnonzero(byte_lengths > MAX_TOKEN_LENGTH).tolist()
    long = {t: token_pieces(vocabulary.term(t)) for t in candidates}
    long = {t: pieces for t, pieces in long.items() if len(pieces) > 1}
    if not long:
        return vocabulary, postings, lengths
    import scipy.sparse

    size = len(vocabulary)
    kept = [vocabulary.term(t) for t in range(size) if t not in long]
    terms = sort_terms(set(kept) | {p for pieces in long.values() for p in pieces})
    new_id = {term: i for i, term in enumerate(terms)}
    rows, cols, values = [], [], []
    extra = np.zeros(size, dtype=np.int64)
    for t in range(size):
        if t in long:
            for piece, count in Counter(long[t]).items():
                rows.append(t)
                cols.append(new_id[piece])
                values.append(count)
            extra[t] = len(long[t]) - 1
        else:
            rows.append(t)
            cols.append(new_id[vocabulary.term(t)])
            values.append(1)
    mapping = scipy.sparse.csr_matrix((values, (rows, cols)), shape=(size, len(terms)), dtype=np.int64)
    passages = scipy.sparse.csc_matrix(
        (postings.counts.astype(np.int64), postings.indices, postings.indptr), shape=(len(lengths), size)
    )
    remapped = (passages @ mapping).tocsc()
    remapped.sort_indices()
    new_lengths = lengths.astype(np.int64) + passages @ extra
    new_postings = Postings(remapped.indptr.astype(np.int64), remapped.indices.astype(np.int32), remapped.data)
    return Vocabulary.from_sorted(terms), new_postings, new_lengths


# A scorer whose arrays a saved index holds: the same names in both modes.
LocalIndex = BM25Index | LuceneIndex


def scorer_class(ranking: Ranking) -> type[BM25Index] | type[LuceneIndex]:
    """The scorer of a ranking mode."""
    return LuceneIndex if ranking == Ranking.LUCENE else BM25Index


def finish(vocabulary: Vocabulary, postings: Postings, lengths: np.ndarray, ranking: Ranking) -> LocalIndex:
    """The index of finished postings (IndexBuilder.finish_postings) for `ranking`."""
    return scorer_class(ranking).from_postings(vocabulary, postings, lengths)
