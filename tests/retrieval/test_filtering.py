"""Filters: by source, date range and file, applied inside the index's selection."""

from __future__ import annotations

import datetime

import pytest

from retrieval import Filter, ParameterError, Retriever

SOURCE_OF = {
    "000_439763a88c0ed7a9.txt": "凤凰科技",
    "002_57e5c7049564172a.txt": "中國產業發展研究網",
    "003_679c830559632711.txt": "易商讯",
}


def test_source_filter_returns_only_that_source_and_k_hits(seeds):
    unfiltered = seeds.search("阿里 微博 微信", k=10)
    assert {h.citation.source for h in unfiltered} != {"易商讯"}  # the filter has something to do
    hits = seeds.search("阿里 微博 微信", k=10, filters=Filter(sources=("易商讯",)))
    assert len(hits) == 10
    assert {h.citation.source for h in hits} == {"易商讯"}
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_filtered_top_k_is_the_best_k_of_the_allowed_passages_not_a_cut_of_the_overall_list(seeds):
    every = seeds.search("阿里", k=1000)
    allowed = [h for h in every if h.citation.source == "易商讯"]
    assert len(allowed) >= 5
    filtered = seeds.search("阿里", k=5, filters=Filter(sources=("易商讯",)))
    assert [(h.citation.doc_id, h.start) for h in filtered] == [(h.citation.doc_id, h.start) for h in allowed[:5]]
    assert [h.rank for h in filtered] == [1, 2, 3, 4, 5]


def test_source_matching_ignores_script_and_width(seeds):
    # The document writes its source in traditional characters; a simplified query still matches it.
    hits = seeds.search("微博", k=3, filters=Filter(sources=("中国产业发展研究网",)))
    assert hits and {h.citation.doc_id for h in hits} == {"002_57e5c7049564172a.txt"}


@pytest.mark.parametrize(
    "since, until, expected",
    [
        ("2015", None, {"002_57e5c7049564172a.txt", "003_679c830559632711.txt"}),
        (None, "2015-07", {"000_439763a88c0ed7a9.txt", "002_57e5c7049564172a.txt"}),
        ("2015-07-10", "2015-07-10", {"002_57e5c7049564172a.txt"}),
        (datetime.date(2016, 1, 1), None, {"003_679c830559632711.txt"}),
    ],
)
def test_date_range_includes_its_bounds_and_leaves_out_undated_documents(seeds, since, until, expected):
    hits = seeds.search("阿里 微博 微信 腾讯", k=200, filters=Filter(since=since, until=until))
    assert {h.citation.doc_id for h in hits} == expected


def test_doc_glob_matches_paths(seeds):
    hits = seeds.search("阿里", k=50, filters=Filter(docs=("00[34]_*.txt",)))
    assert {h.citation.doc_id for h in hits} == {"003_679c830559632711.txt", "004_2879f3147d2cb423.txt"}


def test_ask_under_a_filter_answers_from_the_allowed_documents(seeds):
    answer = seeds.ask("来往是什么?", k=3, filters=Filter(sources=("易商讯",)))
    assert not answer.abstained
    assert all(h.citation.source == "易商讯" for h in answer.hits) and len(answer.hits) == 3


def test_a_filter_no_document_matches_says_so(seeds):
    answer = seeds.ask("阿里巴巴花了多少钱入股新浪微博?", filters=Filter(sources=("人民日报",)))
    assert answer.abstained and answer.reason == "filtered-out" and answer.hits == ()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"since": "2015-13"}, "不是有效日期"),
        ({"until": "yesterday"}, "不是日期"),
        ({"since": "2016", "until": "2015"}, "晚于"),
    ],
)
def test_bad_filter_values_are_clear_errors(options, message):
    with pytest.raises(ParameterError, match=message):
        Filter(**options)


def test_filters_in_a_large_collection_never_return_fewer_than_k_when_enough_match():
    texts = [f"第{i}篇。阿里巴巴与腾讯在社交电商竞争,话题{i % 7}。" for i in range(300)]
    retriever = Retriever.from_texts(texts, ids=[f"{'a' if i % 10 == 0 else 'b'}/{i:03d}.txt" for i in range(300)])
    hits = retriever.search("阿里巴巴 腾讯", k=20, filters=Filter(docs=("a/*",)))
    assert len(hits) == 20 and all(h.citation.path.startswith("a/") for h in hits)
    few = retriever.search("阿里巴巴 腾讯", k=50, filters=Filter(docs=("a/*",)))
    assert len(few) == 30  # every allowed passage, no more


def test_the_lucene_ranking_mode_filters_inside_its_selection_too():
    retriever = Retriever(ranking="lucene")
    hits = retriever.search("阿里 微博 微信", k=10, filters=Filter(sources=("易商讯",)))
    assert len(hits) == 10 and {h.citation.source for h in hits} == {"易商讯"}
