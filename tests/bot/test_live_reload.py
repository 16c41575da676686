"""Live reload: the Telegram bot answers from a document added while it runs, without a restart."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil

import pytest

from bot.reloading import Reloader, describe
from bot.telegram_settings import BotSettings
from retrieval import Changes, Retriever
from retrieval.seeds import seeds_folder
from tests.auxil.telegram_app import FAST, TOKEN, start_bot, stop_bot

pytestmark = pytest.mark.e2e

NEW_ARTICLE = """星河量子在杭州成立

2021-03-02 · 测试日报

星河量子公司于2021年在杭州成立,创始人是李明远,主要研发超导量子芯片。
"""
SEED_QUESTION = "阿里巴巴花了多少钱入股新浪微博?"


def _visible(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text)


async def test_bot_answers_from_a_document_added_while_it_runs(start_fake_api, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="bot.reloading")
    api = start_fake_api(TOKEN)
    folder = tmp_path / "docs"
    shutil.copytree(seeds_folder(), folder)
    retriever = Retriever(folder, index_dir=tmp_path / "index")
    seen: list[Changes] = []
    reloader = Reloader(retriever, interval=0.1, on_change=seen.append).start()
    application = await start_bot(api, retriever, BotSettings(k=2, transport=FAST))
    try:
        asked = 0
        # Questions keep arriving before, during and after the swap.
        for round_ in range(40):
            api.user_message(5000 + round_ % 4, SEED_QUESTION)
            asked += 1
            if round_ == 10:
                (folder / "005_new.txt").write_text(NEW_ARTICLE, "utf-8")
            await asyncio.sleep(0.03)
        await api.wait_for(lambda: seen, timeout=30)
        await api.wait_for(lambda: len(api.sent()) >= asked, timeout=30)
        await api.settle()
        replies = api.sent()
        assert len(replies) == asked  # every question answered, once
        assert all("5.86亿美元" in _visible(r["text"]) for r in replies)
        api.user_message(6000, "星河量子公司的创始人是谁?")
        answer = await api.wait_for(lambda: api.sent(6000), timeout=20)
        assert "李明远" in _visible(answer[0]["text"]) and "星河量子在杭州成立" in _visible(answer[0]["text"])
        api.user_message(6000, "/sources")
        listing = await api.wait_for(lambda: api.sent(6000)[1:], timeout=20)
        assert "6. 《星河量子在杭州成立》" in _visible(listing[0]["text"])
    finally:
        await stop_bot(application)
        reloader.stop()
    assert seen[0].added == ("005_new.txt",) and seen[0].analysed == 1
    assert "005_new.txt" in caplog.text and "文档已更新" in caplog.text  # the log says what changed


def test_a_failed_update_keeps_the_old_index(tmp_path, caplog):
    folder = tmp_path / "docs"
    shutil.copytree(seeds_folder(), folder)
    retriever = Retriever(folder)
    reloader = Reloader(retriever, interval=0.05).start()
    try:
        for path in folder.glob("*.txt"):
            path.unlink()  # nothing left to index: the update fails
        reloader.request()
        for _ in range(100):
            if "继续使用原索引" in caplog.text:
                break
            asyncio.run(asyncio.sleep(0.05))
    finally:
        reloader.stop()
    assert "继续使用原索引" in caplog.text
    assert retriever.ask(SEED_QUESTION).hits  # the old index still answers


def test_describe_names_what_changed():
    text = describe(Changes(added=("a.txt",), changed=(), removed=("b.txt", "c.txt"), analysed=1))
    assert text == "新增 a.txt;删除 b.txt、c.txt(重新分词 1 篇)"
