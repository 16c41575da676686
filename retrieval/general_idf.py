"""How telling a word is in Chinese at large: jieba's IDF table, from a large general corpus.

Parsing jieba's 270k-line text table takes about a quarter of a second, so a
saved index carries the table as memory-mapped arrays and later runs skip it.
"""

from __future__ import annotations

import os
from functools import lru_cache

import jieba
import numpy as np

from retrieval.vocabulary import Vocabulary, sort_order


class GeneralIdf:
    """Word -> IDF, with the table's median for words it does not list."""

    def __init__(self, vocabulary: Vocabulary, values: np.ndarray, median: float) -> None:
        self.vocabulary = vocabulary
        self.values = values
        self.median = median

    def weight(self, word: str) -> float:
        index = self.vocabulary.lookup(word)
        return self.median if index < 0 else float(self.values[index])

    def weights(self, words: list[str]) -> dict[str, float]:
        """The weight of each word, in one lookup."""
        ids = self.vocabulary.lookup_many(words).tolist()
        return {w: self.median if i < 0 else float(self.values[i]) for w, i in zip(words, ids)}


@lru_cache(maxsize=1)
def from_jieba() -> GeneralIdf:
    """The table parsed from jieba's own data file (jieba/analyse/idf.txt)."""
    path = os.path.join(os.path.dirname(jieba.__file__), "analyse", "idf.txt")
    with open(path, encoding="utf-8") as handle:
        parts = handle.read().split()
    table = dict(zip(parts[0::2], parts[1::2]))  # a repeated word keeps its last value, as jieba does
    words = list(table)
    values = np.array([table[w] for w in words], dtype=np.float64)
    order = sort_order(words)
    # jieba's own median: the middle of the values sorted.
    median = float(np.sort(values)[len(values) // 2])
    return GeneralIdf(Vocabulary.from_sorted([words[i] for i in order]), values[order], median)
