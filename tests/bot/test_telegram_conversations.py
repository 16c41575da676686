"""Conversations, settings, filters, state across restarts and inline mode, against the fake Bot API."""

from __future__ import annotations

import re

import pytest

from bot import render
from bot.telegram_settings import BotSettings
from tests.auxil.fake_bot_api import BOT_USERNAME
from tests.auxil.telegram_app import FAST, buttons_of, next_reply, start_bot, stop_bot
from tests.auxil.telegram_html import telegram_html_errors

pytestmark = pytest.mark.e2e

PRIVATE = 1201
GROUP = -5201


def _visible(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_private_follow_up_is_understood_and_new_forgets(api, bot):
    first = await next_reply(api, PRIVATE, "阿里巴巴花了多少钱入股新浪微博?")
    assert "理解为" not in first["params"]["text"]
    follow_up = await next_reply(api, PRIVATE, "占多少股份?")
    text = follow_up["params"]["text"]
    understood = re.match(r"<i>理解为: ([^<]+)</i>\n", text)
    assert understood, text[:200]
    assert "阿里巴巴" in understood.group(1) and "股份" in understood.group(1)
    assert "18%" in _visible(text)
    assert telegram_html_errors(text) == []
    # /new: the same words now stand alone.
    await next_reply(api, PRIVATE, "/new")
    assert api.answers(PRIVATE)[-1]["text"] == render.NEW_CONVERSATION
    alone = await next_reply(api, PRIVATE, "占多少股份?")
    assert "理解为" not in alone["params"]["text"]


async def test_a_reply_in_a_group_continues_the_answer_it_replies_to(api, bot):
    traffic = await next_reply(api, GROUP, f"@{BOT_USERNAME} 京东每天的流量有多少?", user_id=11)
    await next_reply(api, GROUP, "/ask 阿里巴巴花了多少钱入股新浪微博?", user_id=12)  # another thread in between
    swapped = await next_reply(api, GROUP, "那腾讯呢?", user_id=13, reply_to=traffic["message"])
    text = swapped["params"]["text"]
    assert text.startswith("<i>理解为: 腾讯每天的流量有多少?</i>\n"), text[:200]
    assert "300亿" in _visible(text)
    # Without the reply, a group message is a new question, not a follow-up of the last answer.
    alone = await next_reply(api, GROUP, f"@{BOT_USERNAME} 那腾讯呢?", user_id=13)
    assert "理解为" not in alone["params"]["text"]
    # A follow-up of the follow-up goes on from the resolved question (about traffic, not the stake).
    again = await next_reply(api, GROUP, "其中多少来自移动端?", user_id=11, reply_to=swapped["message"])
    understood = re.match(r"<i>理解为: ([^<]+)</i>", again["params"]["text"])
    assert understood and "腾讯" in understood.group(1) and "股份" not in understood.group(1), understood


async def test_group_settings_short_answers_and_passages(api, bot):
    api.member_status(GROUP, 11, "administrator")  # only a group's admins change its settings
    shown = await next_reply(api, GROUP, "/settings", user_id=11)
    buttons = buttons_of(shown["params"])
    assert buttons["✓ 3"] == "s:k:3" and "简短回答" in buttons and "✓ 完整回答" in buttons
    api.press(GROUP, shown["message"], buttons["简短回答"], user_id=11)
    await api.wait_for(lambda: api.called("editMessageText"))
    edited = api.called("editMessageText")[-1]
    assert "简短" in edited["text"] and "✓ 简短回答" in buttons_of(edited)
    answer = await next_reply(api, GROUP, "/ask 腾讯模仿泡泡堂做了哪个游戏?", user_id=11)
    text = answer["params"]["text"]
    assert text.startswith("<b>答:</b>") and "<b>[1]</b>" not in text
    assert "\n— <i>《除了电商,阿里还需要一款真正的社交软件》" in text
    assert list(buttons_of(answer["params"])) == ["更多"]
    # 更多 shows the passages, numbered from 1, with their 全文 buttons.
    count = len(api.answers(GROUP))
    api.press(GROUP, answer["message"], buttons_of(answer["params"])["更多"], user_id=11)
    more = (await api.wait_for(lambda: api.answers(GROUP)[count:]))[0]
    assert "<b>[1]</b>" in more["text"] and "<b>[3]</b>" in more["text"]
    assert list(buttons_of(more))[:3] == ["全文 1", "全文 2", "全文 3"]
    # Passages per answer: one.
    api.press(GROUP, shown["message"], "s:k:1", user_id=11)
    await api.wait_for(lambda: len(api.called("editMessageText")) >= 2)
    api.press(GROUP, shown["message"], "s:style:full", user_id=11)
    await api.wait_for(lambda: len(api.called("editMessageText")) >= 3)
    full = await next_reply(api, GROUP, "/ask 腾讯模仿泡泡堂做了哪个游戏?", user_id=11)
    assert full["params"]["text"].count("<b>[") == 1 and "更多" in buttons_of(full["params"])
    # A forged setting is refused.
    api.press(GROUP, shown["message"], "s:k:999", user_id=11)
    await api.wait_for(lambda: any(c.get("text") == render.INVALID_BUTTON for c in api.called("answerCallbackQuery")))


async def test_settings_buttons_and_conversations_survive_a_restart(api, seeds, tmp_path):
    settings = BotSettings(k=3, transport=FAST, state_path=tmp_path / "state" / "bot.sqlite3")
    application = await start_bot(api, seeds, settings)
    try:
        shown = await next_reply(api, PRIVATE, "/settings")
        api.press(PRIVATE, shown["message"], "s:k:5")
        await api.wait_for(lambda: api.called("editMessageText"))
        answer = await next_reply(api, PRIVATE, "阿里巴巴花了多少钱入股新浪微博?")
        assert answer["params"]["text"].count("<b>[") == 5
    finally:
        await stop_bot(application)
    assert (tmp_path / "state" / "bot.sqlite3").is_file()

    application = await start_bot(api, seeds, settings)  # a new process would do the same
    try:
        count = len(api.answers(PRIVATE))
        api.press(PRIVATE, answer["message"], buttons_of(answer["params"])["全文 1"])
        full = (await api.wait_for(lambda: api.answers(PRIVATE)[count:]))[0]
        assert "《阿里新浪共缔微电商》" in full["text"] and "<b>¶1</b>" in full["text"]
        api.press(PRIVATE, answer["message"], buttons_of(answer["params"])["更多"])
        more = (await api.wait_for(lambda: api.answers(PRIVATE)[count + 1 :]))[0]
        assert "<b>[6]</b>" in more["text"]
        follow_up = await next_reply(api, PRIVATE, "占多少股份?", reply_to=answer["message"])
        assert follow_up["params"]["text"].startswith("<i>理解为: "), follow_up["params"]["text"][:100]
        assert follow_up["params"]["text"].count("<b>[") == 5  # the setting too
        # A reply to the passages 更多 sent follows up the question they belong to.
        more_message = api.delivered_calls()[-2].result
        assert "<b>[6]</b>" in more_message["text"]
        again = await next_reply(api, PRIVATE, "占多少股份?", reply_to=more_message)
        assert again["params"]["text"].startswith("<i>理解为: ")
    finally:
        await stop_bot(application)


async def test_inline_query_lists_answers_as_valid_html_under_the_limits(api, bot):
    api.inline_query(3001, "阿里巴巴花了多少钱入股新浪微博?")
    answered = (await api.wait_for(lambda: api.called("answerInlineQuery")))[0]
    results = answered["results"]
    assert 1 <= len(results) <= 5
    assert len({r["id"] for r in results}) == len(results)
    first = results[0]
    assert first["type"] == "article" and first["title"].startswith("《阿里新浪共缔微电商》")
    assert "5.86亿美元" in first["description"]
    for result in results:
        content = result["input_message_content"]
        assert content["parse_mode"] == "HTML"
        assert 1 <= len(content["message_text"]) <= 4096
        assert telegram_html_errors(content["message_text"]) == []
        assert len(result["title"]) <= render.INLINE_TITLE_LIMIT
        assert len(result["description"]) <= render.INLINE_DESCRIPTION_LIMIT
        assert "<b>问:</b> 阿里巴巴花了多少钱入股新浪微博?" in content["message_text"]
        assert re.search(r"<b>\[\d\]</b> <i>《[^<]+》", content["message_text"])  # the passage's citation
    # A question the documents do not answer: one result that says so.
    api.inline_query(3001, "北京今天的空气质量怎么样?")
    answered = (await api.wait_for(lambda: api.called("answerInlineQuery")[1:]))[0]
    assert [r["title"] for r in answered["results"]] == [render.INLINE_NO_ANSWER_TITLE]
    assert answered["results"][0]["input_message_content"]["message_text"].count("没有找到答案") == 1



async def test_a_group_that_becomes_a_supergroup_keeps_its_settings(api, bot):
    api.member_status(GROUP, 11, "creator")
    shown = await next_reply(api, GROUP, "/settings", user_id=11)
    api.press(GROUP, shown["message"], "s:k:1", user_id=11)
    await api.wait_for(lambda: api.called("editMessageText"))
    supergroup = -1001234567890
    api.user_message(GROUP, None, user_id=11, chat_type="group", extra={"migrate_to_chat_id": supergroup})
    api.user_message(supergroup, None, user_id=11, chat_type="supergroup", extra={"migrate_from_chat_id": GROUP})
    await api.wait_for(lambda: GROUP not in bot.chat_data and bot.chat_data.get(supergroup, {}).get("settings"))
    answer = await next_reply(api, supergroup, "/ask 腾讯模仿泡泡堂做了哪个游戏?", user_id=11)
    assert answer["params"]["text"].count("<b>[") == 1
    assert not api.answers(GROUP)[1:]  # the service messages get no reply


async def test_a_filter_applies_to_questions_and_persists_across_a_restart(api, seeds, tmp_path):
    settings = BotSettings(k=3, transport=FAST, state_path=tmp_path / "bot.sqlite3")
    application = await start_bot(api, seeds, settings)
    try:
        bad = await next_reply(api, PRIVATE, "/since 去年")
        assert "「去年」不是有效的日期" in bad["params"]["text"] and "/since 2015" in bad["params"]["text"]
        unknown = await next_reply(api, PRIVATE, "/source 人民日报")
        assert "没有来源包含「人民日报」" in unknown["params"]["text"] and "易商讯" in unknown["params"]["text"]
        since = await next_reply(api, PRIVATE, "/since 2016")
        assert "日期不早于 2016" in since["params"]["text"] and "1/5 篇" in since["params"]["text"]
    finally:
        await stop_bot(application)

    application = await start_bot(api, seeds, settings)
    try:
        shown = await next_reply(api, PRIVATE, "/filters")
        assert "日期不早于 2016" in shown["params"]["text"]
        # Only the 2016 article may answer: a question about the 2013 stake finds only its passages.
        filtered = await next_reply(api, PRIVATE, "阿里巴巴花了多少钱入股新浪微博?")
        titles = set(re.findall(r"<i>《([^》]+)》", filtered["params"]["text"]))
        assert titles <= {"红包大战背后的阿里社交的尝试和经验积累"}, titles
        assert "5.86亿美元" not in _visible(filtered["params"]["text"])
        cleared = await next_reply(api, PRIVATE, "/clear")
        assert cleared["params"]["text"] == render.FILTERS_CLEARED
        everything = await next_reply(api, PRIVATE, "阿里巴巴花了多少钱入股新浪微博?", reply_to=None)
        assert "5.86亿美元" in _visible(everything["params"]["text"])
        source = await next_reply(api, PRIVATE, "/source 凤凰")
        assert "来源包含「凤凰」" in source["params"]["text"] and "1/5 篇" in source["params"]["text"]
        document = await next_reply(api, PRIVATE, "/source 2")  # a number still shows a document
        assert "《阿里新浪共缔微电商》" in document["params"]["text"]
    finally:
        await stop_bot(application)
