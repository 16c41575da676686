"""The Lucene-compatible ranking mode (issue 14): length bytes, float32 scores, mode selection.

Agreement with real Lucene, score for score, is tests/lucene/test_conformance.py.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from retrieval import IndexStatus, ParameterError, Ranking, Retriever
from retrieval.lucene_scoring import (
    MAX_TOKEN_LENGTH,
    LuceneIndex,
    byte_to_length,
    length_to_byte,
    query_boosts,
    token_pieces,
)
from retrieval.ranking import BM25Index, IndexBuilder
from retrieval.seeds import seeds_folder

QUESTION = "阿里巴巴花了多少钱入股新浪微博?"


def _lucene(passages: list[list[str]]) -> LuceneIndex:
    builder = IndexBuilder()
    for terms in passages:
        builder.add(terms)
    return LuceneIndex.from_postings(*builder.finish_postings())


def test_lengths_are_exact_to_39_terms_then_keep_four_significant_bits():
    assert [byte_to_length(length_to_byte(n)) for n in range(40)] == list(range(40))
    decoded = [byte_to_length(length_to_byte(n)) for n in range(40, 5000)]
    assert all(d <= n for d, n in zip(decoded, range(40, 5000)))  # rounded down, never up
    assert byte_to_length(length_to_byte(41)) == 40 and byte_to_length(length_to_byte(100)) == 96
    assert len({length_to_byte(n) for n in range(100_000)}) < 256  # one byte holds every length
    assert all(length_to_byte(n) <= length_to_byte(n + 1) for n in range(5000))


def test_passages_whose_lengths_share_a_byte_score_alike():
    # 41 and 40 terms decode to the same length: only tf and the length byte matter.
    index = _lucene([["甲"] + ["乙"] * 39, ["甲"] + ["丙"] * 40, ["丁"]])
    (first, a), (second, b) = index.top(["甲"], 2)
    assert (first, second) == (0, 1) and a == b  # a tie, broken by passage order
    exact = BM25Index.build([["甲"] + ["乙"] * 39, ["甲"] + ["丙"] * 40, ["丁"]])
    (_, x), (_, y) = exact.top(["甲"], 2)
    assert x > y  # the exact mode sees the one-term difference


def test_scores_are_float32_and_a_repeated_query_term_counts_again():
    index = _lucene([["微信", "红包"], ["微信", "支付"], ["淘宝"]])
    once = dict(index.top(["支付"], 3))
    twice = dict(index.top(["支付", "支付"], 3))
    assert twice[1] == pytest.approx(2 * once[1], rel=1e-6)
    assert all(np.float32(s) == s for s in twice.values())
    assert query_boosts(["支付", "微信", "支付"]) == [("支付", 2), ("微信", 1)]


def test_empty_passages_do_not_count_in_n():
    with_empty = _lucene([["微信"], ["支付"], [], []])
    without = _lucene([["微信"], ["支付"]])
    assert with_empty.idf("微信") == without.idf("微信")
    assert with_empty.top(["微信"], 5)[0][1] == without.top(["微信"], 5)[0][1]


def test_long_tokens_are_cut_as_the_whitespace_tokenizer_cuts_them():
    assert token_pieces("abc") == ["abc"]
    long = "a" * 300
    assert token_pieces(long) == ["a" * MAX_TOKEN_LENGTH, "a" * 45]
    # A character outside the BMP is two UTF-16 units: the piece may end one unit late.
    astral = "𠀀" * 200
    pieces = token_pieces(astral)
    assert "".join(pieces) == astral and len(pieces[0]) == 128
    index = _lucene([[long, "微信"], ["微信"]])
    assert index.document_frequency("a" * MAX_TOKEN_LENGTH) == 1
    assert index.document_frequency(long) == 0
    assert [d for d, _ in index.top([long], 5)] == [0]


def test_retriever_ranking_modes_agree_on_the_best_passage():
    exact = Retriever(ranking="exact")
    lucene = Retriever(ranking="lucene")
    assert exact.ranking_mode == "exact" and lucene.ranking_mode == "lucene"
    top_exact, top_lucene = exact.search(QUESTION, k=3), lucene.search(QUESTION, k=3)
    assert top_exact[0].citation == top_lucene[0].citation
    assert top_lucene[0].score < top_exact[0].score  # no (k1 + 1) factor in Lucene 8
    answer = lucene.ask(QUESTION)
    assert not answer.abstained and answer.best_sentence == exact.ask(QUESTION).best_sentence
    texts = Retriever.from_texts(["腾讯推出了微信红包功能。", "阿里巴巴入股了新浪微博。"], ranking="lucene")
    assert texts.search("阿里巴巴入股")[0].citation.doc_id == "1"


def test_an_unknown_ranking_mode_is_refused_in_chinese():
    with pytest.raises(ParameterError, match="未知的评分方式 'bm42'"):
        Retriever(ranking="bm42")
    with pytest.raises(ParameterError, match="exact, lucene"):
        Retriever.from_texts(["微信"], ranking="")


def test_a_saved_index_serves_only_the_mode_it_was_built_for(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(seeds_folder(), folder)
    index_dir = tmp_path / "index"
    exact = Retriever(folder, index_dir=index_dir)
    lucene = Retriever(folder, index_dir=index_dir, ranking="lucene")
    assert exact.index_status == IndexStatus.BUILT
    assert lucene.index_status == IndexStatus.REBUILT_RANKING == "rebuilt: ranking changed"
    again = Retriever(folder, index_dir=index_dir, ranking=Ranking.LUCENE)
    assert again.index_status == IndexStatus.LOADED and again.ranking_mode == Ranking.LUCENE
    assert [h.score for h in again.search(QUESTION)] == [h.score for h in lucene.search(QUESTION)]
    assert [h.score for h in again.search(QUESTION)] != [h.score for h in exact.search(QUESTION)]
    assert Retriever(folder, index_dir=index_dir).index_status == IndexStatus.REBUILT_RANKING
