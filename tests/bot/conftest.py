"""Helpers for driving the terminal adapter as a person would: in a subprocess or a pty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bot_env(tmp_path_factory) -> dict[str, str]:
    """An environment with its own cache and data folders (no user files touched)."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TELEGRAM_BOT_TOKEN")}
    env.update(
        {
            "ZHDOCQA_CACHE_DIR": str(home / "cache"),
            "XDG_DATA_HOME": str(home / "data"),
            "HOME": str(home),
            "TERM": "xterm-256color",
            "COLUMNS": "100",
            "LINES": "40",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


@pytest.fixture
def run_bot(bot_env):
    """Run `python -m bot ARGS` to completion; returns the CompletedProcess."""

    def run(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 120):
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=input,
            capture_output=True,
            text=True,
            env={**bot_env, **(env or {})},
            timeout=timeout,
            cwd=Path(__file__).resolve().parents[2],
        )

    return run


@pytest.fixture
def start_fake_api():
    """Start fake Bot API servers (tests/auxil/fake_bot_api.py) on 127.0.0.1; all stopped after the test."""
    from tests.auxil.fake_bot_api import FakeBotApi

    servers = []

    def start(token: str) -> FakeBotApi:
        server = FakeBotApi(token)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(start_fake_api):
    """One fake Bot API server for the test's bot."""
    from tests.auxil.telegram_app import TOKEN

    return start_fake_api(TOKEN)


@pytest.fixture
async def bot(api, seeds):
    """The Telegram bot over the seeds (3 passages per answer, quick retries), polling the fake Bot API."""
    from bot.telegram_settings import BotSettings
    from tests.auxil.telegram_app import FAST, start_bot, stop_bot

    application = await start_bot(api, seeds, BotSettings(k=3, transport=FAST))
    yield application
    await stop_bot(application)
