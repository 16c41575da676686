"""The index's terms, sorted, stored as arrays that can be memory-mapped.

A term's id is its rank in UTF-8 byte order. Beside the UTF-8 blob of all
terms, the vocabulary keeps every term's first KEY_BYTES bytes in a fixed-width
array, sorted the same way, so that numpy's searchsorted finds any number of
query terms in one call; the blob settles the rare terms that share a prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

KEY_BYTES = 16


class Vocabulary:
    """Sorted distinct terms: id <-> term, with vectorized lookups."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, keys: np.ndarray) -> None:
        self.blob = blob  # uint8: every term's UTF-8 bytes, in order
        self.offsets = offsets  # int64, len(terms) + 1
        self.keys = keys  # S{KEY_BYTES}: each term's first bytes
        self._bytes = blob.data if blob.size else memoryview(b"")

    @classmethod
    def from_sorted(cls, terms: Sequence[str]) -> Vocabulary:
        encoded = [t.encode("utf-8") for t in terms]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        keys = np.array([e[:KEY_BYTES] for e in encoded], dtype=f"S{KEY_BYTES}")
        return cls(blob, offsets, keys)

    @classmethod
    def from_terms(cls, terms: Iterable[str]) -> Vocabulary:
        return cls.from_sorted(sort_terms(set(terms)))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def term(self, index: int) -> str:
        return self._term_bytes(index).decode("utf-8")

    def _term_bytes(self, index: int) -> bytes:
        return self._bytes[self.offsets[index] : self.offsets[index + 1]].tobytes()

    def lookup(self, term: str) -> int:
        """The term's id, or -1 when no passage has it."""
        return int(self.lookup_many([term])[0])

    def lookup_many(self, terms: Sequence[str]) -> np.ndarray:
        """The ids of `terms` (-1 for unknown ones), in one vectorized search."""
        if not terms or not len(self):
            return np.full(len(terms), -1, dtype=np.int64)
        encoded = [t.encode("utf-8") for t in terms]
        wanted = np.array([e[:KEY_BYTES] for e in encoded], dtype=f"S{KEY_BYTES}")
        positions = np.searchsorted(self.keys, wanted)
        size = len(self)
        # A term of at most KEY_BYTES bytes is its key: equal keys, the same term.
        found = self.keys[np.minimum(positions, size - 1)] == wanted
        ids = np.where(found & (positions < size), positions, -1).astype(np.int64)
        for i, full in enumerate(encoded):
            if len(full) <= KEY_BYTES:
                continue
            ids[i] = -1
            position = int(positions[i])
            while position < size and self.keys[position] == wanted[i]:
                if self._term_bytes(position) == full:
                    ids[i] = position
                    break
                position += 1
        return ids

    def insertion_points(self, terms: Sequence[str]) -> np.ndarray:
        """For each term, how many terms of the vocabulary sort before it."""
        if not terms:
            return np.zeros(0, dtype=np.int64)
        encoded = [t.encode("utf-8") for t in terms]
        wanted = np.array([e[:KEY_BYTES] for e in encoded], dtype=f"S{KEY_BYTES}")
        low = np.searchsorted(self.keys, wanted, side="left")
        high = np.searchsorted(self.keys, wanted, side="right")
        points = low.astype(np.int64)
        for i, (full, lo, hi) in enumerate(zip(encoded, low.tolist(), high.tolist())):
            # Terms sharing the first KEY_BYTES bytes: compare them whole.
            points[i] = lo + sum(1 for position in range(lo, hi) if self._term_bytes(position) < full)
        return points


def sort_terms(terms: Iterable[str]) -> list[str]:
    """Terms in UTF-8 byte order, the order lookups search in.

    For valid text, code point order (Python's) and UTF-8 byte order agree.
    """
    return sorted(terms)


def sort_order(terms: list[str]) -> list[int]:
    """The positions of `terms` in the order `sort_terms` puts them."""
    return sorted(range(len(terms)), key=terms.__getitem__)
