"""The Telegram bot end to end: the real Application and HTTP stack against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import re
import time

import pytest

from bot import render
from bot.render import INVALID_BUTTON, NOT_ALLOWED, STALE_BUTTON
from bot.telegram_settings import BotSettings
from retrieval import Retriever
from tests.auxil.fake_bot_api import BOT_ID, BOT_USERNAME, FakeBotApi
from tests.auxil.telegram_app import FAST, buttons_of, start_bot, stop_bot
from tests.auxil.telegram_html import telegram_html_errors

pytestmark = pytest.mark.e2e


PRIVATE = 1001


def _replies(api: FakeBotApi, chat_id: int) -> list[dict]:
    return api.sent(chat_id)


def _text(params: dict) -> str:
    return params.get("text", "")


def _visible(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def _all_html_is_valid(api: FakeBotApi) -> None:
    for params in api.sent() + api.called("editMessageText"):
        if params.get("parse_mode") == "HTML":
            assert telegram_html_errors(params["text"]) == [], params["text"][:200]
        assert len(params["text"]) <= 4096


async def test_private_question_gets_one_answer_with_its_citation(api, bot):
    question = api.user_message(PRIVATE, "腾讯模仿泡泡堂做了哪个游戏?")
    replies = await api.wait_for(lambda: _replies(api, PRIVATE))
    await api.settle()
    assert len(_replies(api, PRIVATE)) == 1
    reply = replies[0]
    assert reply["parse_mode"] == "HTML"
    assert reply["reply_parameters"]["message_id"] == question["message_id"]
    text = reply["text"]
    assert text.startswith("<b>答:</b>")
    assert "《除了电商,阿里还需要一款真正的社交软件》 · 004_2879f3147d2cb423.txt:7" in text
    assert re.search(r"<b>[^<]*泡泡堂[^<]*</b>", text)  # matched words in bold
    buttons = [b for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["全文 1", "全文 2", "全文 3", "更多"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    assert all("泡泡堂" not in b["callback_data"] for b in buttons)
    assert api.called("sendChatAction")[0]["action"] == "typing"
    commands = api.called("setMyCommands")[0]["commands"]
    assert {c["command"] for c in commands} >= {"start", "help", "sources", "source", "ask"}
    assert all(re.search(r"[\u4e00-\u9fff]", c["description"]) for c in commands)
    _all_html_is_valid(api)


async def test_simplified_question_about_the_traditional_article(api, bot):
    api.user_message(PRIVATE, "微博和淘宝电影合作预售,4天卖了多少张票?")
    reply = (await api.wait_for(lambda: _replies(api, PRIVATE)))[0]
    assert "中國產業發展研究網 · 2015-07-10" in reply["text"]
    assert "60多萬張影票" in _visible(reply["text"])
    assert "(yè)" not in reply["text"]


async def test_unanswerable_question_says_so_and_suggests_sources(api, bot):
    api.user_message(PRIVATE, "北京今天的空气质量怎么样?")
    reply = (await api.wait_for(lambda: _replies(api, PRIVATE)))[0]
    assert reply["text"].startswith("没有找到答案")
    assert "/sources" in reply["text"]
    assert "reply_markup" not in reply


async def test_an_unsure_answer_shows_related_passages_with_buttons_and_more_repeats_none(api, bot):
    # Unsure on the seeds: they tell of the investment in 陌陌 but not its price.
    api.user_message(PRIVATE, "阿里花了多少钱投资陌陌?")
    reply = (await api.wait_for(lambda: _replies(api, PRIVATE)))[0]
    text = _visible(reply["text"])
    assert "答:" not in text and not reply["text"].startswith("没有找到答案")
    assert text.startswith(render.UNSURE_TEXT)
    assert "陌陌" in text.split("[2]")[0]
    buttons = buttons_of(reply)
    assert list(buttons) == ["全文 1", "全文 2", "全文 3", "更多"]
    bot_message = {"message_id": 5001, "date": int(time.time()), "chat": {"id": PRIVATE, "type": "private", "first_name": "用户"},
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "文档问答"}, "text": "答"}
    api.press(PRIVATE, bot_message, buttons["更多"])
    more = (await api.wait_for(lambda: _replies(api, PRIVATE)[1:]))[0]
    cited = re.compile(r"《[^》]+》[^\n]*?\.txt:\d+(?:-\d+)?")
    first_cited, more_cited = cited.findall(_visible(reply["text"])), cited.findall(_visible(more["text"]))
    assert len(first_cited) == 3 and more_cited and not set(first_cited) & set(more_cited)
    assert "[4]" in _visible(more["text"])
    _all_html_is_valid(api)


async def test_group_chatter_is_ignored_but_mentions_ask_and_replies_are_answered(api, bot):
    group = -5001
    api.user_message(group, "今天中午吃什么?", user_id=11, chat_type="group")
    api.user_message(group, "阿里巴巴花了多少钱入股新浪微博?", user_id=11, chat_type="group")
    await api.settle(1.0)
    assert _replies(api, group) == []
    api.user_message(group, f"@{BOT_USERNAME} 腾讯模仿泡泡堂做了哪个游戏?", user_id=11, chat_type="group")
    first = (await api.wait_for(lambda: _replies(api, group)))[0]
    assert "泡泡堂" in _visible(first["text"])
    api.user_message(group, f"/ask@{BOT_USERNAME} 谁说来往是阿里的战术性产品?", user_id=12, chat_type="group")
    await api.wait_for(lambda: len(_replies(api, group)) >= 2)
    assert "陆兆禧" in _visible(_replies(api, group)[1]["text"])
    bot_message = {"message_id": 4242, "date": int(time.time()), "chat": {"id": group, "type": "group", "title": "测试群"},
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "文档问答", "username": BOT_USERNAME}, "text": "..."}
    api.user_message(group, "易商讯这篇红包大战的文章是哪天发布的?", user_id=13, chat_type="group", reply_to=bot_message)
    await api.wait_for(lambda: len(_replies(api, group)) >= 3)
    assert "2016-06-15" in _replies(api, group)[2]["text"]
    # A reply to another person is chatter.
    other = dict(bot_message, **{"from": {"id": 99, "is_bot": False, "first_name": "别人"}})
    api.user_message(group, "微信支付是哪一年上线的?", user_id=13, chat_type="group", reply_to=other)
    await api.settle(1.0)
    assert len(_replies(api, group)) == 3
    _all_html_is_valid(api)


async def test_more_full_and_stale_buttons(api, bot):
    api.user_message(PRIVATE, "阿里巴巴花了多少钱入股新浪微博?")
    answer = (await api.wait_for(lambda: _replies(api, PRIVATE)))[0]
    buttons = buttons_of(answer)
    bot_message = {"message_id": 5000, "date": int(time.time()), "chat": {"id": PRIVATE, "type": "private", "first_name": "用户"},
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "文档问答"}, "text": "答"}
    api.press(PRIVATE, bot_message, buttons["更多"])
    more = (await api.wait_for(lambda: _replies(api, PRIVATE)[1:]))[0]
    assert "<b>[4]</b>" in more["text"] and "<b>[1]</b>" not in more["text"]
    more_buttons = [b["text"] for row in more["reply_markup"]["inline_keyboard"] for b in row]
    assert more_buttons[:3] == ["全文 4", "全文 5", "全文 6"]
    api.press(PRIVATE, bot_message, buttons["全文 1"])
    full = (await api.wait_for(lambda: _replies(api, PRIVATE)[2:]))[0]
    assert "《阿里新浪共缔微电商》 · 001_6343723039a13da3.txt:2-3" in full["text"]
    assert "<b>¶1</b>" in full["text"] and "¶2" in full["text"]
    # A stale button gets an alert only (no chat message); a forged number is not called "expired".
    api.press(PRIVATE, bot_message, "m:expired1")
    await api.wait_for(lambda: len(api.called("answerCallbackQuery")) == 3)
    key = buttons["全文 1"].split(":")[1]
    api.press(PRIVATE, bot_message, f"f:{key}:99")
    await api.wait_for(lambda: len(api.called("answerCallbackQuery")) == 4)
    await api.settle()
    stale, invalid = api.called("answerCallbackQuery")[2:]
    assert stale["text"] == STALE_BUTTON and stale["show_alert"] in (True, "true")
    assert invalid["text"] == INVALID_BUTTON
    assert len(_replies(api, PRIVATE)) == 3
    _all_html_is_valid(api)


async def test_start_help_sources_source_and_a_sticker(api, bot):
    for text in ("/start", "/help", "/sources", "/source 2", "/source 99"):
        api.user_message(PRIVATE, text)
        count = len(_replies(api, PRIVATE))
        await api.wait_for(lambda count=count: len(_replies(api, PRIVATE)) > count)
    start, help_, sources, source, bad = [_text(r) for r in _replies(api, PRIVATE)]
    assert "5 篇文档" in start and "/sources" in start and "阿里巴巴花了多少钱入股新浪微博?" in start
    assert "4. 《红包大战背后的阿里社交的尝试和经验积累》 · 易商讯 · 2016-06-15" in start
    assert help_ == start
    assert "1. 《阿Q之战:阿里掐断微信淘宝数据接口 与新浪微博账号打通》 · 凤凰科技 · 2013-08-01" in sources
    assert "5. 《除了电商,阿里还需要一款真正的社交软件》" in sources
    assert "《阿里新浪共缔微电商》" in source and "段落数: 81" in source
    assert "用法: /source 编号" in bad
    sticker = {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False}
    api.user_message(PRIVATE, None, extra={"sticker": sticker})
    await api.wait_for(lambda: len(_replies(api, PRIVATE)) == 6)
    assert "只能回答文字问题" in _text(_replies(api, PRIVATE)[5])
    _all_html_is_valid(api)


async def test_allowlist_refuses_others_with_nothing_from_the_corpus(api, seeds):
    application = await start_bot(api, seeds, BotSettings(k=3, allowed_ids=frozenset({PRIVATE, -7000}), transport=FAST))
    try:
        api.user_message(2002, "阿里巴巴花了多少钱入股新浪微博?")
        api.user_message(2002, "/sources")
        await api.wait_for(lambda: len(_replies(api, 2002)) == 2)
        assert [_text(r) for r in _replies(api, 2002)] == [NOT_ALLOWED, NOT_ALLOWED]
        api.user_message(PRIVATE, "阿里巴巴花了多少钱入股新浪微博?")
        assert "5.86亿美元" in _visible(_text((await api.wait_for(lambda: _replies(api, PRIVATE)))[0]))
        api.user_message(-7000, "/ask 腾讯模仿泡泡堂做了哪个游戏?", user_id=3003, chat_type="group")
        assert "泡泡堂" in _visible(_text((await api.wait_for(lambda: _replies(api, -7000)))[0]))
    finally:
        await stop_bot(application)


async def test_rate_limit_per_user(api, seeds):
    application = await start_bot(api, seeds, BotSettings(k=3, questions_per_minute=3, transport=FAST))
    try:
        for _ in range(8):
            api.user_message(PRIVATE, "腾讯模仿泡泡堂做了哪个游戏?")
        await api.wait_for(lambda: len(_replies(api, PRIVATE)) == 4)
        await api.wait_for(lambda: application.bot_data["metrics"].questions == 8)
        await api.settle()
        texts = [_text(r) for r in _replies(api, PRIVATE)]
        assert sum("泡泡堂" in _visible(t) for t in texts) == 3
        assert sum("每分钟最多 3 个问题" in t for t in texts) == 1  # one warning for the burst, not five
        api.user_message(PRIVATE + 1, "腾讯模仿泡泡堂做了哪个游戏?")  # another user is not held back
        assert "泡泡堂" in _visible(_text((await api.wait_for(lambda: _replies(api, PRIVATE + 1)))[0]))
    finally:
        await stop_bot(application)


async def test_long_answer_stays_under_telegram_limit(api, seeds):
    paragraph = "阿里巴巴与腾讯在社交电商领域展开竞争," * 60 + "这是一个很长的段落。"
    texts = [f"长文{i}\n\n" + paragraph.replace("竞争", f"竞争{i}<&>") for i in range(12)]
    retriever = Retriever.from_texts(texts)
    application = await start_bot(api, retriever, BotSettings(k=10, transport=FAST))
    try:
        api.user_message(PRIVATE, "阿里巴巴与腾讯在社交电商领域的竞争")
        reply = (await api.wait_for(lambda: _replies(api, PRIVATE)))[0]
        assert len(reply["text"]) <= 4096
        assert telegram_html_errors(reply["text"]) == []
        assert "&lt;&amp;&gt;" in reply["text"]
        assert reply["text"].count("<b>[") >= 5  # shortened, not dropped
    finally:
        await stop_bot(application)


async def test_flood_limit_server_error_and_a_drop_after_delivery_still_answer_each_question_once(api, bot):
    # 429 and 500 are Telegram refusing the send: retried. The drop comes after the server took the
    # message: the bot cannot know it arrived and does not send it again (that would answer twice).
    api.fail_next("sendMessage", "429", "500", "drop-after")
    chats = (PRIVATE, PRIVATE + 1, PRIVATE + 2)
    api.user_message(PRIVATE, "腾讯模仿泡泡堂做了哪个游戏?")
    api.user_message(PRIVATE + 1, "谁说来往是阿里的战术性产品?")
    api.user_message(PRIVATE + 2, "易商讯这篇红包大战的文章是哪天发布的?")
    await api.wait_for(lambda: all(api.answers(c) for c in chats), timeout=30)
    await api.wait_for(lambda: bot.bot_data["metrics"].questions == 3)
    await api.settle(1.5)
    assert [len(api.answers(c)) for c in chats] == [1, 1, 1]
    assert api.failures["sendMessage"] == []
    assert len(api.sent()) == 5  # three answers, two refused attempts repeated, the dropped one not
    assert api.answers(PRIVATE)[0]["text"] != render.APOLOGY
