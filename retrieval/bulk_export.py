"""Analysed documents to OpenSearch documents: the index definition and bulk (NDJSON) lines.

One OpenSearch document per passage holds the passage's analysed terms joined
by spaces (the only indexed text: a whitespace analyzer and BM25 with our k1
and b score it as the "lucene" ranking mode does), its text and its citation
fields, stored. One more per source document holds what `:sources` lists; it
has no terms, so it counts in no BM25 statistic (Lucene's N is the number of
documents that have the field).

The same functions serve the single-process push and the distributed build
(bench/spark_bulk.py), so both write the same bytes for the same passage.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator
from dataclasses import dataclass

from retrieval.analysis import Analyzer
from retrieval.chunking import SEPARATOR
from retrieval.indexing import AnalysedDocument
from retrieval.ranking import K1, B
from retrieval.text import line_range, line_starts, noise_spans

FORMAT = 2  # 2: passages carry their line range and the file's exact text (citations)
TERMS_FIELD = "terms"
PASSAGE = "passage"
DOCUMENT = "document"
SIMILARITY = "zhdocqa_bm25"
ANALYZER = "zhdocqa_terms"


def versions(analyzer: Analyzer) -> dict[str, str]:
    """What decides the tokens (the analyzer's fingerprint, jieba and OpenCC releases): a query must match."""
    found = {"analyzer": analyzer.fingerprint}
    for distribution in ("jieba", "opencc"):
        try:
            found[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            found[distribution] = "?"
    return found


def index_body(shards: int, replicas: int, analyzer: Analyzer, k1: float = K1, b: float = B) -> dict:
    """The body of the create-index request: settings for loading, the mapping, our versions in _meta.

    Loading runs with no replicas and no refresh; `loaded_settings` restores them.
    """
    keyword = {"type": "keyword"}
    stored_only = {"type": "keyword", "index": False, "doc_values": False}
    number = {"type": "integer", "index": False, "doc_values": False}
    return {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "number_of_replicas": 0,
                "refresh_interval": "-1",
                "similarity": {SIMILARITY: {"type": "BM25", "k1": k1, "b": b}},
                "analysis": {"analyzer": {ANALYZER: {"type": "custom", "tokenizer": "whitespace"}}},
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"zhdocqa": {"format": FORMAT, "k1": k1, "b": b, "replicas": replicas, **versions(analyzer)}},
            "_source": {"excludes": [TERMS_FIELD]},
            "properties": {
                TERMS_FIELD: {
                    "type": "text",
                    "analyzer": ANALYZER,
                    "similarity": SIMILARITY,
                    "index_options": "freqs",
                },
                "kind": keyword,
                "passage": {"type": "long"},
                "doc": {"type": "integer"},
                "doc_id": keyword,
                "paragraph": {"type": "integer"},
                "title": stored_only,
                "source": stored_only,
                "date": stored_only,
                "url": stored_only,
                "text": {"type": "text", "index": False},
                "start": number,
                "end": number,
                "lines": number,
                "file_text": {"type": "text", "index": False},
                "hidden": number,
                "passages": number,
            },
        },
    }


def loaded_settings(replicas: int) -> dict:
    """The settings an index gets once loaded, before it is served."""
    return {"index": {"number_of_replicas": replicas, "refresh_interval": "1s"}}


@dataclass(frozen=True)
class BulkItem:
    """One document to index: its _id and its source."""

    id: str
    source: dict


def records(document: AnalysedDocument, doc: int, first_passage: int) -> Iterator[BulkItem]:
    """The OpenSearch documents of one analysed document: its passages, then itself.

    `doc` is the document's number in corpus order, `first_passage` the number
    of its first passage (passages are numbered across the whole corpus, in
    order: ties rank by this number, as the local modes rank by passage order).
    """
    citation = document.record.to_json()
    starts = line_starts(document.text)
    for offset, (passage, (terms, counts)) in enumerate(zip(document.passages, document.term_counts())):
        text = SEPARATOR.join(document.text[start:end] for start, end in passage.spans)
        tokens = " ".join(term for term, count in zip(terms, counts) for _ in range(count))
        number = first_passage + offset
        yield BulkItem(
            f"p{number}",
            {
                "kind": PASSAGE,
                "passage": number,
                "doc": doc,
                **citation,
                "paragraph": passage.paragraph,
                "text": text,
                "start": passage.start,
                "end": passage.end,
                "lines": list(line_range(starts, passage.start, passage.end)),
                "file_text": document.text[passage.start : passage.end],
                "hidden": [list(span) for span in noise_spans(text)],
                TERMS_FIELD: tokens,
            },
        )
    yield BulkItem(f"d{doc}", {"kind": DOCUMENT, "doc": doc, **citation, "passages": len(document.passages)})


def ndjson(items: Iterator[BulkItem]) -> Iterator[str]:
    """Bulk-API lines (action, then source) with no index named: POST them to /{index}/_bulk."""
    for item in items:
        yield json.dumps({"index": {"_id": item.id}}, ensure_ascii=False) + "\n"
        yield json.dumps(item.source, ensure_ascii=False, separators=(",", ":")) + "\n"


def read_ndjson(lines: Iterator[str]) -> Iterator[BulkItem]:
    """BulkItems back from bulk lines written by `ndjson`."""
    action = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        value = json.loads(line)
        if action is None:
            if not isinstance(value, dict) or "index" not in value or "_id" not in value["index"]:
                raise ValueError(f"line {number}: expected an index action, got {line[:80]!r}")
            action = value["index"]["_id"]
        else:
            yield BulkItem(action, value)
            action = None
    if action is not None:
        raise ValueError(f"the bulk file ends after the action for {action} without its document")
