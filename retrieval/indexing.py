"""Decoded files to a searchable index: documents, passages, terms, BM25 weights.

Tokenization dominates the build (jieba cuts about 140k characters a second),
so a large collection is analysed in worker processes, one per core, forked
after jieba's dictionary is loaded so that no worker loads it again.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from retrieval.analysis import Analyzer
from retrieval.chunking import Passage, chunk
from retrieval.collection import Collection, DocumentRecord
from retrieval.documents import build_document
from retrieval.loading import Skipped, SourceText
from retrieval.lucene_scoring import LocalIndex, finish
from retrieval.metadata import Metadata
from retrieval.ranking import IndexBuilder, Ranking

# Below this many characters a pool costs more than it saves.
PARALLEL_CHARACTERS = 2_000_000
# A progress bar appears once a build has run this long.
PROGRESS_DELAY_SECONDS = 2.0
_TERM_SEPARATOR = "\x00"


@dataclass(frozen=True)
class AnalysedDocument:
    """One document's record, passages and their terms, ready to index."""

    record: DocumentRecord
    text: str
    passages: list[Passage]
    terms: list[tuple[str, list[int], int]]  # per passage: joined distinct terms, counts, length

    def term_counts(self) -> Iterator[tuple[list[str], list[int]]]:
        """Per passage: its distinct terms and their counts, in first-seen order."""
        for joined, counts, _ in self.terms:
            yield (joined.split(_TERM_SEPARATOR) if joined else []), counts


def analyse(
    source: SourceText,
    override: Metadata | None,
    doc_index: int,
    analyzer: Analyzer,
    advance: Callable[[int], None] | None = None,
) -> AnalysedDocument:
    """One document analysed; `advance(n)` is told the UTF-8 bytes of the file each passage spans, once done."""
    document = build_document(source, override)
    passages = chunk(document, doc_index)
    rows = []
    for passage in passages:
        text = passage.text(document)
        terms = analyzer.terms(text)
        if advance is not None:
            advance(len(document.text[passage.start : passage.end].encode("utf-8")))
        counts = Counter(terms)
        rows.append((_TERM_SEPARATOR.join(counts), list(counts.values()), len(terms)))
    record = DocumentRecord(document.doc_id, document.title, document.source, document.date, document.url)
    return AnalysedDocument(record, document.text, passages, rows)


# Set in the parent before forking: workers read the sources from here rather
# than receive them through a pipe.
_SOURCES: Sequence[SourceText] = ()
_CATALOG: dict[str, Metadata] = {}
_ANALYZER: Analyzer | None = None


def _analyse_at(index: int) -> AnalysedDocument:
    source = _SOURCES[index]
    assert _ANALYZER is not None
    return analyse(source, _CATALOG.get(source.doc_id), index, _ANALYZER)


def _analysed(
    sources: Sequence[SourceText],
    catalog: dict[str, Metadata],
    workers: int,
    analyzer: Analyzer,
    advance: Callable[[int], None] | None = None,
) -> Iterator[AnalysedDocument]:
    global _SOURCES, _CATALOG, _ANALYZER
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        # In one process a bar can move passage by passage: one big file does not sit at 0%.
        for index, source in enumerate(sources):
            yield analyse(source, catalog.get(source.doc_id), index, analyzer, advance)
        return
    analyzer.load()
    _SOURCES, _CATALOG, _ANALYZER = sources, catalog, analyzer
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            yield from pool.imap(_analyse_at, range(len(sources)), chunksize=16)
    finally:
        _SOURCES, _CATALOG, _ANALYZER = (), {}, None


def analysed_documents(
    sources: Sequence[SourceText],
    analyzer: Analyzer,
    catalog: dict[str, Metadata] | None = None,
    workers: int | None = None,
) -> Iterator[AnalysedDocument]:
    """Each source analysed, in order (in worker processes for a large collection): for exports."""
    return _analysed(sources, catalog or {}, _workers(sources, workers), analyzer)


def _workers(sources: Sequence[SourceText], workers: int | None) -> int:
    if workers is not None:
        return workers
    large = sum(len(s.text) for s in sources) >= PARALLEL_CHARACTERS
    return (os.cpu_count() or 1) if large else 1


@dataclass(frozen=True)
class BuiltIndex:
    collection: Collection
    index: LocalIndex
    empty: list[Skipped]  # documents left with no text once page furniture was removed


def build_index(
    sources: Sequence[SourceText],
    analyzer: Analyzer,
    catalog: dict[str, Metadata] | None = None,
    workers: int | None = None,
    progress: bool = False,
    ranking: Ranking = Ranking.EXACT,
) -> BuiltIndex:
    """The collection and BM25 index of `sources`.

    `workers`: processes for analysis (default: one per core for a large
    collection, none for a small one). `progress`: show a bar on stderr for a
    build that lasts more than a couple of seconds. `ranking`: the scorer the
    index is built for ("lucene" scores as Lucene and OpenSearch do).
    """
    catalog = catalog or {}
    workers = _workers(sources, workers)
    records: list[DocumentRecord] = []
    texts: list[str] = []
    passages: list[Passage] = []
    builder = IndexBuilder()
    empty: list[Skipped] = []
    bar = _progress_bar(sources) if progress else None
    advance = bar.update if bar is not None else None
    analysed = _analysed(sources, catalog, workers, analyzer, advance)
    for document in analysed:
        if bar is not None:
            # Whatever the passages did not account for (furniture, blank lines, or all of it from a worker).
            done = sum(len(document.text[p.start : p.end].encode("utf-8")) for p in document.passages)
            bar.update(max(0, len(document.text.encode("utf-8")) - (done if workers <= 1 else 0)))
        if not document.passages:
            empty.append(Skipped(document.record.doc_id, "清理掉页面杂项(导航、版权声明等)后没有正文"))
        records.append(document.record)
        texts.append(document.text)
        passages.extend(document.passages)
        for joined, counts, length in document.terms:
            builder.add_counts(joined.split(_TERM_SEPARATOR) if joined else [], counts, length)
    if bar is not None:
        bar.close()
    collection = Collection.from_parts(records, texts, passages)
    del texts, passages  # the collection holds them in arrays now; free the objects before the index
    return BuiltIndex(collection, finish(*builder.finish_postings(), ranking), empty)


def _progress_bar(sources: Sequence[SourceText]) -> Any:
    """A bar on stderr that counts the bytes of text analysed (one big file moves it too)."""
    from tqdm import tqdm

    total = sum(len(s.text.encode("utf-8")) for s in sources)
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="建立索引",
        delay=PROGRESS_DELAY_SECONDS,
        file=sys.stderr,
        leave=False,
    )
