"""Answers from a collection served by OpenSearch: the same analyzer, ranking and Answer objects.

`OpenSearchRetriever` is a Retriever whose ranking step asks the cluster; its
hits and answers are built by the Retriever's own code (the hook: it supplies
the passages' stored fields where the local Retriever reads its collection).
Queries are analysed locally by the same code that analysed the passages, so
the cluster sees the same tokens; a query is a bool of SHOULD term clauses, a
repeated term one clause boosted by its count (what Lucene's rewrite makes of
repeats), searched with dfs_query_then_fetch (every shard scores with the
statistics of all shards) and sorted by score, then passage number: Lucene's
tie order, so the ranking is the local "lucene" mode's.
"""

from __future__ import annotations

import logging
import math
from functools import cached_property
from typing import Any

from retrieval import general_idf
from retrieval.analysis import NOISE, index_terms
from retrieval.answering import highlight_spans
from retrieval.bulk_export import DOCUMENT, PASSAGE, TERMS_FIELD, versions
from retrieval.errors import BackendError
from retrieval.lucene_scoring import Ranking, query_boosts
from retrieval.opensearch_client import call, connect, shown_url
from retrieval.results import Citation, Hit
from retrieval.retriever import Context, DocumentInfo, Retriever, _checked

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


class OpenSearchIndex:
    """The ranking interface of BM25Index/LuceneIndex, answered by the cluster."""

    def __init__(self, client: Any, url: str, index: str, max_clauses: int = MAX_CLAUSES) -> None:
        self.client = client
        self.url = url
        self.index = index
        self.max_clauses = max_clauses
        self._sources: dict[int, dict] = {}
        self._frequencies: dict[str, int] = {}
        self._size: int | None = None

    def top(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """Up to `k` (passage, score), best first, ties by passage number; remembers the passages."""
        if k <= 0 or not terms:
            return []
        tokens = [term for term, _ in query_boosts(terms)]
        body = {
            "size": k,
            "query": term_clauses(terms, self.max_clauses),
            "sort": TIE_ORDER,
            "track_scores": True,
            "track_total_hits": False,
            # How many passages hold each query term: all of them match the query,
            # so this counts them exactly (the abstention check needs it).
            "aggs": {"df": {"filters": {"filters": {str(i): {"term": {TERMS_FIELD: t}} for i, t in enumerate(tokens)}}}},
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
        ranked = []
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            self._sources[int(source["passage"])] = source
            ranked.append((int(source["passage"]), float(hit["_score"])))
        return ranked

    def source(self, passage: int) -> dict:
        """The stored fields of a passage a search returned."""
        return self._sources[passage]

    def document_frequency(self, term: str) -> int:
        if term not in self._frequencies:
            body = {"query": {"term": {TERMS_FIELD: term}}}
            response = call(self.url, "统计词频", lambda: self.client.count(index=self.index, body=body))
            self._frequencies[term] = int(response["count"])
        return self._frequencies[term]

    def __len__(self) -> int:
        if self._size is None:
            body = {"query": {"term": {"kind": PASSAGE}}}
            response = call(self.url, "统计段落数", lambda: self.client.count(index=self.index, body=body))
            self._size = int(response["count"])
        return self._size

    def idf(self, term: str) -> float:
        """Lucene's idf of `term` (N counts the passages, as Lucene's docCount does)."""
        df, n = self.document_frequency(term), len(self)
        return 0.0 if df == 0 else math.log(1 + (n - df + 0.5) / (df + 0.5))


class OpenSearchRetriever(Retriever):
    """A Retriever over an index built by `python -m retrieval push`."""

    def __init__(
        self,
        url: str,
        *,
        index: str,
        client: Any = None,
        max_clauses: int = MAX_CLAUSES,
        timeout: float | None = None,
    ) -> None:
        options = {} if timeout is None else {"timeout": timeout}
        self.client = client if client is not None else connect(url, **options)
        self.url = url
        self.index_name = index
        self.folder = None
        self.index_status = "remote"
        self.ranking_mode = Ranking.LUCENE
        self.skipped = ()
        self._check_versions()
        self._collection = None
        self._index = OpenSearchIndex(self.client, url, index, max_clauses)
        self._general = general_idf.from_jieba()

    def _check_versions(self) -> None:
        mapping = call(self.url, "读取索引", lambda: self.client.indices.get_mapping(index=self.index_name))
        if not mapping:
            raise BackendError(f"OpenSearch {shown_url(self.url)} 中没有索引或别名 {self.index_name}。")
        meta = next(iter(mapping.values())).get("mappings", {}).get("_meta", {}).get("zhdocqa")
        if meta is None:
            raise BackendError(
                f"{self.index_name} 不是 zhdocqa 建立的索引(映射中没有 _meta.zhdocqa):"
                "请用 python -m retrieval push 建立。"
            )
        ours = versions()
        changed = [f"{key} {meta.get(key)} → {value}" for key, value in ours.items() if meta.get(key) != value]
        if changed:
            log.warning(
                "索引 %s 由另一版本的分析程序建立(%s):问题的分词可能与段落不同,请重新 push。",
                self.index_name,
                "; ".join(changed),
            )

    # -- what the local Retriever reads from its collection ------------------

    @cached_property
    def documents(self) -> tuple[DocumentInfo, ...]:
        """The first MAX_DOCUMENTS documents (asked once: the REPL and the bot list them often)."""
        body = {"size": MAX_DOCUMENTS, "query": {"term": {"kind": DOCUMENT}}, "sort": [{"doc": {"order": "asc"}}]}
        response = call(self.url, "列出文档", lambda: self.client.search(index=self.index_name, body=body))
        return tuple(
            DocumentInfo(
                int(s["doc"]) + 1, s["doc_id"], s["title"], s.get("source"), s.get("date"), s.get("url"), int(s["passages"])
            )
            for s in (hit["_source"] for hit in response["hits"]["hits"])
        )

    def __len__(self) -> int:
        return len(self._index)

    def passage_text(self, index: int) -> str:
        return self._index.source(index)["text"]

    def ranking(self, question: str, k: int = 5) -> list[tuple[str, int, float]]:
        ranked = self._index.top(index_terms(_checked(question)), k)
        sources = [self._index.source(i) for i, _ in ranked]
        return [(s["doc_id"], int(s["paragraph"]), score) for s, (_, score) in zip(sources, ranked)]

    def context(self, hit: Hit, around: int = 1) -> Context:
        focus = hit.citation.paragraph
        body = {
            "size": MAX_DOCUMENTS,
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"kind": PASSAGE}},
                        {"term": {"doc_id": hit.citation.doc_id}},
                        {"range": {"paragraph": {"gte": focus - around, "lte": focus + around}}},
                    ]
                }
            },
            "sort": [{"passage": {"order": "asc"}}],
        }
        response = call(self.url, "读取上下文", lambda: self.client.search(index=self.index_name, body=body))
        paragraphs: dict[int, list[str]] = {}
        for source in (h["_source"] for h in response["hits"]["hits"]):
            paragraphs.setdefault(int(source["paragraph"]), []).append(NOISE.sub("", source["text"]))
        return Context(hit.citation, focus, tuple((n, "".join(parts)) for n, parts in sorted(paragraphs.items())))

    def _hit(self, index: int, score: float, rank: int, words: list[str]) -> Hit:
        source = self._index.source(index)
        text = source["text"]
        citation = Citation(
            source["doc_id"], source["title"], source.get("source"), source.get("date"), source.get("url"),
            int(source["paragraph"]),
        )
        return Hit(
            text=text,
            score=score,
            citation=citation,
            highlights=highlight_spans(text, words),
            rank=rank,
            start=int(source["start"]),
            end=int(source["end"]),
            hidden=tuple(tuple(span) for span in source.get("hidden", [])),
        )

