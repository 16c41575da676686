"""Analysis: one normalization for documents and questions."""

from __future__ import annotations

from retrieval.analysis import content_words, index_terms, located_words, normalize, normalize_with_offsets


def test_width_case_script_and_noise_are_normalized():
    assert normalize("ＡＰＩ") == "api"
    assert normalize("ApI") == normalize("API")
    assert normalize("產業(yè)發(fā)展") == "产业发展"
    assert normalize("微博月活躍用戶") == "微博月活跃用户"


def test_offsets_point_into_the_original():
    original = "產業(yè)發(fā)展 ＡＰＩ"
    normalized, offsets = normalize_with_offsets(original)
    assert normalized == normalize(original)
    assert original[offsets[normalized.index("发")]] == "發"
    assert original[offsets[normalized.index("a")]] == "Ａ"


def test_question_words_punctuation_and_emoji_are_not_terms():
    assert content_words("什么?为什么?如何?吗?呢?哪个?多少?") == []
    assert content_words("😀👍!!") == []
    assert "新浪" in content_words("阿里巴巴花了多少钱入股新浪微博?")
    assert "多少" not in index_terms("阿里巴巴花了多少钱入股新浪微博?")


def test_same_terms_for_traditional_and_simplified():
    assert index_terms("阿里瞄準企業社交推出的是哪款產品?") == index_terms("阿里瞄准企业社交推出的是哪款产品?")


def test_located_words_span_the_original_characters():
    text = "但這都需要微信開放ApI接口"
    spans = {t.word: text[t.start : t.end] for t in located_words(text)}
    assert spans["api"] == "ApI"
    assert spans["开放"] == "開放"
