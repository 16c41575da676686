"""Documents to passages of paragraph size.

A heading or very short line joins the paragraph below it; a paragraph broken
mid-sentence is joined again; a paragraph over MAX_PASSAGE characters is split
at sentence ends into near-equal parts. Every passage keeps the spans of the
file it is made of, so it can always show the file's own characters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrieval.cleaning import Line
from retrieval.documents import Document
from retrieval.text import Span, ends_sentence, joins_below, sentence_spans

MAX_PASSAGE = 400
SEPARATOR = "\n"
# Characters that cannot open a sentence: the line before was cut mid-sentence.
_CONTINUATION = tuple(",，、;；:：)）」』”’")
# Characters a line ends with when its sentence goes on in the next line.
_UNFINISHED = tuple(",，、;；:：")


@dataclass(frozen=True)
class Passage:
    """A passage: the spans of its document's text it is made of."""

    doc_index: int
    paragraph: int  # 1-based, among the document's paragraphs
    spans: tuple[Span, ...]

    def text(self, document: Document) -> str:
        return SEPARATOR.join(document.text[start:end] for start, end in self.spans)

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]


def _is_heading(line: Line) -> bool:
    return joins_below(line.text)


def paragraphs(lines: tuple[Line, ...] | list[Line]) -> list[list[Line]]:
    """Content lines grouped into paragraphs."""
    groups: list[list[Line]] = []
    pending: list[Line] = []  # headings waiting for the paragraph below
    for line in lines:
        if line.continues and groups and not pending:
            groups[-1].append(line)
            continue
        previous = groups[-1][-1] if groups and not pending else None
        if previous is not None and not ends_sentence(previous.text) and not _is_heading(previous):
            if line.text.startswith(_CONTINUATION) or previous.text.endswith(_UNFINISHED):
                groups[-1].append(line)
                continue
        pending.append(line)
        if not _is_heading(line):
            groups.append(pending)
            pending = []
    if pending:
        groups.append(pending)
    return groups


def _split(spans: list[Span], document: Document) -> list[tuple[Span, ...]]:
    """Cut a paragraph longer than MAX_PASSAGE at sentence ends into near-equal parts."""
    joined = SEPARATOR.join(document.text[s:e] for s, e in spans)
    if len(joined) <= MAX_PASSAGE:
        return [tuple(spans)]
    target = len(joined) / math.ceil(len(joined) / MAX_PASSAGE)
    # Map each joined position back to the file.
    positions: list[int] = []
    for i, (s, e) in enumerate(spans):
        positions.extend(range(s, e))
        if i < len(spans) - 1:
            positions.append(-1)
    cuts = []
    part_start = 0
    for _, end in sentence_spans(joined):
        if end - part_start >= target and end < len(joined):
            cuts.append(end)
            part_start = end
    parts = []
    bounds = [0] + cuts + [len(joined)]
    for lo, hi in zip(bounds, bounds[1:]):
        part_spans: list[Span] = []
        run: list[int] | None = None  # [start, end) in the file
        for position in positions[lo:hi]:
            if run is not None and position == run[1]:
                run[1] += 1
                continue
            if run is not None:
                part_spans.append(_strip(document.text, *run))
            run = [position, position + 1] if position >= 0 else None
        if run is not None:
            part_spans.append(_strip(document.text, *run))
        parts.append(tuple(span for span in part_spans if span[1] > span[0]))
    return [part for part in parts if part]


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk(document: Document, doc_index: int) -> list[Passage]:
    """The passages of `document`, in order."""
    passages = []
    for number, group in enumerate(paragraphs(document.lines), start=1):
        spans = [(line.start, line.end) for line in group]
        for part in _split(spans, document):
            passages.append(Passage(doc_index, number, part))
    return passages
