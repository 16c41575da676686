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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import jieba

from retrieval.analysis import index_terms
from retrieval.chunking import Passage, chunk
from retrieval.collection import Collection, DocumentRecord
from retrieval.documents import build_document
from retrieval.loading import SourceText
from retrieval.lucene_scoring import LuceneIndex, Ranking
from retrieval.metadata import Metadata
from retrieval.ranking import BM25Index, IndexBuilder

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


def analyse(source: SourceText, override: Metadata | None, doc_index: int) -> AnalysedDocument:
    document = build_document(source, override)
    passages = chunk(document, doc_index)
    rows = []
    for passage in passages:
        terms = index_terms(passage.text(document))
        counts = Counter(terms)
        rows.append((_TERM_SEPARATOR.join(counts), list(counts.values()), len(terms)))
    record = DocumentRecord(document.doc_id, document.title, document.source, document.date, document.url)
    return AnalysedDocument(record, document.text, passages, rows)


# Set in the parent before forking: workers read the sources from here rather
# than receive them through a pipe.
_SOURCES: Sequence[SourceText] = ()
_CATALOG: dict[str, Metadata] = {}


def _analyse_at(index: int) -> AnalysedDocument:
    source = _SOURCES[index]
    return analyse(source, _CATALOG.get(source.doc_id), index)


def _analysed(sources: Sequence[SourceText], catalog: dict[str, Metadata], workers: int) -> Iterator[AnalysedDocument]:
    global _SOURCES, _CATALOG
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for index, source in enumerate(sources):
            yield analyse(source, catalog.get(source.doc_id), index)
        return
    jieba.initialize()
    _SOURCES, _CATALOG = sources, catalog
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            yield from pool.imap(_analyse_at, range(len(sources)), chunksize=16)
    finally:
        _SOURCES, _CATALOG = (), {}


def analysed_documents(
    sources: Sequence[SourceText], catalog: dict[str, Metadata] | None = None, workers: int | None = None
) -> Iterator[AnalysedDocument]:
    """Each source analysed, in order (in worker processes for a large collection): for exports (issue 14)."""
    if workers is None:
        large = sum(len(s.text) for s in sources) >= PARALLEL_CHARACTERS
        workers = (os.cpu_count() or 1) if large else 1
    return _analysed(sources, catalog or {}, workers)


def build_index(
    sources: Sequence[SourceText],
    catalog: dict[str, Metadata] | None = None,
    workers: int | None = None,
    progress: bool = False,
    ranking: Ranking = Ranking.EXACT,
) -> tuple[Collection, BM25Index | LuceneIndex]:
    """The collection and BM25 index of `sources`.

    `workers`: processes for analysis (default: one per core for a large
    collection, none for a small one). `progress`: show a bar on stderr for a
    build that lasts more than a couple of seconds. `ranking`: the scorer the
    index is built for (issue 14: "lucene" scores as Lucene/OpenSearch do).
    """
    catalog = catalog or {}
    if workers is None:
        large = sum(len(s.text) for s in sources) >= PARALLEL_CHARACTERS
        workers = (os.cpu_count() or 1) if large else 1
    records: list[DocumentRecord] = []
    texts: list[str] = []
    passages: list[Passage] = []
    builder = IndexBuilder()
    analysed = _analysed(sources, catalog, workers)
    if progress:
        analysed = _with_progress(analysed, len(sources))
    for document in analysed:
        records.append(document.record)
        texts.append(document.text)
        passages.extend(document.passages)
        for joined, counts, length in document.terms:
            builder.add_counts(joined.split(_TERM_SEPARATOR) if joined else [], counts, length)
    collection = Collection.from_parts(records, texts, passages)
    del texts, passages  # the collection holds them in arrays now; free the objects before the index
    if ranking == Ranking.LUCENE:
        return collection, LuceneIndex.from_postings(*builder.finish_postings())
    return collection, builder.finish()


def _with_progress(items: Iterator[AnalysedDocument], total: int) -> Iterator[AnalysedDocument]:
    from tqdm import tqdm

    yield from tqdm(
        items, total=total, unit="篇", desc="建立索引", delay=PROGRESS_DELAY_SECONDS, file=sys.stderr, leave=False
    )
