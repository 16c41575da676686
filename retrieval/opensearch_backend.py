"""Answers from a collection served by OpenSearch: the same analyzer, ranking and Answer objects.

`open_cluster` gives what a Retriever answers from (store.OpenedIndex): a
`ClusterSearch`, the ranking step (a Scorer: `top`, `document_frequency`)
answered by the cluster, and `ClusterPassages`, a view (a PassageSource) of
the passages the cluster returned, with their stored text and citation
fields. `Retriever.from_opensearch` hands both to the Retriever, whose own
code (answering.make_hits, answer, abstention) builds the hits and answers.
Queries are analysed locally by the same code that analysed the passages, so
the cluster sees the same tokens; a query is a bool of SHOULD term clauses, a
repeated term one clause boosted by its count (what Lucene's rewrite makes of
repeats), searched with dfs_query_then_fetch (every shard scores with the
statistics of all shards) and sorted by score, then passage number: Lucene's
tie order, so the ranking is the local "lucene" mode's.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from retrieval import general_idf
from retrieval.analysis import Analyzer
from retrieval.bulk_export import DOCUMENT, PASSAGE, TERMS_FIELD, versions
from retrieval.chunking import Passage
from retrieval.collection import DocumentRecord
from retrieval.errors import BackendError
from retrieval.lucene_scoring import query_boosts
from retrieval.opensearch_client import call, connect, shown_url
from retrieval.ranking import Ranking
from retrieval.results import IndexStatus
from retrieval.store import OpenedIndex

log = logging.getLogger(__name__)

MAX_CLAUSES = 1024  # OpenSearch's indices.query.bool.max_clause_count default
MAX_DOCUMENTS = 10_000  # index.max_result_window: :sources lists at most this many
SEARCH_TYPE = "dfs_query_then_fetch"
TIE_ORDER = [{"_score": {"order": "desc"}}, {"passage": {"order": "asc"}}]


def term_clauses(terms: list[str], max_clauses: int = MAX_CLAUSES) -> dict:
    """The query for `terms`: SHOULD term clauses, repeats merged into boosts.

    More distinct terms than `max_clauses` go into nested bools of at most
    `max_clauses` clauses each (the limit is per bool query).
    """
    clauses = []
    for term, count in query_boosts(terms):
        body: dict[str, Any] = {"value": term}
        if count > 1:
            body["boost"] = count
        clauses.append({"term": {TERMS_FIELD: body}})
    if len(clauses) <= max_clauses:
        return {"bool": {"should": clauses}}
    groups = [clauses[i : i + max_clauses] for i in range(0, len(clauses), max_clauses)]
    if len(groups) > max_clauses:
        raise BackendError(f"问题的检索词太多({len(clauses)} 个),超过 OpenSearch 的子句上限:请缩短问题。")
    return {"bool": {"should": [{"bool": {"should": group}} for group in groups]}}


class ClusterPassages:
    """The passages and documents the cluster has returned, as a PassageSource.

    Searches fill it; a passage asked for before any search returned it is
    fetched by its number.
    """

    def __init__(self, client: Any, url: str, index: str) -> None:
        self.client = client
        self.url = url
        self.index = index
        self._sources: dict[int, dict] = {}
        self._records: dict[int, DocumentRecord] = {}
        self._texts: dict[tuple[int, int, int], str] = {}
        self._by_start: dict[tuple[int, int], dict] = {}
        self._listing: list[tuple[DocumentRecord, int]] | None = None
        self._size: int | None = None

    def remember(self, source: dict) -> int:
        """Keep a returned passage's stored fields; its number."""
        number = int(source["passage"])
        doc = int(source["doc"])
        self._sources[number] = source
        self._records.setdefault(doc, _record(source))
        self._texts[(doc, int(source["start"]), int(source["end"]))] = source["text"]
        self._by_start[(doc, int(source["start"]))] = source
        return number

    def _search(self, what: str, body: dict) -> list[dict]:
        response = call(self.url, what, lambda: self.client.search(index=self.index, body=body))
        return [hit["_source"] for hit in response["hits"]["hits"]]

    def _source(self, index: int) -> dict:
        if index not in self._sources:
            query = {"bool": {"filter": [{"term": {"kind": PASSAGE}}, {"term": {"passage": index}}]}}
            body = {"size": 1, "query": query}
            for source in self._search("读取段落", body):
                self.remember(source)
            if index not in self._sources:
                raise BackendError(
                    f"OpenSearch {shown_url(self.url)} 的 {self.index} 中没有第 {index} 段:请重新 push。"
                )
        return self._sources[index]

    def __len__(self) -> int:
        if self._size is None:
            body = {"query": {"term": {"kind": PASSAGE}}}
            response = call(self.url, "统计段落数", lambda: self.client.count(index=self.index, body=body))
            self._size = int(response["count"])
        return self._size

    def passage(self, index: int) -> Passage:
        source = self._source(index)
        # One span from the passage's start to its end: its text is stored whole.
        return Passage(int(source["doc"]), int(source["paragraph"]), ((int(source["start"]), int(source["end"])),))

    def record(self, doc: int) -> DocumentRecord:
        """The document of a passage this view holds (every passage brings its document's citation fields)."""
        return self._records[doc]

    def text_of(self, passage: Passage) -> str:
        return self._texts[(passage.doc_index, passage.start, passage.end)]

    def passage_text(self, index: int) -> str:
        return self._source(index)["text"]

    def passage_singles(self, index: int) -> None:
        """Not stored in the cluster: highlighting segments the passage itself."""
        return None

    def is_simplified(self, index: int) -> bool:
        return False  # not recorded in the cluster: convert

    def listing(self) -> list[tuple[DocumentRecord, int]]:
        """The first MAX_DOCUMENTS documents (asked once: the REPL and the bot list them often)."""
        if self._listing is None:
            body = {"size": MAX_DOCUMENTS, "query": {"term": {"kind": DOCUMENT}}, "sort": [{"doc": {"order": "asc"}}]}
            listed = []
            for source in self._search("列出文档", body):
                record = _record(source)
                self._records.setdefault(int(source["doc"]), record)
                if int(source["passages"]):
                    listed.append((record, int(source["passages"])))
            self._listing = listed
        return self._listing

    def _stored(self, passage: Passage, field: str) -> Any:
        """A field stored with the passage at push time; a push from before it existed must be redone."""
        source = self._by_start.get((passage.doc_index, passage.start))
        if source is None or field not in source:
            raise BackendError(f"{self.index} 的段落没有 {field} 字段(由旧版本 push):请重新 push。")
        return source[field]

    def lines_of(self, passage: Passage) -> tuple[int, int]:
        first, last = self._stored(passage, "lines")
        return int(first), int(last)

    def file_text(self, passage: Passage) -> str:
        return str(self._stored(passage, "file_text"))

    def file_lines(self, doc_id: str, first: int, last: int) -> list[tuple[int, str]]:
        """The lines of the passages this view holds in that range (the cluster keeps passages, not files)."""
        found: dict[int, str] = {}
        for source in self._sources.values():
            if source["doc_id"] != doc_id or "lines" not in source:
                continue
            start_line = int(source["lines"][0])
            for offset, line in enumerate(str(source["file_text"]).splitlines()):
                if first <= start_line + offset <= last:
                    found.setdefault(start_line + offset, line)
        return sorted(found.items())

    def nearby(self, doc_id: str, paragraph: int, around: int) -> list[int]:
        body = {
            "size": MAX_DOCUMENTS,
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"kind": PASSAGE}},
                        {"term": {"doc_id": doc_id}},
                        {"range": {"paragraph": {"gte": paragraph - around, "lte": paragraph + around}}},
                    ]
                }
            },
            "sort": [{"passage": {"order": "asc"}}],
        }
        return [self.remember(source) for source in self._search("读取上下文", body)]


def _record(source: dict) -> DocumentRecord:
    return DocumentRecord(
        source["doc_id"], source["title"], source.get("source"), source.get("date"), source.get("url")
    )


class ClusterSearch:
    """The ranking step (a Scorer) answered by the cluster; the passages it returns go to `passages`."""

    def __init__(
        self, client: Any, url: str, index: str, passages: ClusterPassages, max_clauses: int = MAX_CLAUSES
    ) -> None:
        self.client = client
        self.url = url
        self.index = index
        self.passages = passages
        self.max_clauses = max_clauses
        self._frequencies: dict[str, int] = {}

    def top(self, terms: list[str], k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to `k` (passage, score), best first, ties by passage number (a mask is not supported here)."""
        if mask is not None:
            raise BackendError("OpenSearch 后端暂不支持筛选(source/since/until/doc):请在本地索引上使用筛选。")
        if k <= 0 or not terms:
            return []
        tokens = [term for term, _ in query_boosts(terms)]
        filters = {str(i): {"term": {TERMS_FIELD: t}} for i, t in enumerate(tokens)}
        body = {
            "size": k,
            "query": term_clauses(terms, self.max_clauses),
            "sort": TIE_ORDER,
            "track_scores": True,
            "track_total_hits": False,
            # How many passages hold each query term: all of them match the query,
            # so this counts them exactly (the abstention check needs it).
            "aggs": {"df": {"filters": {"filters": filters}}},
        }
        response = call(
            self.url,
            "检索",
            lambda: self.client.search(index=self.index, body=body, params={"search_type": SEARCH_TYPE}),
        )
        buckets = response.get("aggregations", {}).get("df", {}).get("buckets", {})
        for i, term in enumerate(tokens):
            if str(i) in buckets:
                self._frequencies[term] = int(buckets[str(i)]["doc_count"])
        return [(self.passages.remember(hit["_source"]), float(hit["_score"])) for hit in response["hits"]["hits"]]

    def document_frequency(self, term: str) -> int:
        if term not in self._frequencies:
            body = {"query": {"term": {TERMS_FIELD: term}}}
            response = call(self.url, "统计词频", lambda: self.client.count(index=self.index, body=body))
            self._frequencies[term] = int(response["count"])
        return self._frequencies[term]


def open_cluster(
    url: str,
    index: str,
    analyzer: Analyzer,
    *,
    timeout: float | None = None,
    client: Any = None,
    max_clauses: int = MAX_CLAUSES,
) -> OpenedIndex:
    """What a Retriever answers from, for the index (or alias) `index` of the cluster at `url`.

    Raises BackendError when the cluster cannot be reached or holds no index of ours by that name.
    """
    if client is None:
        client = connect(url) if timeout is None else connect(url, timeout=timeout)
    _check_versions(client, url, index, analyzer)
    passages = ClusterPassages(client, url, index)
    search = ClusterSearch(client, url, index, passages, max_clauses)
    return OpenedIndex(passages, search, general_idf.from_jieba(), [], [], IndexStatus.REMOTE, Ranking.LUCENE)


def _check_versions(client: Any, url: str, index: str, analyzer: Analyzer) -> None:
    mapping = call(url, "读取索引", lambda: client.indices.get_mapping(index=index))
    if not mapping:
        raise BackendError(f"OpenSearch {shown_url(url)} 中没有索引或别名 {index}。")
    meta = next(iter(mapping.values())).get("mappings", {}).get("_meta", {}).get("zhdocqa")
    if meta is None:
        raise BackendError(
            f"{index} 不是 zhdocqa 建立的索引(映射中没有 _meta.zhdocqa):请用 python -m retrieval push 建立。"
        )
    ours = versions(analyzer)
    changed = [f"{key} {meta.get(key)} → {value}" for key, value in ours.items() if meta.get(key) != value]
    if changed:
        log.warning(
            "索引 %s 由另一版本的分析程序建立(%s):问题的分词可能与段落不同,请重新 push。", index, "; ".join(changed)
        )
