"""Arbitrary Unicode, surrogates included, never raises anything but the documented errors."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from retrieval import CorpusError, QuestionError, Retriever

# Any code point, lone surrogates included, with extra weight on the characters that matter here.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x10FFFF),
        st.sampled_from("阿里巴巴新浪微博腾讯的了吗?。,(yè)ＡＰＩ\x1b\u202e\ud800\udfff\ufffd 　\n\t"),
    ),
    max_size=60,
)
# ZHDOCQA_FUZZ_EXAMPLES=100000 for a longer run.
EXAMPLES = int(os.environ.get("ZHDOCQA_FUZZ_EXAMPLES", "10000"))


@pytest.fixture(scope="module")
def small() -> Retriever:
    return Retriever.from_texts(
        ["阿里巴巴以5.86亿美元买入新浪微博18%股份。", "產業(yè)發展:微信红包在春节期间发出十亿个。", "API 接口 ApI"],
        ids=["a", "b", "c"],
    )


@seed(20261122)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(question=ANY_TEXT, k=st.integers(min_value=1, max_value=12))
def test_ask_and_search_never_raise_but_question_errors(small, question, k):
    try:
        answer = small.ask(question, k=k)
        assert answer.abstained or answer.best_sentence is not None or answer.hits
        answer.question.encode("utf-8")
        for hit in small.search(question, k=k):
            hit.text.encode("utf-8")
            assert all(0 <= a < b <= len(hit.text) for a, b in hit.highlights)
    except QuestionError:
        pass


@seed(20261122)
@settings(max_examples=EXAMPLES // 10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=3), question=ANY_TEXT)
def test_from_texts_never_raises_but_corpus_errors(texts, question):
    try:
        retriever = Retriever.from_texts(texts)
    except CorpusError:
        return
    try:
        retriever.ask(question)
    except QuestionError:
        pass
