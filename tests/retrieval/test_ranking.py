"""Ranking: BM25 with a positive IDF, a fixed tie order, and parity with rank-bm25."""

from __future__ import annotations

import random

import numpy as np
import pytest

from retrieval import Retriever
from retrieval.analysis import Analyzer
from retrieval.ranking import BM25Index
from retrieval.text import sentence_spans
from tests.auxil.reference_bm25 import PositiveIdfBM25


def test_two_document_corpus_ranks_the_match_first():
    retriever = Retriever.from_texts(["腾讯推出了微信红包功能。", "阿里巴巴入股了新浪微博。"])
    hits = retriever.search("阿里巴巴入股", k=5)
    assert hits[0].citation.doc_id == "1"
    assert hits[0].score > 0
    assert len(hits) == 1  # a passage that shares no word is not a hit


def test_term_in_every_document_still_counts():
    index = BM25Index.build([["微信", "红包"], ["微信", "支付"]])
    top = index.top(["微信", "支付"], 2)
    assert [i for i, _ in top] == [1, 0]
    assert all(score > 0 for _, score in top)


def test_ties_are_broken_by_corpus_order():
    index = BM25Index.build([["甲"], ["乙", "丙"], ["乙", "丙"], ["乙", "丙"]])
    assert [i for i, _ in index.top(["乙"], 3)] == [1, 2, 3]
    assert [i for i, _ in index.top(["乙"], 2)] == [1, 2]


def test_k_larger_than_the_corpus_is_fine():
    retriever = Retriever.from_texts(["腾讯推出了微信红包功能。", "阿里巴巴入股了新浪微博。"])
    assert len(retriever.search("微信 微博", k=100)) == 2


def test_same_question_same_ranking(seeds):
    first = [(h.citation.doc_id, h.citation.paragraph, h.score) for h in seeds.search("阿里 微信 封杀", k=10)]
    second = [(h.citation.doc_id, h.citation.paragraph, h.score) for h in seeds.search("阿里 微信 封杀", k=10)]
    assert first == second


@pytest.fixture(scope="module")
def synthetic_corpus(seeds) -> list[list[str]]:
    """A few thousand passages recombined from the seeds' sentences, duplicates included."""
    sentences = []
    for i in range(len(seeds)):
        text = seeds.passage_text(i)
        sentences.extend(text[s:e] for s, e in sentence_spans(text))
    rng = random.Random(7)
    passages = ["".join(rng.sample(sentences, rng.randint(1, 4))) for _ in range(2500)]
    passages += passages[:50]  # identical passages tie
    passages += ["微信"] * 3 + [""]  # a term in most passages, one-word and empty passages
    analyzer = Analyzer()
    return [analyzer.terms(p) for p in passages]


def test_scores_equal_rank_bm25_bit_for_bit(synthetic_corpus, seeds):
    reference = PositiveIdfBM25(synthetic_corpus, k1=1.5, b=0.75)
    index = BM25Index.build(synthetic_corpus)
    rng = random.Random(11)
    vocabulary = sorted({t for terms in synthetic_corpus for t in terms})
    analyzer = Analyzer()
    queries = [analyzer.terms(seeds.passage_text(i))[:12] for i in range(0, len(seeds), 7)]
    queries += [rng.sample(vocabulary, 5) + ["微信", "微信", "不在词表里"] for _ in range(20)]
    for query in queries:
        expected = np.asarray(reference.get_scores(query))
        actual = index.scores(query)
        assert np.array_equal(expected, actual), query
        # top-k agrees with a full sort by (score desc, passage asc).
        order = np.lexsort((np.arange(len(expected)), -expected))
        wanted = [int(i) for i in order[:10] if expected[i] > 0]
        assert [i for i, _ in index.top(query, 10)] == wanted


def test_common_terms_keep_a_positive_idf(synthetic_corpus):
    index = BM25Index.build(synthetic_corpus)
    assert index.document_frequency("微信") > len(synthetic_corpus) / 2
    assert index.idf("微信") > 0
    assert index.idf("不在词表里") == 0.0


def test_vocabulary_finds_terms_that_share_a_long_prefix():
    from retrieval.vocabulary import Vocabulary

    long_terms = ["中华人民共和国国务院办公厅", "中华人民共和国国务院新闻办公室", "中华人民共和国国务院", "a" * 40, "a" * 41]
    vocabulary = Vocabulary.from_terms(long_terms + ["微信", "支付"])
    for term in long_terms + ["微信", "支付"]:
        assert vocabulary.term(vocabulary.lookup(term)) == term
    ids = vocabulary.lookup_many(["中华人民共和国国务院办公", "a" * 42, "", "微信"])
    assert ids[:3].tolist() == [-1, -1, -1]
    assert vocabulary.term(int(ids[3])) == "微信"
