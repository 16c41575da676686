"""In a group, only its admins change what the bot does for everyone (settings and filters), against the fake Bot API."""

from __future__ import annotations

import logging

import pytest

from bot import render
from tests.auxil.fake_bot_api import FakeBotApi
from tests.auxil.telegram_app import FAST, TOKEN, buttons_of, next_reply

pytestmark = pytest.mark.e2e

PRIVATE = 1301
GROUP = -5301
SUPERGROUP = -1005301
MEMBER, ADMIN, OWNER = 21, 22, 23
QUESTION = "/ask 腾讯模仿泡泡堂做了哪个游戏?"
# Who Telegram names as the sender of an anonymous admin's message (the message's sender_chat is the group).
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


async def _press(api: FakeBotApi, chat_id: int, message: dict, data: str, user_id: int | None = None) -> dict:
    """Press a button and wait for the bot's answer to the press (the toast or alert the presser sees)."""
    before = len(api.called("answerCallbackQuery"))
    api.press(chat_id, message, data, user_id=user_id)
    return (await api.wait_for(lambda: api.called("answerCallbackQuery")[before:]))[0]


def _passages(reply: dict) -> int:
    return reply["params"]["text"].count("<b>[")


def _asked_about(api: FakeBotApi) -> list[tuple[int, int]]:
    """The (chat, user) pairs the bot asked getChatMember about, in order."""
    return [(int(c["chat_id"]), int(c["user_id"])) for c in api.called("getChatMember")]


async def test_a_member_sees_the_settings_but_changes_nothing_and_is_told_why(api, bot):
    api.member_status(GROUP, ADMIN, "administrator")
    shown = await next_reply(api, GROUP, "/settings", user_id=MEMBER)  # looking is open to everyone
    assert {"✓ 3", "简短回答", "✓ 完整回答"} <= set(buttons_of(shown["params"]))
    refused = await _press(api, GROUP, shown["message"], "s:k:1", user_id=MEMBER)
    assert refused["text"] == render.ADMINS_ONLY and refused["show_alert"] in (True, "true")
    refused = await _press(api, GROUP, shown["message"], "s:style:short", user_id=MEMBER)
    assert refused["text"] == render.ADMINS_ONLY
    for command in ("/since 2016", "/source 凤凰"):
        reply = await next_reply(api, GROUP, command, user_id=MEMBER)
        assert reply["params"]["text"] == render.ADMINS_ONLY, command
    answer = await next_reply(api, GROUP, QUESTION, user_id=MEMBER)
    assert _passages(answer) == 3 and answer["params"]["text"].startswith("<b>答:</b>")  # full, with 3 passages
    assert not api.called("editMessageText")  # the settings message was not changed either
    assert (await next_reply(api, GROUP, "/filters", user_id=MEMBER))["params"]["text"] == render.NO_FILTERS
    # A filter an admin set stays when a member tries to clear it.
    await next_reply(api, GROUP, "/since 2016", user_id=ADMIN)
    assert (await next_reply(api, GROUP, "/clear", user_id=MEMBER))["params"]["text"] == render.ADMINS_ONLY
    assert "日期不早于 2016" in (await next_reply(api, GROUP, "/filters", user_id=MEMBER))["params"]["text"]
    # Only the attempts to change something asked Telegram; looking and asking did not.
    assert _asked_about(api) == [(GROUP, MEMBER)] * 4 + [(GROUP, ADMIN), (GROUP, MEMBER)]


async def test_the_groups_admins_and_owner_change_them_for_everyone(api, bot):
    api.member_status(GROUP, ADMIN, "administrator")
    api.member_status(GROUP, OWNER, "creator")
    shown = await next_reply(api, GROUP, "/settings", user_id=MEMBER)
    saved = await _press(api, GROUP, shown["message"], "s:k:1", user_id=ADMIN)
    assert saved["text"] == render.SETTINGS_SAVED
    await api.wait_for(lambda: api.called("editMessageText"))
    assert _passages(await next_reply(api, GROUP, QUESTION, user_id=MEMBER)) == 1  # the next answer uses the new k
    source = await next_reply(api, GROUP, "/source 凤凰", user_id=OWNER)
    assert "来源包含「凤凰」" in source["params"]["text"]
    since = await next_reply(api, GROUP, "/since 2013", user_id=ADMIN)
    assert "来源包含「凤凰」;日期不早于 2013" in since["params"]["text"]
    shown_filters = await next_reply(api, GROUP, "/filters", user_id=MEMBER)
    assert shown_filters["params"]["text"] == since["params"]["text"]
    assert (await next_reply(api, GROUP, "/clear", user_id=OWNER))["params"]["text"] == render.FILTERS_CLEARED
    assert (await next_reply(api, GROUP, "/filters", user_id=MEMBER))["params"]["text"] == render.NO_FILTERS
    assert _asked_about(api) == [(GROUP, ADMIN), (GROUP, OWNER), (GROUP, ADMIN), (GROUP, OWNER)]


async def test_an_anonymous_admin_writing_as_the_group_may_change_them(api, bot):
    anonymous = {"from": ANONYMOUS_ADMIN, "sender_chat": {"id": SUPERGROUP, "type": "supergroup", "title": "测试群"}}
    since = await next_reply(api, SUPERGROUP, "/since 2016", chat_type="supergroup", extra=anonymous)
    assert "日期不早于 2016" in since["params"]["text"]
    assert _asked_about(api) == []  # Telegram hides who it is: the group itself speaks
    # Writing as another chat (a linked channel) is not writing as the group's admin.
    channel = {"from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
               "sender_chat": {"id": -1009999, "type": "channel", "title": "频道"}}
    cleared = await next_reply(api, SUPERGROUP, "/clear", chat_type="supergroup", extra=channel)
    assert cleared["params"]["text"] == render.ADMINS_ONLY
    assert "日期不早于 2016" in (await next_reply(api, SUPERGROUP, "/filters", chat_type="supergroup"))["params"]["text"]


async def test_a_private_chat_changes_its_own_settings_without_asking_telegram(api, bot):
    shown = await next_reply(api, PRIVATE, "/settings")
    assert (await _press(api, PRIVATE, shown["message"], "s:k:1"))["text"] == render.SETTINGS_SAVED
    assert _passages(await next_reply(api, PRIVATE, "阿里巴巴花了多少钱入股新浪微博?")) == 1
    assert "日期不早于 2016" in (await next_reply(api, PRIVATE, "/since 2016"))["params"]["text"]
    assert (await next_reply(api, PRIVATE, "/clear"))["params"]["text"] == render.FILTERS_CLEARED
    assert "来源包含「凤凰」" in (await next_reply(api, PRIVATE, "/source 凤凰"))["params"]["text"]
    assert _asked_about(api) == []


async def test_when_the_admin_check_fails_nothing_changes_and_the_user_is_told(api, bot, caplog):
    api.member_status(GROUP, ADMIN, "administrator")
    shown = await next_reply(api, GROUP, "/settings", user_id=ADMIN)
    with caplog.at_level(logging.INFO):
        api.fail_next("getChatMember", "400")  # Telegram refuses the request
        refused = await _press(api, GROUP, shown["message"], "s:k:1", user_id=ADMIN)
        assert refused["text"] == render.ADMIN_CHECK_FAILED and refused["show_alert"] in (True, "true")
        api.fail_next("getChatMember", *["drop"] * (FAST.retries + 1))  # the network fails, retries and all
        reply = await next_reply(api, GROUP, "/since 2016", user_id=ADMIN)
        assert reply["params"]["text"] == render.ADMIN_CHECK_FAILED
        api.fail_next("getChatMember", "400")
        reply = await next_reply(api, GROUP, "/source 凤凰", user_id=ADMIN)
        assert reply["params"]["text"] == render.ADMIN_CHECK_FAILED
    assert api.failures["getChatMember"] == []
    assert not api.called("editMessageText")
    assert (await next_reply(api, GROUP, "/filters", user_id=ADMIN))["params"]["text"] == render.NO_FILTERS
    assert _passages(await next_reply(api, GROUP, QUESTION, user_id=ADMIN)) == 3
    assert render.APOLOGY not in [m["text"] for m in api.answers(GROUP)]
    ours = [r for r in caplog.records if r.name.startswith("bot.")]
    assert not [r for r in ours if r.levelno >= logging.ERROR]  # no traceback
    failed = [r.getMessage() for r in ours if r.levelno == logging.WARNING and "admin" in r.getMessage()]
    assert len(failed) == 3 and all(str(GROUP) in line for line in failed)
    assert TOKEN not in "\n".join(r.getMessage() for r in ours)  # (httpx's own lines are silenced by bot/telegram_cli.py)
    # Once Telegram answers again, the same admin's change goes through.
    assert "日期不早于 2016" in (await next_reply(api, GROUP, "/since 2016", user_id=ADMIN))["params"]["text"]
