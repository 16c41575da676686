"""Questions analysed without loading jieba's dictionary give the full analyzer's terms exactly."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.analysis import Analyzer
from retrieval.answering import highlight_spans
from retrieval.lexicon import Lexicon
from retrieval.seeds import seeds_folder
from retrieval.text import sentence_spans
from tests.conftest import SHARED


def _seed_sentences() -> list[str]:
    sentences = []
    for path in sorted(seeds_folder().glob("*.txt")):
        text = path.read_text("utf-8")
        sentences.extend(text[s:e] for s, e in sentence_spans(text) if e - s <= 200)
    return sentences


def _questions(shared_questions: list[str]) -> list[str]:
    fixed = [
        "阿里巴巴花了多少钱入股新浪微博?", "微博月活躍用戶有多少?", "谁说来往是阿里的战术性产品?", "ApI 接口 2013年",
        "腾讯模仿泡泡堂做了哪个游戏?", "聚美优品是哪一年在纽交所上市的?", "", "😀👍!!", "量子计算机 iPhone15 的价格",
    ]
    return fixed + _seed_sentences() + shared_questions


def _shared_questions(shared_dir) -> list[str]:
    questions = []
    data = json.loads((shared_dir / "data" / "cmrc2018_dev.json").read_text("utf-8"))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            questions.extend(q["question"] for q in paragraph["qas"])
    return questions[:2000]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Analyzer, Analyzer]:
    """A loaded analyzer, and one over the lexicon the first wrote (never loading the dictionary)."""
    folder = tmp_path_factory.mktemp("dictionary")
    full = Analyzer(dictionary_cache=folder)
    full.load()  # writes the lexicon beside jieba's cache
    return full, Analyzer(dictionary_cache=folder)


def test_questions_cut_from_the_lexicon_equal_the_full_analyzer(pair):
    full, light = pair
    shared = _shared_questions(SHARED) if (SHARED / "data" / "cmrc2018_dev.json").is_file() else []
    questions = _questions(shared)
    assert len(questions) > 400
    for question in questions:
        assert light.question(question) == full.question(question), question
        words = full.question(question).words
        assert [light.in_dictionary(w) for w in words] == [full.in_dictionary(w) for w in words]
    assert not light._ready  # the full dictionary was never loaded


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="阿里巴巴新浪微博的了是在年月日一二三四五六七八九十百千万亿人大中小上下abcAB12 ,。?!", max_size=40))
def test_any_text_cuts_alike(pair, text):
    full, light = pair
    assert light.question(text) == full.question(text)
    assert light.located_words(text) == full.located_words(text)


def test_a_lexicon_that_does_not_hold_together_is_not_used(tmp_path):
    folder = tmp_path / "lexicon"
    Lexicon.from_frequencies({"阿里": 5, "阿": 0}, 10).save(folder)
    assert Lexicon.open(folder).frequencies("阿里巴巴") == {"阿": 0, "阿里": 5}
    (folder / "lexicon.json").write_text('{"total": 10, "longest": 2, "entries": 7}', "utf-8")
    assert Lexicon.open(folder) is None


def test_highlights_from_index_time_positions_equal_a_fresh_segmentation(seeds):
    collection = seeds._state.opened.collection
    analyzer = Analyzer()
    words = ("阿里", "新浪", "微博", "钱", "人", "大", "月", "年", "网")
    for index in range(len(collection)):
        text = collection.passage_text(index)
        stored = collection.passage_singles(index).tolist()
        assert highlight_spans(text, words, analyzer, stored) == highlight_spans(text, words, analyzer), index


def test_passages_recorded_as_simplified_normalize_alike_without_conversion(seeds):
    from retrieval.text import normalize_with_offsets

    collection = seeds._state.opened.collection
    flags = [collection.is_simplified(i) for i in range(len(collection))]
    assert any(flags) and not all(flags)  # the traditional article needs the conversion
    for index, simplified in enumerate(flags):
        text = collection.passage_text(index)
        assert normalize_with_offsets(text, simplified) == normalize_with_offsets(text), index
