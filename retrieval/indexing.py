"""Decoded files to a searchable index: documents, passages, terms, BM25 weights.

Tokenization dominates the build (jieba cuts about 140k characters a second),
so a large collection is analysed in worker processes, one per core, forked
after jieba's dictionary is loaded so that no worker loads it again.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.analysis import Analyzer
from retrieval.chunking import Passage, chunk
from retrieval.collection import Collection, DocumentRecord, byte_offsets
from retrieval.documents import build_document
from retrieval.loading import Skipped, SourceText
from retrieval.lucene_scoring import LocalIndex, finish
from retrieval.metadata import Metadata
from retrieval.ranking import MAX_COUNT, IndexBuilder, Ranking, postings_from_rows
from retrieval.vocabulary import KEY_BYTES, Vocabulary

# Below this many characters a pool costs more than it saves.
PARALLEL_CHARACTERS = 2_000_000
# A progress bar appears once a build has run this long.
PROGRESS_DELAY_SECONDS = 2.0
_TERM_SEPARATOR = "\x00"
EMPTY_REASON = "清理掉页面杂项(导航、版权声明等)后没有正文"


@dataclass(frozen=True)
class AnalysedDocument:
    """One document's record, passages and their terms, ready to index."""

    record: DocumentRecord
    text: str
    passages: list[Passage]
    terms: list[tuple[str, list[int], int]]  # per passage: joined distinct terms, counts, length
    singles: list[list[int]]  # per passage: where its one-character words stand (normalized text)
    simplified: list[bool]  # per passage: the traditional-to-simplified conversion changed nothing

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
    singles = []
    simplified = []
    for passage in passages:
        analysed = analyzer.passage_terms(passage.text(document))
        if advance is not None:
            advance(len(document.text[passage.start : passage.end].encode("utf-8")))
        counts = Counter(analysed.terms)
        rows.append((_TERM_SEPARATOR.join(counts), list(counts.values()), len(analysed.terms)))
        singles.append(analysed.singles)
        simplified.append(analysed.simplified)
    record = DocumentRecord(document.doc_id, document.title, document.source, document.date, document.url)
    return AnalysedDocument(record, document.text, passages, rows, singles, simplified)


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
    analyzer.prepare(sum(len(s.text) for s in sources))
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
    # The collection's arrays, filled as documents arrive: no Python object per
    # passage and no second copy of the texts (at a million passages those
    # objects were most of the build's peak memory).
    blob = bytearray()
    text_lengths = array("q")
    passage_doc, paragraphs, span_counts, spans = array("i"), array("i"), array("q"), array("q")
    single_counts, singles = array("q"), array("i")
    passage_bytes = array("q")
    simplified = array("B")
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
            empty.append(Skipped(document.record.doc_id, EMPTY_REASON))
        doc = len(records)
        records.append(document.record)
        encoded = document.text.encode("utf-8")
        blob += encoded
        text_lengths.append(len(encoded))
        passage_bytes.extend(byte_offsets(document.text, document.passages).reshape(-1).tolist())
        simplified.extend(document.simplified)
        for passage, positions in zip(document.passages, document.singles):
            passage_doc.append(doc)
            paragraphs.append(passage.paragraph)
            span_counts.append(len(passage.spans))
            for start, end in passage.spans:
                spans.append(start)
                spans.append(end)
            single_counts.append(len(positions))
            singles.extend(positions)
        for joined, counts, length in document.terms:
            builder.add_counts(joined.split(_TERM_SEPARATOR) if joined else [], counts, length)
    if bar is not None:
        bar.close()
    collection = Collection(
        records,
        np.frombuffer(blob, dtype=np.uint8),
        _pointer(text_lengths),
        np.frombuffer(passage_doc, dtype=np.int32).copy(),
        np.frombuffer(paragraphs, dtype=np.int32).copy(),
        _pointer(span_counts),
        np.frombuffer(spans, dtype=np.int64).reshape(-1, 2).copy(),
        _pointer(single_counts),
        np.frombuffer(singles, dtype=np.int32).copy(),
        np.frombuffer(passage_bytes, dtype=np.int64).reshape(-1, 2).copy(),
        np.frombuffer(simplified, dtype=np.uint8).copy() if len(simplified) else np.zeros(0, np.uint8),
    )
    del passage_doc, paragraphs, span_counts, spans, single_counts, singles, passage_bytes, simplified
    return BuiltIndex(collection, finish(*builder.finish_postings(), ranking), empty)


def _pointer(counts: array) -> np.ndarray:
    pointer = np.zeros(len(counts) + 1, dtype=np.int64)
    if len(counts):
        np.cumsum(np.frombuffer(counts, dtype=np.int64), out=pointer[1:])
    return pointer


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


# -- updates ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """A run of consecutive documents of the new collection, with everything the arrays hold of them."""

    records: list[DocumentRecord]
    text: bytes
    text_lengths: np.ndarray  # bytes per document
    passage_doc: np.ndarray  # document numbers within the segment
    paragraphs: np.ndarray
    span_counts: np.ndarray
    spans: np.ndarray
    single_counts: np.ndarray
    singles: np.ndarray
    passage_bytes: np.ndarray
    simplified: np.ndarray
    row_lengths: np.ndarray  # distinct terms per passage
    term_ids: np.ndarray  # final term ids
    counts: np.ndarray
    lengths: np.ndarray  # terms per passage


def update_index(
    collection: Collection,
    index: LocalIndex,
    plan: Sequence[int | SourceText],
    analyzer: Analyzer,
    catalog: dict[str, Metadata] | None = None,
    workers: int | None = None,
    ranking: Ranking = Ranking.EXACT,
) -> BuiltIndex:
    """The index of a changed folder, equal array for array to a full build of it.

    `plan` lists the new collection's documents in order: a number is a document
    of `collection` kept as it was (never analysed again), a SourceText one to
    analyse. The vocabulary is the old one with the new documents' terms merged
    in and the terms no passage holds any more dropped; BM25 weights are global,
    so they are all recomputed from the kept term counts.
    """
    catalog = catalog or {}
    fresh_sources = [item for item in plan if isinstance(item, SourceText)]
    if workers is None:
        large = sum(len(s.text) for s in fresh_sources) >= PARALLEL_CHARACTERS
        workers = (os.cpu_count() or 1) if large else 1
    fresh = list(_analysed(fresh_sources, catalog, workers, analyzer))
    # Old postings passage-major: each passage's term ids (sorted) and counts.
    rows = _passage_rows(index)
    new_terms = sorted({t for document in fresh for joined, _, _ in document.terms if joined
                        for t in joined.split(_TERM_SEPARATOR)})
    vocabulary, old_to_merged, new_ids, merged_size, merged_parts = _merge_vocabulary(index.vocabulary, new_terms)
    segments: list[_Segment] = []
    fresh_iter = iter(fresh)
    run: list[int] = []
    for item in list(plan) + [None]:
        if isinstance(item, int) and (not run or item == run[-1] + 1):
            run.append(item)
            continue
        if run:
            segments.append(_kept_segment(collection, index, rows, run[0], run[-1] + 1, old_to_merged))
            run = []
        if isinstance(item, int):
            run.append(item)
        elif item is not None:
            segments.append(_fresh_segment(next(fresh_iter), new_ids))
    return _assemble(segments, vocabulary, merged_size, merged_parts, ranking)


def _passage_rows(index: LocalIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import scipy.sparse

    columns = scipy.sparse.csc_matrix(
        (np.asarray(index.counts), np.asarray(index.indices), np.asarray(index.indptr)),
        shape=(index.size, len(index.vocabulary)),
    )
    passages = columns.tocsr()
    return passages.indptr.astype(np.int64), passages.indices.astype(np.int32), passages.data


def _merge_vocabulary(
    old: Vocabulary, new_terms: list[str]
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, dict[str, int], int, tuple]:
    """Old and new terms in one sorted order: old id -> merged id, new term -> merged id."""
    known = old.lookup_many(new_terms)
    missing = [t for t, i in zip(new_terms, known.tolist()) if i < 0]
    places = old.insertion_points(missing)  # non-decreasing, as `missing` is sorted
    old_ids = np.arange(len(old), dtype=np.int64)
    old_to_merged = (old_ids + np.searchsorted(places, old_ids, side="right")).astype(np.int32)
    missing_merged = places + np.arange(len(missing), dtype=np.int64)
    new_ids = {t: int(old_to_merged[i]) for t, i in zip(new_terms, known.tolist()) if i >= 0}
    new_ids.update(zip(missing, missing_merged.tolist()))
    encoded = [t.encode("utf-8") for t in missing]
    return (
        (old.blob, old.offsets, old.keys),
        old_to_merged,
        new_ids,
        len(old) + len(missing),
        (missing_merged, encoded),
    )


def _kept_segment(
    collection: Collection, index: LocalIndex, rows: tuple[np.ndarray, np.ndarray, np.ndarray], first: int, end: int,
    old_to_merged: np.ndarray,
) -> _Segment:
    row_ptr, term_ids, counts = rows
    lo, hi = collection.doc_passages(first).start, collection.doc_passages(end - 1).stop
    t0, t1 = int(collection.text_offsets[first]), int(collection.text_offsets[end])
    s0, s1 = int(collection.span_ptr[lo]), int(collection.span_ptr[hi])
    g0, g1 = int(collection.single_ptr[lo]), int(collection.single_ptr[hi])
    r0, r1 = int(row_ptr[lo]), int(row_ptr[hi])
    return _Segment(
        records=list(collection.records[first:end]),
        text=np.asarray(collection.text_blob[t0:t1]).tobytes(),
        text_lengths=np.diff(np.asarray(collection.text_offsets[first : end + 1])),
        passage_doc=np.asarray(collection.passage_doc[lo:hi]) - first,
        paragraphs=np.asarray(collection.passage_paragraph[lo:hi]),
        span_counts=np.diff(np.asarray(collection.span_ptr[lo : hi + 1])),
        spans=np.asarray(collection.spans[s0:s1]),
        single_counts=np.diff(np.asarray(collection.single_ptr[lo : hi + 1])),
        singles=np.asarray(collection.singles[g0:g1]),
        passage_bytes=np.asarray(collection.passage_bytes[lo:hi]),
        simplified=np.asarray(collection.passage_simplified[lo:hi]),
        row_lengths=np.diff(row_ptr[lo : hi + 1]),
        term_ids=old_to_merged[term_ids[r0:r1]],
        counts=counts[r0:r1],
        lengths=np.asarray(index.lengths[lo:hi]),
    )


def _fresh_segment(document: AnalysedDocument, new_ids: dict[str, int]) -> _Segment:
    text = document.text.encode("utf-8")
    term_ids: list[int] = []
    counts: list[int] = []
    row_lengths, lengths = [], []
    for joined, passage_counts, length in document.terms:
        terms = joined.split(_TERM_SEPARATOR) if joined else []
        term_ids.extend(new_ids[t] for t in terms)
        counts.extend(passage_counts)
        row_lengths.append(len(terms))
        lengths.append(length)
    spans = [span for p in document.passages for span in p.spans]
    return _Segment(
        records=[document.record],
        text=text,
        text_lengths=np.array([len(text)], dtype=np.int64),
        passage_doc=np.zeros(len(document.passages), dtype=np.int32),
        paragraphs=np.array([p.paragraph for p in document.passages], dtype=np.int32),
        span_counts=np.array([len(p.spans) for p in document.passages], dtype=np.int64),
        spans=np.array(spans, dtype=np.int64).reshape(-1, 2),
        single_counts=np.array([len(s) for s in document.singles], dtype=np.int64),
        singles=np.array([p for s in document.singles for p in s], dtype=np.int32),
        passage_bytes=byte_offsets(document.text, document.passages),
        simplified=np.array(document.simplified, dtype=np.uint8),
        row_lengths=np.array(row_lengths, dtype=np.int64),
        term_ids=np.array(term_ids, dtype=np.int32),
        counts=np.minimum(np.array(counts, dtype=np.int64), MAX_COUNT).astype(np.uint16),
        lengths=np.array(lengths, dtype=np.int64),
    )


def _pointers(counts: list[np.ndarray]) -> np.ndarray:
    joined = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    pointer = np.zeros(len(joined) + 1, dtype=np.int64)
    np.cumsum(joined, out=pointer[1:])
    return pointer


def _assemble(
    segments: list[_Segment], old_vocabulary: tuple, merged_size: int, merged_parts: tuple, ranking: Ranking
) -> BuiltIndex:
    records = [r for s in segments for r in s.records]
    doc_starts = np.cumsum([0] + [len(s.records) for s in segments])
    passage_doc = np.concatenate(
        [s.passage_doc.astype(np.int32) + int(start) for s, start in zip(segments, doc_starts)]
        or [np.zeros(0, np.int32)]
    ).astype(np.int32)
    text_blob = np.frombuffer(b"".join(s.text for s in segments), dtype=np.uint8)
    collection = Collection(
        records,
        text_blob,
        _pointers([s.text_lengths for s in segments]),
        passage_doc,
        np.concatenate([s.paragraphs for s in segments] or [np.zeros(0, np.int32)]).astype(np.int32),
        _pointers([s.span_counts for s in segments]),
        np.concatenate([s.spans for s in segments] or [np.zeros((0, 2), np.int64)]).astype(np.int64).reshape(-1, 2),
        _pointers([s.single_counts for s in segments]),
        np.concatenate([s.singles for s in segments] or [np.zeros(0, np.int32)]).astype(np.int32),
        np.concatenate([s.passage_bytes for s in segments] or [np.zeros((0, 2), np.int64)])
        .astype(np.int64)
        .reshape(-1, 2),
        np.concatenate([s.simplified for s in segments] or [np.zeros(0, np.uint8)]).astype(np.uint8),
    )
    term_ids = np.concatenate([s.term_ids for s in segments] or [np.zeros(0, np.int32)])
    counts = np.concatenate([s.counts for s in segments] or [np.zeros(0, np.uint16)]).astype(np.uint16)
    row_ptr = _pointers([s.row_lengths for s in segments])
    lengths = np.concatenate([s.lengths for s in segments] or [np.zeros(0, np.int64)]).astype(np.int64)
    # Drop the terms no passage holds any more, and number the rest in order.
    used = np.zeros(merged_size, dtype=bool)
    used[term_ids] = True
    final = (np.cumsum(used) - 1).astype(np.int32)
    vocabulary = _compact_vocabulary(old_vocabulary, merged_size, merged_parts, used)
    postings = postings_from_rows(final[term_ids], counts, row_ptr, len(vocabulary))
    del term_ids, counts, row_ptr
    index = finish(vocabulary, postings, lengths, ranking)
    empty = [Skipped(r.doc_id, EMPTY_REASON) for r, n in zip(records, np.bincount(passage_doc, minlength=len(records)))
             if n == 0]
    return BuiltIndex(collection, index, empty)


def _compact_vocabulary(old: tuple, merged_size: int, merged_parts: tuple, used: np.ndarray) -> Vocabulary:
    """The merged vocabulary's used terms, as `Vocabulary.from_sorted` would lay them out."""
    blob, offsets, keys = (np.asarray(a) for a in old)
    places, encoded = merged_parts
    new_blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    new_lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    new_starts = len(blob) + np.concatenate([[0], np.cumsum(new_lengths)[:-1]]).astype(np.int64)
    is_new = np.zeros(merged_size, dtype=bool)
    is_new[places] = True
    starts = np.empty(merged_size, dtype=np.int64)
    lengths = np.empty(merged_size, dtype=np.int64)
    starts[~is_new] = offsets[:-1]
    lengths[~is_new] = np.diff(offsets)
    starts[is_new] = new_starts if len(encoded) else starts[is_new]
    lengths[is_new] = new_lengths
    merged_keys = np.empty(merged_size, dtype=keys.dtype)
    merged_keys[~is_new] = keys
    merged_keys[is_new] = np.array([e[:KEY_BYTES] for e in encoded], dtype=keys.dtype)
    starts, lengths, merged_keys = starts[used], lengths[used], merged_keys[used]
    combined = np.concatenate([blob, new_blob])
    out_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    gather = np.repeat(starts - out_offsets[:-1], lengths) + np.arange(int(out_offsets[-1]), dtype=np.int64)
    return Vocabulary(combined[gather].astype(np.uint8), out_offsets, merged_keys)
