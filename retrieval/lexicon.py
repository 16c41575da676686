"""jieba's dictionary as saved arrays, so that a question is segmented without loading it.

Loading jieba's dictionary takes about a second, most of a one-shot `ask`. Yet
segmenting a text only ever asks the dictionary about substrings of that text
(the prefix dictionary holds every prefix of every word, at frequency 0, and
jieba stops extending a word at the first substring it lacks). A `Lexicon` is
that dictionary as a sorted, memory-mapped array: `frequencies(text)` returns
exactly the entries for the substrings of `text`, and a jieba tokenizer given
that small table and the same total cuts `text` exactly as the full one does.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

_META = "lexicon.json"
_KEYS = "keys.npy"
_FREQUENCIES = "frequencies.npy"


class Lexicon:
    """Word -> frequency (prefixes at 0), searchable without building a dict of every word."""

    def __init__(self, keys: np.ndarray, frequencies: np.ndarray, total: int, longest: int) -> None:
        self.keys = keys  # S{width}: every entry's UTF-8 bytes, sorted
        self.frequencies_array = frequencies  # int64, aligned with keys
        self.total = total
        self.longest = longest  # characters in the longest entry
        self._width = keys.dtype.itemsize

    @classmethod
    def from_frequencies(cls, frequencies: dict[str, int], total: int) -> Lexicon:
        # Code point order is UTF-8 byte order, the order the array is searched in.
        words = sorted(w for w in frequencies if w and "\x00" not in w)
        keys = np.array([w.encode("utf-8") for w in words]) if words else np.zeros(0, dtype="S1")
        values = np.array([frequencies[w] for w in words], dtype=np.int64)
        longest = max((len(w) for w in words), default=0)
        return cls(keys, values, int(total), longest)

    def frequency(self, word: str) -> int | None:
        """The entry's frequency (0 for a bare prefix), or None when the dictionary lacks it."""
        return self._lookup([word]).get(word)

    def frequencies(self, text: str) -> dict[str, int]:
        """Every substring of `text` the dictionary lists, with its frequency.

        Substrings are looked up by length, longest-so-far first: a start whose
        substring of length L is missing has no longer entry either.
        """
        found: dict[str, int] = {}
        alive: list[int] = list(range(len(text)))
        length = 1
        while alive and length <= self.longest:
            candidates = [(k, text[k : k + length]) for k in alive if k + length <= len(text)]
            known = self._lookup(list(dict.fromkeys(c for _, c in candidates)))
            found.update(known)
            alive = [k for k, c in candidates if c in known]
            length += 1
        return found

    def _lookup(self, words: list[str]) -> dict[str, int]:
        encoded = [w.encode("utf-8") for w in words]
        usable = [(w, e) for w, e in zip(words, encoded) if 0 < len(e) <= self._width and b"\x00" not in e]
        if not usable or not len(self.keys):
            return {}
        wanted = np.array([e for _, e in usable], dtype=self.keys.dtype)
        positions = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        hits = self.keys[positions] == wanted
        values = self.frequencies_array[positions]
        return {w: int(v) for (w, _), hit, v in zip(usable, hits.tolist(), values.tolist()) if hit}

    # -- saved form --------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the lexicon to `folder` (a new folder, renamed into place whole)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = folder.parent / f".{folder.name}.{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            np.save(staging / _KEYS, self.keys, allow_pickle=False)
            np.save(staging / _FREQUENCIES, self.frequencies_array, allow_pickle=False)
            meta = {"total": self.total, "longest": self.longest, "entries": len(self.keys)}
            (staging / _META).write_text(json.dumps(meta), "utf-8")
            os.rename(staging, folder)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not folder.is_dir():
                raise

    @classmethod
    def open(cls, folder: Path) -> Lexicon | None:
        """The lexicon saved in `folder`, memory-mapped; None when there is none or it does not hold together."""
        try:
            meta = json.loads((folder / _META).read_text("utf-8"))
            keys = np.load(folder / _KEYS, mmap_mode="r", allow_pickle=False)
            frequencies = np.load(folder / _FREQUENCIES, mmap_mode="r", allow_pickle=False)
            total, longest, entries = int(meta["total"]), int(meta["longest"]), int(meta["entries"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if keys.dtype.kind != "S" or len(keys) != entries or frequencies.shape != (entries,) or total <= 0:
            return None
        return cls(keys, frequencies, total, longest)
