"""`python -m bot telegram` as a process: start-up, token handling, clean stop on signals."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TOKEN = "987654:SECRET-token-must-not-leak"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(start_fake_api):
    """The fake Bot API for this file's token (the process reads it from its environment), not the shared one."""
    return start_fake_api(TOKEN)


def _start(bot_env, *args: str, token: str | None = TOKEN) -> subprocess.Popen:
    env = dict(bot_env)
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "telegram", *args],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


async def test_runs_answers_and_stops_cleanly_on_sigterm_without_leaking_the_token(api, bot_env, tmp_path):
    state = tmp_path / "state.sqlite3"
    process = _start(bot_env, "--base-url", api.url, "--state", str(state))
    try:
        await api.wait_for(lambda: api.called("setMyCommands"), timeout=60)
        api.user_message(4001, "腾讯模仿泡泡堂做了哪个游戏?")
        # The answer is being worked on once the typing indicator is sent: stop now.
        await api.wait_for(lambda: api.called("sendChatAction"), timeout=30)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert len(api.sent(4001)) == 1  # the answer in flight was still sent
    assert "泡泡堂" in api.sent(4001)[0]["text"]
    assert TOKEN not in stdout + stderr
    assert TOKEN.split(":")[1] not in stdout + stderr
    assert "Traceback" not in stderr
    # The chat's state was written at the stop: the answer's turn and its buttons.
    with closing(sqlite3.connect(state)) as connection:
        rows = connection.execute("SELECT chat_id, data FROM chat_data").fetchall()
    assert [chat for chat, _ in rows] == [4001]
    assert set(json.loads(rows[0][1])) >= {"turns", "answers", "last"}


async def test_sigint_stops_it_too(api, bot_env):
    process = _start(bot_env, "--base-url", api.url)
    try:
        await api.wait_for(lambda: api.called("setMyCommands"), timeout=60)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert TOKEN not in stderr


def test_a_state_file_that_is_not_sqlite_is_one_clear_line(bot_env, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("这不是数据库。" * 200, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "telegram", "--state", str(notes)], env={**bot_env, "TELEGRAM_BOT_TOKEN": TOKEN},
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "notes.txt" in result.stderr and "--state" in result.stderr
    assert notes.read_text(encoding="utf-8") == "这不是数据库。" * 200  # untouched


def test_missing_token_is_one_clear_line(bot_env):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "telegram"], env=bot_env, cwd=REPO, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "TELEGRAM_BOT_TOKEN" in result.stderr


async def test_rejected_token_ends_with_one_clear_line(api, bot_env):
    wrong = "111111:WRONG-token-also-secret"
    process = _start(bot_env, "--base-url", api.url, token=wrong)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "拒绝了这个令牌" in stderr
    assert wrong not in stderr and "Traceback" not in stderr


async def test_unreachable_server_is_a_clear_error_not_a_traceback(bot_env):
    process = _start(bot_env, "--base-url", "http://127.0.0.1:9")
    _, stderr = process.communicate(timeout=90)
    assert process.returncode == 1
    assert "无法连接 Telegram" in stderr
    assert "Traceback" not in stderr and TOKEN not in stderr


async def test_metrics_port_serves_health_and_counts_and_each_question_is_one_log_line(api, bot_env):
    import urllib.request

    port = _free_port()
    process = _start(bot_env, "--base-url", api.url, "--metrics-port", str(port))
    try:
        await api.wait_for(lambda: api.called("setMyCommands"), timeout=60)
        api.user_message(4401, "腾讯模仿泡泡堂做了哪个游戏?")
        await api.wait_for(lambda: api.answers(4401), timeout=30)

        def get(path: str) -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.read().decode()

        health = await asyncio.to_thread(get, "/healthz")
        # The answer reaches the server a moment before the bot counts it: poll, within a bound.
        for _ in range(100):
            metrics = await asyncio.to_thread(get, "/metrics")
            if "\nzhdocqa_questions_total 1\n" in metrics:
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert health == "ok\n"
    assert "\nzhdocqa_questions_total 1\n" in metrics
    assert 'zhdocqa_question_outcomes_total{outcome="answered"} 1' in metrics
    [line] = [line for line in stderr.splitlines() if " question chat=" in line]
    assert "chat=4401" in line and "outcome=answered" in line and "泡泡堂" not in line
    assert TOKEN not in stderr and "Traceback" not in stderr


async def test_a_server_that_is_no_bot_api_is_one_clear_line(api, bot_env):
    del api.bot_user["is_bot"]  # getMe's reply lacks a required field
    process = _start(bot_env, "--base-url", api.url)
    _, stderr = process.communicate(timeout=90)
    assert process.returncode == 1
    assert "Telegram 服务器的回复无法识别" in stderr and "--base-url" in stderr
    assert "Traceback" not in stderr and TOKEN not in stderr
    assert len(stderr.strip().splitlines()) <= 2


def _post(request) -> None:
    import urllib.request

    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_webhook_mode_answers_posted_updates(api, bot_env):
    import json
    import urllib.request

    port = _free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    process = _start(
        bot_env, "--base-url", api.url, "--webhook-url", hook, "--port", str(port), "--listen", "127.0.0.1",
        "--webhook-secret", "s3cret",
    )
    try:
        await api.wait_for(lambda: api.called("setWebhook"), timeout=60)
        assert api.called("setWebhook")[0]["url"] == hook
        update = {
            "update_id": 1,
            "message": {"message_id": 7, "date": int(time.time()), "chat": {"id": 4100, "type": "private"},
                        "from": {"id": 4100, "is_bot": False, "first_name": "用户"}, "text": "谁说来往是阿里的战术性产品?"},
        }
        request = urllib.request.Request(
            hook, data=json.dumps(update).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret"},
        )
        for _ in range(50):  # the listener may still be starting
            try:
                await asyncio.to_thread(_post, request)
                break
            except OSError:
                await asyncio.sleep(0.2)
        answer = (await api.wait_for(lambda: api.sent(4100), timeout=30))[0]
        assert "陆兆禧" in answer["text"]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert TOKEN not in stderr
    finally:
        process.kill()
