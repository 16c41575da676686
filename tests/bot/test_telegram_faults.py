"""The Telegram bot under the faults real Telegram produces, each injected by the fake Bot API.

Every question is answered exactly once: `api.answers(chat)` lists the messages the server
accepted, so a duplicate or a lost answer shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import urllib.request
from dataclasses import replace

import pytest

from bot import render
from bot.telegram_bot import ALLOWED_UPDATES
from bot.telegram_metrics import Outcome
from bot.telegram_settings import BotSettings
from retrieval import Retriever
from tests.auxil.fake_bot_api import BOT_USERNAME, FakeBotApi
from tests.auxil.telegram_app import FAST, TOKEN, metrics_of, start_bot, stop_bot

pytestmark = pytest.mark.e2e

QUESTIONS = ("腾讯模仿泡泡堂做了哪个游戏?", "谁说来往是阿里的战术性产品?", "易商讯这篇红包大战的文章是哪天发布的?")
SETTINGS = BotSettings(k=3, transport=FAST)


def _visible(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text)


async def _all_settled(api: FakeBotApi, application, questions: int) -> None:
    """Wait until the bot has finished `questions` questions, then a moment more for stray sends."""
    await api.wait_for(lambda: metrics_of(application).questions >= questions, timeout=40)
    await api.settle(0.5)


async def test_sends_slower_than_the_read_timeout_are_not_sent_again(api, seeds):
    application = await start_bot(api, seeds, replace(SETTINGS, transport=replace(FAST, read_timeout=0.5)))
    try:
        api.slow("sendMessage", 1.2)
        chats = [3001, 3002, 3003]
        for chat, question in zip(chats, QUESTIONS):
            api.user_message(chat, question)
        await _all_settled(api, application, 3)
        assert [len(api.answers(c)) for c in chats] == [1, 1, 1]
        assert len(api.sent()) == 3  # no second attempt, no apology
        assert metrics_of(application).outcomes[Outcome.UNCERTAIN] == 3
    finally:
        await stop_bot(application)


async def test_slow_sends_within_the_read_timeout_are_plain_answers(api, seeds):
    application = await start_bot(api, seeds, replace(SETTINGS, transport=replace(FAST, read_timeout=4)))
    try:
        api.slow("sendMessage", 1.0)
        for chat, question in zip([3101, 3102], QUESTIONS):
            api.user_message(chat, question)
        await _all_settled(api, application, 2)
        assert [len(api.answers(c)) for c in (3101, 3102)] == [1, 1]
        assert len(api.sent()) == 2
        assert metrics_of(application).outcomes[Outcome.ANSWERED] == 2
    finally:
        await stop_bot(application)


async def test_a_failing_typing_indicator_never_costs_the_answer(api, bot):
    api.fail_next("sendChatAction", "500", "429", "drop")
    chats = [3201, 3202, 3203]
    for chat, question in zip(chats, QUESTIONS):
        api.user_message(chat, question)
    await _all_settled(api, bot, 3)
    assert [len(api.answers(c)) for c in chats] == [1, 1, 1]
    assert all(render.APOLOGY not in a["text"] for a in api.answers())
    assert len(api.called("sendChatAction")) == 3  # one each, never repeated


async def test_a_429_for_one_group_delays_only_that_group(api, seeds):
    application = await start_bot(api, seeds, replace(SETTINGS, workers=4))
    try:
        group = -4001
        api.flood(group, times=1, retry_after=2)
        api.user_message(group, f"@{BOT_USERNAME} {QUESTIONS[0]}", user_id=41, chat_type="group")
        await api.wait_for(lambda: api.sent(group))  # the refused attempt
        privates = [4101 + n for n in range(5)]
        for chat in privates:
            api.user_message(chat, QUESTIONS[1])
        await _all_settled(api, application, 6)
        order = [int(c.params["chat_id"]) for c in api.delivered_calls()]
        assert sorted(order[:5]) == privates and order[5] == group  # the private chats did not wait
        assert len(api.answers(group)) == 1
    finally:
        await stop_bot(application)


async def test_a_question_deleted_before_the_answer_still_gets_it(api, bot):
    question = api.user_message(3301, QUESTIONS[0], deleted=True)
    await _all_settled(api, bot, 1)
    [answer] = api.answers(3301)
    assert "泡泡堂" in _visible(answer["text"])
    assert answer["reply_parameters"]["message_id"] == question["message_id"]
    assert answer["reply_parameters"]["allow_sending_without_reply"] in (True, "true")


async def test_an_edited_question_updates_its_answer_in_place(api, bot):
    question = api.user_message(3401, "腾讯模仿泡泡堂做了哪个游戏?")
    await api.wait_for(lambda: api.answers(3401))
    api.edit(question, "谁说来往是阿里的战术性产品?")
    [edit] = await api.wait_for(lambda: api.answers(3401, "editMessageText"))
    await _all_settled(api, bot, 2)
    assert len(api.answers(3401)) == 1  # no second answer
    assert int(edit["message_id"]) == api.delivered_calls()[0].result["message_id"]
    assert "陆兆禧" in _visible(edit["text"]) and "泡泡堂" not in _visible(edit["text"])
    assert metrics_of(bot).outcomes[Outcome.UPDATED] == 1


async def test_channel_posts_are_ignored_and_not_subscribed_to(api, bot):
    api.channel_post(-100500, f"@{BOT_USERNAME} {QUESTIONS[0]}")
    api.user_message(3501, QUESTIONS[1])  # something to wait for
    await _all_settled(api, bot, 1)
    assert api.answers(-100500) == [] and len(api.answers(3501)) == 1
    subscribed = set(api.called("getUpdates")[-1]["allowed_updates"])
    assert subscribed == set(ALLOWED_UPDATES) and "channel_post" not in subscribed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_redelivered_webhook_update_is_answered_once(api, seeds):
    application = await start_bot(api, seeds, SETTINGS, polling=False)
    port = _free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    await application.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="hook", webhook_url=hook, allowed_updates=list(ALLOWED_UPDATES)
    )
    try:
        update = {
            "update_id": 90001,
            "message": {"message_id": 7, "date": int(time.time()), "chat": {"id": 3601, "type": "private"},
                        "from": {"id": 3601, "is_bot": False, "first_name": "用户"}, "text": QUESTIONS[1]},
        }
        for _ in range(2):  # Telegram repeats a webhook call it got no 200 for in time
            request = urllib.request.Request(
                hook, data=json.dumps(update).encode(), method="POST", headers={"Content-Type": "application/json"}
            )
            await asyncio.to_thread(_post, request)
        await _all_settled(api, application, 1)
        assert len(api.answers(3601)) == 1
        assert metrics_of(application).duplicate_updates == 1
    finally:
        await stop_bot(application)


async def test_a_button_press_and_a_newcomer_are_not_stuck_behind_a_burst(api, seeds):
    settings = replace(SETTINGS, workers=2, transport=replace(FAST, messages_per_second=40))
    application = await start_bot(api, seeds, settings)
    try:
        api.user_message(3701, QUESTIONS[0])
        for chat in range(3800, 3810):  # ten chats that have asked before
            api.user_message(chat, QUESTIONS[0])
        await _all_settled(api, application, 11)
        [first] = api.answers(3701)
        full = next(b["callback_data"] for row in first["reply_markup"]["inline_keyboard"] for b in row)
        before = len(api.delivered_calls())
        for n in range(50):  # their burst
            api.user_message(3800 + n % 10, QUESTIONS[n % 3])
        api.press(3701, {"message_id": 1, "date": 0, "chat": {"id": 3701, "type": "private"}}, full)
        api.user_message(3999, QUESTIONS[2])  # a newcomer
        await api.wait_for(lambda: len(api.delivered_calls()) >= before + 52, timeout=60)
        order = [int(c.params["chat_id"]) for c in api.delivered_calls()[before:]]
        # Of the 52 replies, the full text and the newcomer's answer come among the first few.
        assert order.index(3701) < 8 and order.index(3999) < 8
    finally:
        await stop_bot(application)


async def test_a_user_who_blocked_the_bot_gives_one_warning_and_no_apology(api, bot, caplog):
    api.block(3901)
    with caplog.at_level(logging.INFO):
        api.user_message(3901, QUESTIONS[0])
        await _all_settled(api, bot, 1)
    assert len(api.sent(3901)) == 1  # the refused answer, no apology after it
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bot.")]
    assert len(problems) == 1 and problems[0].levelno == logging.WARNING and "3901" in problems[0].getMessage()
    assert metrics_of(bot).outcomes[Outcome.BLOCKED] == 1


async def test_each_question_logs_one_line_without_its_text_or_the_token(api, bot, caplog):
    with caplog.at_level(logging.INFO):
        api.user_message(4201, QUESTIONS[0])
        api.user_message(4202, "北京今天的空气质量怎么样?")
        await _all_settled(api, bot, 2)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("question ")]
    assert len(lines) == 2
    assert any(re.search(r"chat=4201 update=\d+ outcome=answered latency=\d+\.\d+s$", line) for line in lines)
    assert any("chat=4202" in line and "outcome=no-answer" in line for line in lines)
    # httpx would log request URLs (with the token); `python -m bot telegram` sets it to WARNING.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "泡泡堂" not in ours and TOKEN not in ours


async def test_log_questions_puts_the_question_in_its_line(api, seeds, caplog):
    application = await start_bot(api, seeds, replace(SETTINGS, log_questions=True))
    try:
        with caplog.at_level(logging.INFO):
            api.user_message(4301, QUESTIONS[0])
            await _all_settled(api, application, 1)
        [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("question ")]
        assert "泡泡堂" in line
    finally:
        await stop_bot(application)


async def test_a_non_allowed_group_is_refused_once_and_left(api, seeds):
    application = await start_bot(api, seeds, replace(SETTINGS, allowed_ids=frozenset({1})))
    try:
        api.user_message(-4401, f"@{BOT_USERNAME} {QUESTIONS[0]}", user_id=44, chat_type="group")
        await api.wait_for(lambda: api.called("leaveChat"))
        await _all_settled(api, application, 1)
        assert [a["text"] for a in api.answers(-4401)] == [render.NOT_ALLOWED]
        assert [int(p["chat_id"]) for p in api.called("leaveChat")] == [-4401]
    finally:
        await stop_bot(application)


async def test_small_things_an_operator_would_expect(api, bot):
    api.user_message(4501, "/foo")
    api.user_message(-4502, "/foo", user_id=45, chat_type="group")  # maybe another bot's: no reply
    api.user_message(-4502, f"@{BOT_USERNAME}", user_id=45, chat_type="group")
    await api.wait_for(lambda: api.answers(4501) and api.answers(-4502))
    await _all_settled(api, bot, 1)
    [hint] = api.answers(4501)
    assert hint["text"].startswith("没有 /foo 这个命令") and "/sources" in hint["text"]
    [usage] = api.answers(-4502)
    assert usage["text"].startswith("用法: /ask 问题") and BOT_USERNAME in usage["text"]


async def test_more_is_offered_only_when_there_is_more(api):
    retriever = Retriever.from_texts(["甲文\n\n拼多多靠拼团起家。", "乙文\n\n拼多多上市了。", "丙文\n\n今天天气很好。"])
    application = await start_bot(api, retriever, SETTINGS)
    try:
        api.user_message(4601, "拼多多靠什么起家?")
        [answer] = await api.wait_for(lambda: api.answers(4601))
        labels = [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]
        assert "更多" not in labels and labels[0] == "全文 1"
    finally:
        await stop_bot(application)


async def test_sources_pages_with_buttons(api):
    retriever = Retriever.from_texts([f"第{n}篇文档的标题\n\n这是第{n}篇文档的内容,讲拼多多。" for n in range(1, 46)])
    application = await start_bot(api, retriever, SETTINGS)
    try:
        api.user_message(4701, "/sources")
        [first] = await api.wait_for(lambda: api.answers(4701))
        assert "第 1/3 页" in first["text"] and "1. 《第1篇文档的标题》" in first["text"]
        assert "21. " not in first["text"]
        [[next_page]] = first["reply_markup"]["inline_keyboard"]
        assert next_page["text"] == "下一页 »"
        shown = {"message_id": 555, "date": 0, "chat": {"id": 4701, "type": "private"}, "text": "列表"}
        api.press(4701, shown, next_page["callback_data"])
        [edit] = await api.wait_for(lambda: api.answers(4701, "editMessageText"))
        assert int(edit["message_id"]) == 555 and "第 2/3 页" in edit["text"] and "21. 《第21篇文档的标题》" in edit["text"]
        assert [b["text"] for b in edit["reply_markup"]["inline_keyboard"][0]] == ["« 上一页", "下一页 »"]
        assert len(api.answers(4701)) == 1  # paged in place, not sent again
    finally:
        await stop_bot(application)


async def test_start_up_survives_a_failing_set_my_commands_and_polling_conflicts_are_named(api, seeds, caplog):
    api.fail_next("setMyCommands", *["500"] * 10)
    api.fail_next("getUpdates", "409")
    with caplog.at_level(logging.INFO):
        application = await start_bot(api, seeds, replace(SETTINGS, transport=replace(FAST, retries=2)))
        try:
            api.user_message(4801, QUESTIONS[0])
            await _all_settled(api, application, 1)
            assert len(api.answers(4801)) == 1
        finally:
            await stop_bot(application)
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not register the command list" in m for m in messages)
    assert any("409 Conflict" in m and "another process" in m for m in messages)
    assert not any("handling failed" in m for m in messages)


async def test_metrics_endpoint_counts_what_was_sent(api, seeds):
    application = await start_bot(api, seeds, replace(SETTINGS, metrics_port=0))
    try:
        port = application.bot_data["telegram_bot"].metrics_server.port
        api.fail_next("sendMessage", "429")
        for chat, question in zip([4901, 4902, 4903], QUESTIONS):
            api.user_message(chat, question)
        api.user_message(4904, "北京今天的空气质量怎么样?")
        api.user_message(4905, "?!")  # no searchable words: told so
        api.user_message(4906, "/ask")  # no question at all: the usage
        await _all_settled(api, application, 6)
        health = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")
        text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
    finally:
        await stop_bot(application)
    assert health == "ok\n"
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if not line.startswith("#")
    }
    assert values["zhdocqa_questions_total"] == 6
    assert values['zhdocqa_question_outcomes_total{outcome="answered"}'] == 3
    assert values['zhdocqa_question_outcomes_total{outcome="no-answer"}'] == 2
    assert values['zhdocqa_question_outcomes_total{outcome="invalid"}'] == 1
    assert values['zhdocqa_question_outcomes_total{outcome="failed"}'] == 0
    assert values['zhdocqa_question_latency_seconds_bucket{le="+Inf"}'] == 6
    assert values["zhdocqa_question_latency_seconds_count"] == 6
    assert values['zhdocqa_telegram_errors_total{kind="retry_after"}'] == 1
    assert values["zhdocqa_queue_depth"] == 0


def _post(request: urllib.request.Request) -> None:
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()
