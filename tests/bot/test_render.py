"""The renderer: Telegram HTML within limits and always valid, terminal text without escapes in a pipe."""

from __future__ import annotations

import io
import re

from rich.console import Console

from bot import render
from retrieval import Answer, Outcome, Retriever
from tests.auxil.telegram_html import telegram_html_errors


def _long_retriever() -> Retriever:
    body = "阿里巴巴与腾讯在社交电商领域竞争<激烈>&复杂," * 80 + "结论如此。"
    return Retriever.from_texts([f"标题{i}\n\n{body}" for i in range(15)])


def test_html_answer_fits_the_limit_and_escapes_everything():
    answer = _long_retriever().ask("阿里巴巴与腾讯的社交电商竞争", k=15)
    html = render.html_answer(answer)
    assert len(html) <= render.TELEGRAM_LIMIT
    assert telegram_html_errors(html) == []
    assert "&lt;激烈&gt;&amp;复杂" in html
    assert "…" in html  # passages were shortened


def test_html_answer_keeps_highlighted_words_in_view_when_shortened():
    text = "无关的话。" * 200 + "关键结论是拼多多靠拼团起家。" + "无关的话。" * 200
    answer = Retriever.from_texts([text, "另一篇文章讲别的事情。"]).ask("拼多多靠什么起家", k=1)
    html = render.html_answer(answer, limit=600)
    assert len(html) <= 600
    assert re.search(r"<b>[^<]*拼多多[^<]*</b>", html)


def test_html_context_of_a_huge_paragraph_is_cut_safely():
    retriever = _long_retriever()
    hit = retriever.search("阿里巴巴", k=1)[0]
    html = render.html_context(retriever.context(hit))
    assert len(html) <= render.TELEGRAM_LIMIT
    assert telegram_html_errors(html) == []


def test_html_document_escapes_the_url():
    retriever = Retriever.from_texts(["某报道\n\n发布日期:2020-01-02\n\n正文很长很长,讲了一件事。原文链接:https://example.com/a?b=1&c=2"])
    html = render.html_document(retriever.documents[0])
    assert 'href="https://example.com/a?b=1&amp;c=2"' in html
    assert telegram_html_errors(html) == []


def test_terminal_rendering_in_a_pipe_has_no_escape_codes(seeds):
    answer = seeds.ask("腾讯模仿泡泡堂做了哪个游戏?")
    buffer = io.StringIO()
    Console(file=buffer, color_system=None, width=80, highlight=False).print(render.rich_answer(answer))
    out = buffer.getvalue()
    assert "\x1b" not in out
    assert out.startswith("答: ")
    assert "[1] 《除了电商,阿里还需要一款真正的社交软件》 · ¶2" in out


def test_terminal_wraps_chinese_at_two_columns_a_character(seeds):
    answer = seeds.ask("腾讯模仿泡泡堂做了哪个游戏?")
    buffer = io.StringIO()
    Console(file=buffer, color_system=None, width=40, highlight=False).print(render.rich_answer(answer))
    from wcwidth import wcswidth

    assert max(wcswidth(line) for line in buffer.getvalue().splitlines()) <= 40


def _plain(renderable) -> str:
    buffer = io.StringIO()
    Console(file=buffer, color_system=None, width=80, highlight=False).print(renderable)
    return buffer.getvalue()


def _three_outcomes(seeds):
    hits = tuple(seeds.search("微信支付是哪一年上线的?", k=2))
    answered = Answer("微信支付是哪一年上线的?", hits, False, "一句话。", 0, outcome=Outcome.ANSWERED, confidence=0.9)
    unsure = Answer("微信支付是哪一年上线的?", hits, True, None, None, reason="uncertain", outcome=Outcome.UNSURE,
                    confidence=0.2)
    nothing = Answer("微信支付是哪一年上线的?", hits, True, None, None, reason="low-coverage",
                     outcome=Outcome.NO_ANSWER, confidence=0.01)
    return answered, unsure, nothing


def test_the_three_outcomes_read_differently_in_the_terminal(seeds):
    answered, unsure, nothing = _three_outcomes(seeds)
    out = _plain(render.rich_answer(answered))
    assert out.startswith("答: ") and "[1] " in out
    out = _plain(render.rich_answer(unsure))
    assert "答:" not in out and out.startswith("不确定: ")
    assert "可能没有直接回答" in out and "[1] " in out and "[2] " in out  # the passages, shown as related
    out = _plain(render.rich_answer(nothing))
    assert out.startswith("没有答案: ") and "[1] " not in out


def test_the_three_outcomes_read_differently_in_telegram(seeds):
    answered, unsure, nothing = _three_outcomes(seeds)
    assert render.html_answer(answered).startswith("<b>答:</b>")
    html = render.html_answer(unsure)
    assert "答:" not in html and "可能没有直接回答" in html and "<b>[1]</b>" in html
    assert telegram_html_errors(html) == []
    assert render.html_answer(nothing).startswith("没有找到答案")


def test_json_says_the_outcome_and_confidence(seeds):
    answered, unsure, nothing = _three_outcomes(seeds)
    assert [render.answer_json(a)["outcome"] for a in (answered, unsure, nothing)] == ["answered", "unsure", "no_answer"]
    assert render.answer_json(unsure)["confidence"] == 0.2
    assert render.answer_json(unsure)["abstained"] is True
