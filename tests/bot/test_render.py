"""The renderer: Telegram HTML within limits and always valid, terminal text without escapes in a pipe."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
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
    assert "[1] 《除了电商,阿里还需要一款真正的社交软件》 · 004_2879f3147d2cb423.txt:7" in out


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


# -- line breaking ---------------------------------------------------------------------



def _lines(text: str, width: int) -> list[str]:
    starts = render.line_starts(text, width)
    bounds = [0, *starts, len(text)]
    return [text[a:b].rstrip() for a, b in zip(bounds, bounds[1:])]


SAMPLE = (
    "阿里巴巴宣布,以5.86亿美元买入新浪微博18%股份,并在2014年与（新浪）达成合作。"
    "“这是一句引语。”他说:双十一当天571亿的成交额中,移动端占比已高达42.6%。Alibaba Group 的股价上涨。"
)


@pytest.mark.parametrize("width", range(6, 41))
def test_no_line_starts_with_closing_punctuation_or_splits_a_number_from_its_unit(width):
    lines = _lines(SAMPLE, width)
    assert "".join(line.replace(" ", "") for line in lines) == SAMPLE.replace(" ", "")
    for before, line in zip(lines, lines[1:]):
        assert line[0] not in render.CLOSING, (width, before, line)
        assert before[-1] not in render.OPENING, (width, before, line)
        # A digit never ends a line when the next one starts with a digit or a unit.
        assert not (before[-1].isdigit() and (line[0].isdigit() or line[0] in "年亿%万元")), (width, before, line)
    for number in ("5.86亿", "18%", "2014年", "571亿", "42.6%"):
        assert any(number in line for line in lines), (width, number)
    for word in ("Alibaba", "Group"):
        assert any(word in line for line in lines) or width < len(word)  # only a word wider than a line is cut
    # A full-width closing mark may hang past the width, nothing more.
    assert all(cell_len(line) <= width + 2 for line in lines)


def test_rendered_passages_follow_the_rule_at_a_narrow_width(seeds):
    answer = seeds.ask("阿里巴巴花了多少钱入股新浪微博?", k=3)
    buffer = io.StringIO()
    Console(file=buffer, color_system=None, width=36, highlight=False).print(render.rich_answer(answer))
    lines = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]
    assert all(line[0] not in render.CLOSING for line in lines)
    assert any("5.86亿美元" in line for line in lines) and any("18%股份" in line for line in lines)


def test_markdown_headings_are_shown_as_headings_without_their_marks(tmp_path):
    (tmp_path / "notes.md").write_text("## 拼多多的崛起\n\n拼多多是一家以拼团起家的社交电商公司。\n", "utf-8")
    answer = Retriever.from_directory(tmp_path).ask("拼多多靠什么起家?")
    hit = answer.hits[0]
    assert hit.text.startswith("## ")  # the hit keeps the file's characters
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="standard", width=80).print(render.rich_answer(answer))
    out = buffer.getvalue()
    assert "##" not in out
    plain = io.StringIO()
    Console(file=plain, color_system=None, width=80).print(render.rich_answer(answer))
    assert "    拼多多的崛起" in plain.getvalue()
    assert "\x1b[1;4m" in out or "\x1b[1m\x1b[4m" in out or "\x1b[4;1m" in out  # bold underline


def test_a_url_is_an_osc8_link_on_a_colour_terminal_and_plain_text_elsewhere(tmp_path):
    (tmp_path / "a.txt").write_text("腾讯发布了新的微信版本,增加了红包功能。", "utf-8")
    (tmp_path / "catalog.toml").write_text('["a.txt"]\nurl = "https://example.com/a?b=1"\n', "utf-8")
    answer = Retriever.from_directory(tmp_path).ask("微信红包")
    colour = io.StringIO()
    Console(file=colour, force_terminal=True, color_system="truecolor", width=120).print(render.rich_answer(answer))
    assert "\x1b]8;" in colour.getvalue() and "https://example.com/a?b=1" in colour.getvalue()
    plain = io.StringIO()
    Console(file=plain, color_system=None, width=120).print(render.rich_answer(answer))
    assert "[1] 《a》 · a.txt:1 · https://example.com/a?b=1" in plain.getvalue()
    assert "\x1b" not in plain.getvalue()
    html = render.html_answer(answer)
    assert '<a href="https://example.com/a?b=1">' in html and "a.txt:1" in html
    assert telegram_html_errors(html) == []
