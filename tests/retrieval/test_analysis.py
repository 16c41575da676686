"""The analyzer: words and terms, with a tokenizer of its own."""

from __future__ import annotations

import jieba

from retrieval.analysis import Analyzer, AnswerKind


def test_question_words_punctuation_and_emoji_are_not_terms():
    analyzer = Analyzer()
    assert analyzer.question("什么?为什么?如何?吗?呢?哪个?多少?").words == ()
    assert analyzer.question("😀👍!!").words == ()
    question = analyzer.question("阿里巴巴花了多少钱入股新浪微博?")
    assert "新浪" in question.words
    assert "多少" not in question.terms
    assert question.kind == AnswerKind.MONEY


def test_same_terms_for_traditional_and_simplified():
    analyzer = Analyzer()
    traditional = analyzer.question("阿里瞄準企業社交推出的是哪款產品?")
    simplified = analyzer.question("阿里瞄准企业社交推出的是哪款产品?")
    assert traditional.terms == simplified.terms


def test_located_words_span_the_original_characters():
    text = "但這都需要微信開放ApI接口"
    spans = {t.word: text[t.start : t.end] for t in Analyzer().located_words(text)}
    assert spans["api"] == "ApI"
    assert spans["开放"] == "開放"


def test_a_host_program_changing_jieba_does_not_change_our_terms():
    analyzer = Analyzer()
    before = analyzer.terms("阿里巴巴入股新浪微博")
    jieba.add_word("巴入股新", freq=10**9)
    try:
        assert "巴入股新" in jieba.lcut("阿里巴巴入股新浪微博")
        assert analyzer.terms("阿里巴巴入股新浪微博") == before
    finally:
        jieba.del_word("巴入股新")


def test_the_fingerprint_is_stable_and_covers_the_stopwords():
    first, second = Analyzer(), Analyzer()
    assert first.fingerprint == second.fingerprint
    assert "的" in first.stopwords
