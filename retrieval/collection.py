"""The documents and passages of an index, held in flat arrays.

Texts are one UTF-8 blob with per-document offsets and passages are spans in
arrays, so that a saved index is used memory-mapped, without rebuilding a
Python object per passage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from typing import Protocol

import numpy as np

from retrieval.chunking import SEPARATOR, Passage
from retrieval.text import line_range, line_starts, numbered_lines

_NUMBERS_KEPT = 4096


@dataclass(frozen=True)
class DocumentRecord:
    """What a citation says of a document."""

    doc_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None

    def to_json(self) -> dict:
        return asdict(self)


class PassageSource(Protocol):
    """What answers are built from: a local Collection, or the passages a cluster returned.

    Passage numbers are the ones a Scorer ranks; documents are numbered in corpus order.
    """

    def __len__(self) -> int:
        """The number of passages."""
        ...

    def passage(self, index: int) -> Passage: ...

    def record(self, doc: int) -> DocumentRecord: ...

    def text_of(self, passage: Passage) -> str: ...

    def passage_text(self, index: int) -> str: ...

    def passage_singles(self, index: int) -> np.ndarray | None:
        """Where the index saw one-character words in the passage (normalized text); None when unknown."""
        ...

    def is_simplified(self, index: int) -> bool:
        """True when the passage is known to need no traditional-to-simplified conversion."""
        ...

    def listing(self) -> list[tuple[DocumentRecord, int]]:
        """The documents that have passages, in corpus order, with their passage counts."""
        ...

    def nearby(self, doc_id: str, paragraph: int, around: int) -> list[int]:
        """The passages of document `doc_id` within `around` paragraphs of `paragraph`, in order."""
        ...

    def lines_of(self, passage: Passage) -> tuple[int, int]:
        """The (first, last) lines of its file the passage spans, 1-based, as an editor numbers them."""
        ...

    def file_text(self, passage: Passage) -> str:
        """The file's characters from the passage's start to its end, exactly."""
        ...

    def file_lines(self, doc_id: str, first: int, last: int) -> list[tuple[int, str]]:
        """Lines first..last of document `doc_id`'s file (clamped), numbered from 1."""
        ...


class Collection:
    """Documents (metadata and text) and their passages."""

    def __init__(
        self,
        records: list[DocumentRecord],
        text_blob: np.ndarray,
        text_offsets: np.ndarray,
        passage_doc: np.ndarray,
        passage_paragraph: np.ndarray,
        span_ptr: np.ndarray,
        spans: np.ndarray,
        single_ptr: np.ndarray,
        singles: np.ndarray,
        passage_bytes: np.ndarray,
        passage_simplified: np.ndarray,
    ) -> None:
        self.records = records
        self.text_blob = text_blob
        self.text_offsets = text_offsets
        self.passage_doc = passage_doc
        self.passage_paragraph = passage_paragraph
        self.span_ptr = span_ptr
        self.spans = spans
        # Per passage, where jieba cut a one-character content word (normalized text).
        self.single_ptr = single_ptr
        self.singles = singles
        # Per passage, the UTF-8 byte offsets of its first and last character in its
        # document's text: a hit decodes its own few hundred bytes, not the document.
        self.passage_bytes = passage_bytes
        # Per passage, 1 when normalizing it needed no traditional-to-simplified conversion.
        self.passage_simplified = passage_simplified
        self._view = text_blob.data if text_blob.size else memoryview(b"")
        self.doc_text = lru_cache(maxsize=512)(self._doc_text)
        self.doc_line_starts = lru_cache(maxsize=512)(self._compute_line_starts)
        # The passages `passage()` handed out lately, by number: a hit's lines and file text are read
        # from its own bytes without searching for it.
        self._numbers: dict[Passage, int] = {}

    def __len__(self) -> int:
        """The number of passages."""
        return len(self.passage_doc)

    def _doc_text(self, doc: int) -> str:
        return self._view[self.text_offsets[doc] : self.text_offsets[doc + 1]].tobytes().decode("utf-8")

    def _compute_line_starts(self, doc: int) -> list[int]:
        return line_starts(self.doc_text(doc))

    def lines_of(self, passage: Passage) -> tuple[int, int]:
        index = self._number_of(passage)
        if index is None:
            return line_range(self.doc_line_starts(passage.doc_index), passage.start, passage.end)
        # Line breaks counted in the bytes before the passage: no decoding of its document.
        doc = passage.doc_index
        base, limit = int(self.text_offsets[doc]), int(self.text_offsets[doc + 1])
        first, last = self.passage_bytes[index].tolist()
        data = self._view[base : min(limit, base + last + 1)].tobytes()
        final = last - 1  # the byte where the passage's last character starts
        while final > first and data[final] & 0xC0 == 0x80:
            final -= 1
        line = _line_at(data, first)
        return line, _line_at(data, max(first, final), first, line)

    def file_text(self, passage: Passage) -> str:
        index = self._number_of(passage)
        if index is None:
            return self.doc_text(passage.doc_index)[passage.start : passage.end]
        base = int(self.text_offsets[passage.doc_index])
        first, last = self.passage_bytes[index].tolist()
        return self._view[base + first : base + last].tobytes().decode("utf-8")

    def _number_of(self, passage: Passage) -> int | None:
        """The number of the stored passage `passage` is (passages are stored in document order), or None."""
        known = self._numbers.get(passage)
        if known is not None:
            return known
        passages = self.doc_passages(passage.doc_index)
        lo, hi = passages.start, passages.stop
        if lo == hi or not passage.spans or not len(self.spans):
            return None
        firsts = self.spans[np.minimum(self.span_ptr[lo:hi], len(self.spans) - 1), 0]
        index = lo + int(np.searchsorted(firsts, firsts.dtype.type(passage.start)))
        if index >= hi or self.passage(index) != passage:
            return None
        return index

    def file_lines(self, doc_id: str, first: int, last: int) -> list[tuple[int, str]]:
        doc = self._doc_numbers[doc_id]
        return numbered_lines(self.doc_text(doc), self.doc_line_starts(doc), first, last)

    def passage(self, index: int) -> Passage:
        lo, hi = int(self.span_ptr[index]), int(self.span_ptr[index + 1])
        spans = tuple((s, e) for s, e in self.spans[lo:hi].tolist())
        passage = Passage(int(self.passage_doc[index]), int(self.passage_paragraph[index]), spans)
        if len(self._numbers) >= _NUMBERS_KEPT:
            self._numbers.clear()
        self._numbers[passage] = index
        return passage

    def passage_text(self, index: int) -> str:
        """The passage's text, decoded from its own bytes of the blob."""
        base = int(self.text_offsets[int(self.passage_doc[index])])
        first, last = self.passage_bytes[index].tolist()
        region = self._view[base + first : base + last].tobytes().decode("utf-8")
        lo, hi = int(self.span_ptr[index]), int(self.span_ptr[index + 1])
        spans = self.spans[lo:hi].tolist()
        if not spans:
            return ""
        start = spans[0][0]
        return SEPARATOR.join(region[s - start : e - start] for s, e in spans)

    def text_of(self, passage: Passage) -> str:
        """The passage's text: its spans of the document, joined."""
        text = self.doc_text(passage.doc_index)
        return SEPARATOR.join(text[s:e] for s, e in passage.spans)

    def passage_singles(self, index: int) -> np.ndarray:
        """Where the passage's one-character content words stand in its normalized text."""
        return self.singles[self.single_ptr[index] : self.single_ptr[index + 1]]

    def is_simplified(self, index: int) -> bool:
        """True when the index found the passage needs no traditional-to-simplified conversion."""
        return bool(self.passage_simplified[index])

    def record(self, doc: int) -> DocumentRecord:
        return self.records[doc]

    def listing(self) -> list[tuple[DocumentRecord, int]]:
        counts = self.passage_counts()
        return [(r, int(counts[i])) for i, r in enumerate(self.records) if counts[i]]

    @cached_property
    def _doc_numbers(self) -> dict[str, int]:
        return {record.doc_id: i for i, record in enumerate(self.records)}

    def nearby(self, doc_id: str, paragraph: int, around: int) -> list[int]:
        """Raises KeyError for a doc_id the collection does not hold."""
        return [
            index
            for index in self.doc_passages(self._doc_numbers[doc_id])
            if abs(int(self.passage_paragraph[index]) - paragraph) <= around
        ]

    def passage_counts(self) -> np.ndarray:
        return np.bincount(self.passage_doc, minlength=len(self.records))

    def doc_passages(self, doc: int) -> range:
        """The passage numbers of a document (passages are stored in document order)."""
        key = self.passage_doc.dtype.type(doc)  # a key of another type would convert the whole array
        lo = int(np.searchsorted(self.passage_doc, key, side="left"))
        hi = int(np.searchsorted(self.passage_doc, key, side="right"))
        return range(lo, hi)


def _line_at(data: bytes, at: int, since: int = 0, line: int = 1) -> int:
    """The 1-based line of the character at byte `at` of UTF-8 `data`, lines ending at CRLF, LF or a lone CR.

    As `line_range` over `line_starts` numbers it: a CR just before `at` whose LF is at `at` ends no line yet.
    `line`: the line of byte `since` (<= `at`), where counting starts.
    """
    if at == since:
        return line
    breaks = data.count(b"\n", since, at)
    if b"\r" in data:
        breaks += data.count(b"\r", since, at) - data.count(b"\r\n", since, at)
        if 0 < at < len(data) and data[at - 1] == 0x0D and data[at] == 0x0A:
            breaks -= 1
    return line + breaks


def byte_offsets(text: str, passages: list[Passage]) -> np.ndarray:
    """(first, last) UTF-8 byte offsets in `text` of each passage's character span, as an (n, 2) int64 array."""
    if not passages:
        return np.zeros((0, 2), dtype=np.int64)
    bounds = np.array([(p.start, p.end) for p in passages], dtype=np.int64)
    if text.isascii():
        return bounds
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    widths = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    cumulative = np.zeros(len(points) + 1, dtype=np.int64)
    np.cumsum(widths, out=cumulative[1:])
    return cumulative[bounds]
