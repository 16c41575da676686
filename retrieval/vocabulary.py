"""The index's terms, sorted, stored as one UTF-8 blob that can be memory-mapped."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class Vocabulary:
    """Sorted distinct terms; a term's id is its rank in UTF-8 byte order.

    Lookups bisect the blob, so a saved vocabulary is used straight from the
    memory-mapped file without building a dict of millions of strings.
    """

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob  # uint8
        self.offsets = offsets  # int64, len(terms) + 1
        self._bytes = memoryview(blob) if blob.size else memoryview(b"")

    @classmethod
    def from_sorted(cls, terms: list[str]) -> Vocabulary:
        encoded = [t.encode("utf-8") for t in terms]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        return cls(blob, offsets)

    @classmethod
    def from_terms(cls, terms: Iterable[str]) -> Vocabulary:
        return cls.from_sorted(sort_terms(set(terms)))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def term(self, index: int) -> str:
        return bytes(self._bytes[self.offsets[index] : self.offsets[index + 1]]).decode("utf-8")

    def lookup(self, term: str) -> int:
        """The term's id, or -1 when no passage has it."""
        key = term.encode("utf-8")
        lo, hi = 0, len(self)
        offsets = self.offsets
        view = self._bytes
        while lo < hi:
            mid = (lo + hi) // 2
            candidate = view[offsets[mid] : offsets[mid + 1]].tobytes()
            if candidate < key:
                lo = mid + 1
            elif candidate > key:
                hi = mid
            else:
                return mid
        return -1


def sort_terms(terms: Iterable[str]) -> list[str]:
    """Terms in UTF-8 byte order, the order lookups bisect in.

    For valid text, code point order (Python's) and UTF-8 byte order agree.
    """
    return sorted(terms)


def sort_order(terms: list[str]) -> list[int]:
    """The positions of `terms` in the order `sort_terms` puts them."""
    return sorted(range(len(terms)), key=terms.__getitem__)
