"""Decoded files to documents: content lines plus citation metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from retrieval.cleaning import Line, clean
from retrieval.loading import SourceText
from retrieval.metadata import Metadata, find_date, find_source, find_title, find_url, merge


@dataclass(frozen=True)
class Document:
    """A document ready to cut into passages."""

    doc_id: str
    text: str  # the decoded file
    title: str
    source: str | None
    date: str | None
    url: str | None
    lines: tuple[Line, ...]  # content lines, in file order


def _is_dateline(line: Line) -> bool:
    return find_date(line) is not None


def build_document(source_text: SourceText, override: Metadata | None = None) -> Document:
    """Clean `source_text` and read its metadata; `override` (the catalog) wins."""
    cleaned = clean(source_text.text, _is_dateline)
    dateline = cleaned.lines[cleaned.header_end - 1] if cleaned.header_end else None
    if dateline is None:
        # No dateline at the top: a date label anywhere short ("发布日期:") still counts.
        dateline = next((line for line in cleaned.lines if _is_dateline(line)), None)
    dated = find_date(dateline) if dateline is not None else None
    date = dated[0] if dated is not None else None
    source = find_source(cleaned.lines, dateline)
    title = find_title(cleaned.lines, cleaned.content, cleaned.boilerplate, dateline, source)
    found = Metadata(title=title, source=source, date=date, url=find_url(source_text.text))
    metadata = merge(found, override)
    return Document(
        doc_id=source_text.doc_id,
        text=source_text.text,
        title=metadata.title or PurePosixPath(source_text.doc_id).stem,
        source=metadata.source,
        date=metadata.date,
        url=metadata.url,
        lines=tuple(cleaned.content),
    )
