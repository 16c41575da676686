"""The Telegram texts in bot/render.py: /start and /sources pages fit one message and are valid HTML."""

from __future__ import annotations

from bot import render
from bot.telegram_handlers import COMMANDS, EXAMPLES
from retrieval import Retriever
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
