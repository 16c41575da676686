"""The OpenSearch backend against recorded REST exchanges (issue 14).

A fake cluster on 127.0.0.1 replays each exchange and checks every request the
backend sends, field by field, against the OpenSearch API's documented shapes;
the cases cover every request the backend makes: alias lookup, index creation,
bulk (with 429-rejected items retried), settings, refresh, count, the alias
swap, deleting the old index, the mapping check, searches with
dfs_query_then_fetch, and failures (a 5xx, a missing index, an auth failure).
A real cluster is used only when ZHDOCQA_OPENSEARCH_URL is set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from retrieval import Retriever
from retrieval.analysis import default_analyzer
from retrieval.answer_model import shipped_model
from retrieval.bulk_export import SIMILARITY, versions
from retrieval.errors import BackendError
from retrieval.lucene_scoring import query_boosts
from retrieval.opensearch_backend import SEARCH_TYPE, term_clauses
from retrieval.opensearch_client import connect
from retrieval.opensearch_push import folder_items, push
from retrieval.seeds import seeds_folder
from tests.auxil.fake_opensearch import Exchange, FakeOpenSearch, bulk_response, error_body
from tests.auxil.opensearch_shapes import problems

pytest.importorskip("opensearchpy", reason="opensearch-py is not installed (pip install '.[opensearch]')")
pytestmark = pytest.mark.e2e  # a server on 127.0.0.1

ANALYZER = default_analyzer()

ALIAS = "docs"
NEW = r"/docs-\d{14}"
QUESTION = "阿里巴巴花了多少钱入股新浪微博?"


def index_terms(text: str) -> list[str]:
    return ANALYZER.terms(text)


def question_terms(question: str) -> list[str]:
    return list(ANALYZER.question(question).terms)


@pytest.fixture(scope="module")
def seed_items():
    return list(folder_items(seeds_folder(), ANALYZER, workers=1))


@pytest.fixture(scope="module")
def local_lucene():
    return Retriever(ranking="lucene")


def _passages(items):
    return [i for i in items if i.source["kind"] == "passage"]


def _check_index_body(body):
    settings = body["settings"]["index"]
    assert settings["similarity"][SIMILARITY] == {"type": "BM25", "k1": 1.5, "b": 0.75}
    assert settings["number_of_replicas"] == 0 and settings["refresh_interval"] == "-1"
    terms = body["mappings"]["properties"]["terms"]
    assert terms["similarity"] == SIMILARITY and terms["analyzer"] in settings["analysis"]["analyzer"]
    assert body["mappings"]["_meta"]["zhdocqa"]["analyzer"] == versions(ANALYZER)["analyzer"]


def _load_exchanges(items, previous=None, bulk_statuses=None):
    """The requests of a successful push, in order, with the cluster's answers."""
    passages = len(_passages(items))

    def check_bulk(body):
        sent = {action["index"]["_id"]: doc for action, doc in zip(body[0::2], body[1::2])}
        assert len(sent) == len(items)
        for item in items:
            assert sent[item.id] == item.source

    found = {previous: {"aliases": {ALIAS: {}}}} if previous else error_body(404, "aliases_not_found_exception", "alias [docs] missing")
    exchanges = [
        Exchange("GET", f"/_alias/{ALIAS}", 200 if previous else 404, found),
        Exchange("PUT", NEW, 200, {"acknowledged": True, "shards_acknowledged": True, "index": "docs-x"}, check=_check_index_body),
    ]
    if bulk_statuses is None:
        exchanges.append(Exchange("POST", rf"{NEW}/_bulk", 200, bulk_response, check=check_bulk))
    else:
        exchanges += bulk_statuses
    exchanges += [
        Exchange("PUT", rf"{NEW}/_settings", 200, {"acknowledged": True},
                 check=lambda b: b == {"index": {"number_of_replicas": 1, "refresh_interval": "1s"}} or _fail(b)),
        Exchange("POST", rf"{NEW}/_refresh", 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}),
        Exchange("POST", rf"{NEW}/_count", 200, {"count": passages, "_shards": {"total": 1, "successful": 1}},
                 check=lambda b: b == {"query": {"term": {"kind": "passage"}}} or _fail(b)),
    ]

    def check_aliases(body):
        actions = body["actions"]
        assert actions[-1]["add"]["alias"] == ALIAS
        assert [a["remove"]["index"] for a in actions[:-1]] == ([previous] if previous else [])

    exchanges.append(Exchange("POST", "/_aliases", 200, {"acknowledged": True}, check=check_aliases))
    if previous:
        exchanges.append(Exchange("DELETE", f"/{previous}", 200, {"acknowledged": True}))
    return exchanges


def _fail(body):
    raise AssertionError(f"unexpected body {body}")


def _finished(fake):
    assert fake.errors == []
    assert fake.pending == []


def test_first_push_creates_loads_and_points_the_alias(seed_items):
    with FakeOpenSearch(_load_exchanges(seed_items)) as fake:
        report = push(connect(fake.url), fake.url, seed_items, ALIAS, ANALYZER, backoff=0)
    _finished(fake)
    assert report.passages == len(_passages(seed_items)) and report.documents == 5
    assert report.previous == [] and report.deleted == []
    created = fake.requests[1].path.lstrip("/")
    assert report.index == created
    swap = fake.requests[-1].body
    assert swap == {"actions": [{"add": {"index": created, "alias": ALIAS}}]}


def test_passages_are_sent_with_the_analyzer_tokens_and_citations(seed_items, local_lucene):
    passages = [item.source for item in _passages(seed_items)]
    assert [p["passage"] for p in passages] == list(range(len(local_lucene)))
    for number in (0, 3, len(passages) - 1):
        assert sorted(passages[number]["terms"].split(" ")) == sorted(index_terms(local_lucene.passage_text(number)))
        assert passages[number]["text"] == local_lucene.passage_text(number)
    for hit in local_lucene.search(QUESTION, k=5):
        sent = [p for p in passages if (p["doc_id"], p["start"]) == (hit.citation.doc_id, hit.start)]
        assert len(sent) == 1
        assert (sent[0]["title"], sent[0]["paragraph"], sent[0]["end"], sent[0]["text"]) == (
            hit.citation.title, hit.citation.paragraph, hit.end, hit.text)


def test_a_later_push_swaps_atomically_and_deletes_the_old_index(seed_items):
    with FakeOpenSearch(_load_exchanges(seed_items, previous="docs-20250101000000")) as fake:
        report = push(connect(fake.url), fake.url, seed_items, ALIAS, ANALYZER, backoff=0)
    _finished(fake)
    actions = fake.requests[-2].body["actions"]
    assert actions[0] == {"remove": {"index": "docs-20250101000000", "alias": ALIAS}}
    assert actions[1] == {"add": {"index": report.index, "alias": ALIAS}}  # one request: no moment without an index
    assert report.deleted == ["docs-20250101000000"]


def test_items_rejected_with_429_are_sent_again(seed_items):
    rejected = {item.id for item in seed_items[5:9]}
    attempts = []

    def first(body):
        return bulk_response(body, lambda _id: 429 if _id in rejected else 201)

    def second(body):
        attempts.append({action["index"]["_id"] for action in body[0::2]})
        return bulk_response(body)

    bulk = [Exchange("POST", rf"{NEW}/_bulk", 200, first), Exchange("POST", rf"{NEW}/_bulk", 200, second)]
    with FakeOpenSearch(_load_exchanges(seed_items, bulk_statuses=bulk)) as fake:
        push(connect(fake.url), fake.url, seed_items, ALIAS, ANALYZER, backoff=0)
    _finished(fake)
    assert attempts == [rejected]  # only the rejected items, once more


def test_a_failed_load_deletes_its_index_and_leaves_the_alias(seed_items):
    broken = seed_items[2].id
    bulk = [Exchange("POST", rf"{NEW}/_bulk", 200, lambda body: bulk_response(body, lambda i: 400 if i == broken else 201))]
    exchanges = _load_exchanges(seed_items, bulk_statuses=bulk)[:3]
    exchanges.append(Exchange("DELETE", NEW, 200, {"acknowledged": True}, query={"ignore_unavailable": "true"}))
    with FakeOpenSearch(exchanges) as fake, pytest.raises(BackendError, match=rf"1 个文档未能写入.*{broken}.*别名 docs 未改动"):
        push(connect(fake.url), fake.url, seed_items, ALIAS, ANALYZER, backoff=0)
    _finished(fake)
    assert not any(r.path == "/_aliases" for r in fake.requests)


def test_a_count_short_of_the_passages_is_never_served(seed_items):
    exchanges = _load_exchanges(seed_items)[:-1]
    exchanges[-1] = Exchange("POST", rf"{NEW}/_count", 200, {"count": 7})
    exchanges.append(Exchange("DELETE", NEW, 200, {"acknowledged": True}, query={"ignore_unavailable": "true"}))
    with FakeOpenSearch(exchanges) as fake, pytest.raises(BackendError, match="可检索的段落有 7 个"):
        push(connect(fake.url), fake.url, seed_items, ALIAS, ANALYZER, backoff=0)
    _finished(fake)


# -- searching ------------------------------------------------------------------


def _mapping_exchange(index="docs-20250101000000"):
    meta = {"zhdocqa": {"format": 1, "k1": 1.5, "b": 0.75, **versions(ANALYZER)}}
    return Exchange("GET", f"/{ALIAS}/_mapping", 200, {index: {"mappings": {"_meta": meta, "properties": {}}}})


def _asked(k: int) -> int:
    """How many passages `ask` with `k` requests: the answer model looks at its candidates whatever k is."""
    return max(k, shipped_model().candidates)


def _search_exchange(local, items, question, k):
    """What the cluster answers: the local Lucene mode's ranking, as search hits."""
    sources = {i.source["passage"]: {key: v for key, v in i.source.items() if key != "terms"} for i in _passages(items)}
    terms = question_terms(question)
    tokens = [t for t, _ in query_boosts(terms)]

    def check(body):
        assert body["query"] == term_clauses(terms)
        assert body["sort"] == [{"_score": {"order": "desc"}}, {"passage": {"order": "asc"}}]
        assert body["size"] == k
        assert [f["term"]["terms"] for f in body["aggs"]["df"]["filters"]["filters"].values()] == tokens

    def respond(body):
        ranked = local._index.top(terms, k)
        hits = [{"_index": "docs-1", "_id": f"p{n}", "_score": s, "_source": sources[n], "sort": [s, n]} for n, s in ranked]
        buckets = {str(i): {"doc_count": local._index.document_frequency(t)} for i, t in enumerate(tokens)}
        return {
            "took": 2, "timed_out": False, "_shards": {"total": 3, "successful": 3, "skipped": 0, "failed": 0},
            "hits": {"max_score": ranked[0][1] if ranked else None, "hits": hits},
            "aggregations": {"df": {"buckets": buckets}},
        }

    return Exchange("POST", f"/{ALIAS}/_search", 200, respond, query={"search_type": SEARCH_TYPE}, check=check)


def test_answers_from_opensearch_equal_the_local_lucene_answers(seed_items, local_lucene):
    exchanges = [_mapping_exchange(), _search_exchange(local_lucene, seed_items, QUESTION, _asked(5))]
    with FakeOpenSearch(exchanges) as fake:
        remote = Retriever.from_opensearch(fake.url, index=ALIAS)
        answer = remote.ask(QUESTION, k=5)
    _finished(fake)
    expected = local_lucene.ask(QUESTION, k=5)
    assert answer == expected
    assert answer.best_sentence and not answer.abstained


def test_unknown_words_abstain_as_locally(seed_items, local_lucene):
    question = "聚美优品是哪一年在纽交所上市的?"
    exchanges = [_mapping_exchange(), _search_exchange(local_lucene, seed_items, question, _asked(5))]
    with FakeOpenSearch(exchanges) as fake:
        answer = Retriever.from_opensearch(fake.url, index=ALIAS).ask(question)
    _finished(fake)
    assert answer == local_lucene.ask(question)
    assert answer.abstained and "纽交所" in answer.missing_words


def test_sources_and_context_come_from_the_stored_fields(seed_items, local_lucene):
    documents = [i for i in seed_items if i.source["kind"] == "document"]
    hit = local_lucene.search(QUESTION, k=1)[0]
    around = [i for i in _passages(seed_items)
              if i.source["doc_id"] == hit.citation.doc_id and abs(i.source["paragraph"] - hit.citation.paragraph) <= 1]

    def check_context(body):
        filters = body["query"]["bool"]["filter"]
        assert {"term": {"doc_id": hit.citation.doc_id}} in filters
        assert {"range": {"paragraph": {"gte": hit.citation.paragraph - 1, "lte": hit.citation.paragraph + 1}}} in filters

    exchanges = [
        _mapping_exchange(),
        Exchange("POST", f"/{ALIAS}/_search", 200,
                 {"hits": {"hits": [{"_id": d.id, "_score": None, "_source": d.source} for d in documents]}},
                 check=lambda b: b["query"] == {"term": {"kind": "document"}} or _fail(b)),
        Exchange("POST", f"/{ALIAS}/_search", 200,
                 {"hits": {"hits": [{"_id": p.id, "_score": None, "_source": p.source} for p in around]}}, check=check_context),
        Exchange("POST", f"/{ALIAS}/_count", 200, {"count": len(local_lucene)}),
    ]
    with FakeOpenSearch(exchanges) as fake:
        remote = Retriever.from_opensearch(fake.url, index=ALIAS)
        assert remote.documents == local_lucene.documents
        assert remote.context(hit) == local_lucene.context(hit)
        assert len(remote) == len(local_lucene)
    _finished(fake)


def test_a_passage_no_search_returned_is_fetched_by_its_number(seed_items, local_lucene):
    wanted = _passages(seed_items)[7]

    def check(body):
        assert body["query"] == {"bool": {"filter": [{"term": {"kind": "passage"}}, {"term": {"passage": 7}}]}}

    exchanges = [
        _mapping_exchange(),
        Exchange("POST", f"/{ALIAS}/_search", 200,
                 {"hits": {"hits": [{"_id": wanted.id, "_score": 0.0, "_source": wanted.source}]}}, check=check),
        Exchange("POST", f"/{ALIAS}/_search", 200, {"hits": {"hits": []}}),
    ]
    with FakeOpenSearch(exchanges) as fake:
        remote = Retriever.from_opensearch(fake.url, index=ALIAS)
        assert remote.passage_text(7) == local_lucene.passage_text(7)
        assert remote.passage_text(7) == local_lucene.passage_text(7)  # kept: asked once
        with pytest.raises(BackendError, match="没有第 99999 段"):
            remote.passage_text(99999)
    _finished(fake)


def test_a_question_over_the_clause_limit_is_split_into_nested_bools(seed_items, local_lucene):
    question = local_lucene.passage_text(0)[:60] + local_lucene.passage_text(1)[:60]
    terms = question_terms(question)
    query = term_clauses(terms, max_clauses=8)
    groups = query["bool"]["should"]
    assert len(groups) > 1 and all(len(g["bool"]["should"]) <= 8 for g in groups)
    flat = [c for g in groups for c in g["bool"]["should"]]
    assert flat == term_clauses(terms)["bool"]["should"]
    assert problems("POST", "/docs/_search", {"search_type": SEARCH_TYPE}, b'{"query": %s}' % str(query).replace("'", '"').encode()) == []
    repeated = term_clauses(["微信", "支付", "微信", "微信"])
    assert repeated == {"bool": {"should": [{"term": {"terms": {"value": "微信", "boost": 3}}},
                                            {"term": {"terms": {"value": "支付"}}}]}}


# -- failures ---------------------------------------------------------------------


def test_a_missing_index_says_to_push_first():
    exchanges = [Exchange("GET", f"/{ALIAS}/_mapping", 404,
                          error_body(404, "index_not_found_exception", "no such index [docs]", index="docs"))]
    with FakeOpenSearch(exchanges) as fake, pytest.raises(BackendError, match="找不到所需的索引.*index_not_found_exception"):
        Retriever.from_opensearch(fake.url, index=ALIAS)
    _finished(fake)


def test_an_auth_failure_says_so_without_the_password():
    exchanges = [Exchange("GET", f"/{ALIAS}/_mapping", 401, "Unauthorized", headers={"WWW-Authenticate": 'Basic realm="OpenSearch"'})]
    with FakeOpenSearch(exchanges) as fake:
        url = fake.url.replace("http://", "http://reader:s3cret@")
        with pytest.raises(BackendError, match="401") as caught:
            Retriever.from_opensearch(url, index=ALIAS)
    _finished(fake)
    assert "s3cret" not in str(caught.value) and "reader" not in str(caught.value)
    assert fake.requests[0].authorization.startswith("Basic ")


def test_server_errors_are_retried_then_reported(seed_items, local_lucene):
    unavailable = error_body(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]")
    search = _search_exchange(local_lucene, seed_items, QUESTION, _asked(5))
    busy = Exchange("POST", f"/{ALIAS}/_search", 503, unavailable, query={"search_type": SEARCH_TYPE})
    with FakeOpenSearch([_mapping_exchange(), busy, search]) as fake:
        answer = Retriever.from_opensearch(fake.url, index=ALIAS).ask(QUESTION)
    _finished(fake)
    assert answer == local_lucene.ask(QUESTION)  # one 503, then the answer
    with FakeOpenSearch([_mapping_exchange()] + [busy] * 4) as fake:
        remote = Retriever.from_opensearch(fake.url, index=ALIAS)
        with pytest.raises(BackendError, match="返回错误 503.*cluster_block_exception.*请稍后再试"):
            remote.ask(QUESTION)
    _finished(fake)
    failing = Exchange("POST", f"/{ALIAS}/_search", 500, error_body(500, "null_pointer_exception", "boom"),
                       query={"search_type": SEARCH_TYPE})
    with FakeOpenSearch([_mapping_exchange(), failing]) as fake:
        remote = Retriever.from_opensearch(fake.url, index=ALIAS)
        with pytest.raises(BackendError, match="返回错误 500"):
            remote.search(QUESTION)
    _finished(fake)


def test_an_unreachable_cluster_is_one_clear_error():
    with FakeOpenSearch([]) as fake:
        url = fake.url
    with pytest.raises(BackendError, match="无法连接 OpenSearch"):
        Retriever.from_opensearch(url, index=ALIAS, timeout=2)


# -- a real cluster ---------------------------------------------------------------


@pytest.mark.e2e
def test_a_real_cluster_ranks_as_the_local_lucene_mode(seed_items, local_lucene):
    url = os.environ.get("ZHDOCQA_OPENSEARCH_URL")
    if not url:
        pytest.skip("set ZHDOCQA_OPENSEARCH_URL to run against a real OpenSearch cluster")
    alias = f"zhdocqa-test-{uuid.uuid4().hex[:8]}"
    client = connect(url)
    report = push(client, url, seed_items, alias, ANALYZER, shards=3, replicas=0)
    try:
        remote = Retriever.from_opensearch(url, index=alias)
        for question in (QUESTION, "微信和阿里巴巴为什么互相封杀?", "新浪微博的月活跃用户有多少?"):
            got = remote.search(question, k=10)
            wanted = local_lucene.search(question, k=10)
            assert [h.citation for h in got] == [h.citation for h in wanted]
            assert [h.score for h in got] == pytest.approx([h.score for h in wanted], rel=1e-6)
    finally:
        client.indices.delete(index=report.index)


# -- the adapters ---------------------------------------------------------------


def _run_bot(*args, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update({"ZHDOCQA_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path), "PYTHONIOENCODING": "utf-8"})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], check=False, capture_output=True, text=True, env=env, timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_ask_over_opensearch_prints_the_local_lucene_answer(seed_items, local_lucene, tmp_path):
    from bot.render import answer_json

    exchanges = [_mapping_exchange(), _search_exchange(local_lucene, seed_items, QUESTION, _asked(3))]
    with FakeOpenSearch(exchanges) as fake:
        result = _run_bot("ask", QUESTION, "--k", "3", "--json", "--opensearch", fake.url, "--opensearch-index", ALIAS,
                          tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    _finished(fake)
    assert json.loads(result.stdout) == answer_json(local_lucene.ask(QUESTION, k=3))


def test_ask_over_an_unreachable_cluster_is_one_clear_line(tmp_path):
    with FakeOpenSearch([]) as fake:
        url = fake.url
    result = _run_bot("ask", QUESTION, "--opensearch", url, tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("错误: 无法连接 OpenSearch") and "Traceback" not in result.stderr


def test_the_repl_reports_a_cluster_failure_in_one_line_and_goes_on(seed_items, local_lucene):
    from rich.console import Console

    from bot.repl import Session

    failing = Exchange("POST", f"/{ALIAS}/_search", 500, error_body(500, "null_pointer_exception", "boom"),
                       query={"search_type": SEARCH_TYPE})
    exchanges = [_mapping_exchange(), failing, _search_exchange(local_lucene, seed_items, QUESTION, _asked(5))]
    with FakeOpenSearch(exchanges) as fake:
        console = Console(record=True, width=200, color_system=None)
        session = Session(Retriever.from_opensearch(fake.url, index=ALIAS), console)
        assert session.handle(QUESTION) is True
        assert session.handle(QUESTION) is True
    _finished(fake)
    shown = console.export_text()
    assert "检索服务出错" in shown and "返回错误 500" in shown and "Traceback" not in shown
    assert "答" in shown.split("检索服务出错")[1]  # the next question is answered


def test_answers_from_opensearch_carry_checkable_citations_and_refuse_filters(seed_items, local_lucene):
    from retrieval import Filter, ParameterError

    exchanges = [_mapping_exchange(), _search_exchange(local_lucene, seed_items, QUESTION, 3)]
    with FakeOpenSearch(exchanges) as fake:
        remote = Retriever.from_opensearch(fake.url, index=ALIAS)
        hits = remote.search(QUESTION, k=3)
        with pytest.raises(ParameterError, match="OpenSearch 后端暂不支持筛选"):
            remote.search(QUESTION, k=3, filters=Filter(sources=("易商讯",)))
    _finished(fake)
    for hit in hits:
        data = (seeds_folder() / hit.citation.path).read_text("utf-8")
        assert hit.file_text == data[hit.start : hit.end]
        first, last = hit.citation.lines
        assert hit.text.split("\n")[0] in data.splitlines()[first - 1]
        assert remote.lines(hit)[0][0] == first
