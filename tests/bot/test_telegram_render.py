"""The Telegram texts in bot/render.py: /start and /sources pages fit one message and are valid HTML."""

from __future__ import annotations

from dataclasses import replace

from bot import render
from bot.telegram_handlers import COMMANDS, EXAMPLES
from retrieval import Retriever
from retrieval.results import Outcome, Reason
from tests.auxil.telegram_html import telegram_html_errors


def test_sources_pages_fit_one_message_even_with_long_titles_and_markup_characters():
    title = "很长的标题<&>" * 5  # titles are at most a line; markup characters in every one
    documents = Retriever.from_texts([f"{title}{n}\n\n内容{n}讲拼多多。" for n in range(1, 46)]).documents
    assert render.sources_pages(len(documents)) == 3
    pages = [render.html_sources_page(documents, page) for page in (1, 2, 3)]
    for page in pages:
        assert len(page) <= render.TELEGRAM_LIMIT
        assert telegram_html_errors(page) == []
    assert "&lt;&amp;&gt;" in pages[0]
    assert pages[2].count("\n") == 5  # the head and the last five documents
    assert "第 3/3 页" in pages[2] and "45. " in pages[2]


def test_start_lists_ten_documents_the_examples_and_every_command():
    documents = Retriever.from_texts([f"文档{n}\n\n内容{n}。" for n in range(1, 13)]).documents
    text = render.html_start(documents, EXAMPLES, COMMANDS)
    assert telegram_html_errors(text) == []
    assert "10. 《文档10》" in text and "11. 《文档11》" not in text and "共 12 篇" in text
    assert all(example in text for example in EXAMPLES)
    assert all(f"/{name} — " in text for name, _ in COMMANDS)


def test_a_follow_up_quotes_what_it_was_understood_as_escaped(seeds):
    answer = seeds.conversation().ask("阿里巴巴花了多少钱入股新浪微博?", 2)
    rewritten = replace(answer, question="那<它>呢?", searched="阿里巴巴 & <新浪>入股多少?")
    text = render.html_answer(rewritten)
    assert text.startswith("<i>理解为: 阿里巴巴 &amp; &lt;新浪&gt;入股多少?</i>\n<b>答:</b>")
    assert telegram_html_errors(text) == []
    assert render.html_answer(replace(answer, searched=answer.question)).startswith("<b>答:</b>")
    no = replace(rewritten, abstained=True, best_sentence=None, best_sentence_hit=None, reason=Reason.LOW_COVERAGE,
                 outcome=Outcome.NO_ANSWER)
    assert render.html_answer(no).startswith("<i>理解为: ") and "没有找到答案" in render.html_answer(no)


def test_a_short_answer_is_the_sentence_and_its_citation(seeds):
    answer = seeds.ask("腾讯模仿泡泡堂做了哪个游戏?", 3)
    text = render.html_short_answer(answer)
    assert text.count("\n") == 1 and "<b>[1]</b>" not in text
    title = answer.hits[answer.best_sentence_hit or 0].citation.title
    assert f"\n— <i>《{title}》" in text
    assert telegram_html_errors(text) == []


def test_inline_results_stay_under_the_limits_with_long_passages_and_markup():
    paragraph = "阿里巴巴与腾讯<竞争>&合作," * 400
    retriever = Retriever.from_texts([f"{'很长的标题' * 30}\n\n{paragraph}"])
    answer = retriever.ask("阿里巴巴与腾讯竞争" * 20, 1)
    assert not answer.abstained
    text = render.html_inline_answer(answer, 1)
    assert len(text) <= render.TELEGRAM_LIMIT and telegram_html_errors(text) == []
    assert len(render.inline_title(answer.hits[0])) <= render.INLINE_TITLE_LIMIT
    assert len(render.inline_description(answer, 1)) <= render.INLINE_DESCRIPTION_LIMIT
