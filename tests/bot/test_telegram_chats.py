"""Each chat's state (bot/telegram_chats.py) and its SQLite persistence (bot/telegram_persistence.py)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bot.telegram_chats import FOLLOW_UP_SECONDS, AnswerStyle, ChatSettings, ChatState, ShownAnswer
from bot.telegram_persistence import SqlitePersistence


def test_a_private_follow_up_window_of_ten_minutes():
    state = ChatState({}, capacity=10)
    state.remember_turn(500, "京东每天的流量有多少?", None, now=1000.0)
    assert state.recent_turn(now=1000.0 + FOLLOW_UP_SECONDS - 1).searched == "京东每天的流量有多少?"
    assert state.recent_turn(now=1000.0 + FOLLOW_UP_SECONDS + 1) is None
    assert state.turn(500) is not None  # a reply still continues it, however late
    state.remember_turn(501, "腾讯每天的流量有多少?", 500, now=1100.0)
    assert state.turn_before(501).answer_id == 500
    state.forget_turns()
    assert state.turn(500) is None and state.recent_turn(now=1100.0) is None


def test_turns_and_buttons_are_bounded_oldest_first():
    data: dict = {}
    state = ChatState(data, capacity=3)
    keys = [state.remember_answer(ShownAnswer(f"问题{n}", 3, 3, ChatSettings())) for n in range(5)]
    for n in range(5):
        state.remember_turn(n, f"问题{n}", None)
    assert [state.answer(k) is not None for k in keys] == [False, False, True, True, True]
    assert [state.turn(n) is not None for n in range(5)] == [False, False, True, True, True]
    assert all(len(k) == 8 for k in keys)
    json.dumps(data)  # plain JSON, for any persistence


def test_settings_from_damaged_or_old_json_fall_back_to_defaults():
    assert ChatSettings.from_json(None) == ChatSettings()
    assert ChatSettings.from_json({"k": 999, "style": "huge", "since": 2015, "sources": "易商讯"}) == ChatSettings()
    stored = ChatSettings(k=5, style=AnswerStyle.SHORT, since="2015", sources=("易商讯",))
    assert ChatSettings.from_json(json.loads(json.dumps(stored.to_json()))) == stored
    assert ShownAnswer.from_json({"q": 1}) is None


async def test_sqlite_persistence_keeps_chat_data_across_instances(tmp_path):
    path = tmp_path / "deep" / "state.sqlite3"
    first = SqlitePersistence(path)
    await first.update_chat_data(-100, {"settings": {"k": 5}, "名字": "群"})
    await first.update_chat_data(7, {"settings": {"k": 1}})
    await first.drop_chat_data(7)
    await first.flush()
    second = SqlitePersistence(path)
    assert await second.get_chat_data() == {-100: {"settings": {"k": 5}, "名字": "群"}}
    assert await second.get_bot_data() == {} and await second.get_user_data() == {}


async def test_a_damaged_row_is_skipped_and_a_file_that_is_not_sqlite_is_named(tmp_path, caplog):
    path = tmp_path / "state.sqlite3"
    persistence = SqlitePersistence(path)
    await persistence.update_chat_data(1, {"ok": True})
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO chat_data VALUES (2, '{not json')")
    connection.close()
    assert await SqlitePersistence(path).get_chat_data() == {1: {"ok": True}}
    assert "chat 2" in caplog.text
    other = tmp_path / "notes.txt"
    other.write_text("这不是数据库" * 100, encoding="utf-8")
    with pytest.raises(OSError, match="notes.txt"):
        SqlitePersistence(other)
