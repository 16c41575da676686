"""Ranking: BM25 with a positive IDF and a fixed tie order."""

from __future__ import annotations

from retrieval import Retriever
from retrieval.ranking import Ranker


def test_two_document_corpus_ranks_the_match_first():
    retriever = Retriever.from_texts(["腾讯推出了微信红包功能。", "阿里巴巴入股了新浪微博。"])
    hits = retriever.search("阿里巴巴入股", k=5)
    assert hits[0].citation.doc_id == "1"
    assert hits[0].score > 0
    assert len(hits) == 1  # a passage that shares no word is not a hit


def test_term_in_every_document_still_counts():
    ranker = Ranker([["微信", "红包"], ["微信", "支付"]])
    top = ranker.top(["微信", "支付"], 2)
    assert [i for i, _ in top] == [1, 0]
    assert all(score > 0 for _, score in top)


def test_ties_are_broken_by_corpus_order():
    ranker = Ranker([["甲"], ["乙", "丙"], ["乙", "丙"], ["乙", "丙"]])
    assert [i for i, _ in ranker.top(["乙"], 3)] == [1, 2, 3]


def test_k_larger_than_the_corpus_is_fine():
    retriever = Retriever.from_texts(["腾讯推出了微信红包功能。", "阿里巴巴入股了新浪微博。"])
    assert len(retriever.search("微信 微博", k=100)) == 2


def test_same_question_same_ranking(seeds):
    first = [(h.citation.doc_id, h.citation.paragraph, h.score) for h in seeds.search("阿里 微信 封杀", k=10)]
    second = [(h.citation.doc_id, h.citation.paragraph, h.score) for h in seeds.search("阿里 微信 封杀", k=10)]
    assert first == second
