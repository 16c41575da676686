"""The Telegram bot assembled: python-telegram-bot's Application with our handlers, transport and scheduler.

Run it with `python -m bot telegram` (see bot/telegram_cli.py and the README). The parts:

    telegram_handlers   parse a message, ask the core, reply with text from bot/render.py
    telegram_transport  flood limits per chat; retries only where repeating a request is safe
    telegram_scheduler  button presses and newcomers first, chats in turn, each update once
    telegram_chats      each chat's settings, filters, conversations' last turns and button ids
    telegram_persistence  that state in a SQLite file, across restarts
    telegram_memory     which message answered which question
    telegram_limiter    questions per user per minute
    telegram_metrics    outcome counts, latency, errors; /healthz and /metrics
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from bot.telegram_handlers import TelegramBot
from bot.telegram_metrics import Metrics
from bot.telegram_persistence import SqlitePersistence
from bot.telegram_scheduler import FairUpdateProcessor
from bot.telegram_settings import BotSettings
from bot.telegram_transport import ChatRateLimiter
from retrieval import Retriever

# Subscribing to more (channel posts, reactions, member changes...) would only bring work to ignore.
ALLOWED_UPDATES = (Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY)


def build_application(
    token: str, retriever: Retriever, settings: BotSettings, base_url: str | None = None, **builder_options
) -> Application:
    """The Application, wired with the handlers, the per-chat rate limiter and the fair scheduler."""
    metrics = Metrics()
    telegram_bot = TelegramBot(retriever, settings, metrics)
    transport = settings.transport
    builder: ApplicationBuilder = (
        Application.builder()
        .token(token)
        .concurrent_updates(FairUpdateProcessor(settings.workers, metrics))
        .rate_limiter(ChatRateLimiter(transport, metrics))
        .read_timeout(transport.read_timeout)
        .write_timeout(transport.read_timeout)
        .connect_timeout(transport.connect_timeout)
        .pool_timeout(transport.pool_timeout)
        .connection_pool_size(4 * settings.workers + 16)
        .post_init(telegram_bot.post_init)
        .post_shutdown(telegram_bot.post_shutdown)
    )
    if settings.state_path is not None:
        builder = builder.persistence(SqlitePersistence(settings.state_path))
    if base_url:
        builder = builder.base_url(base_url.rstrip("/") + "/bot").base_file_url(base_url.rstrip("/") + "/file/bot")
    for name, value in builder_options.items():
        builder = getattr(builder, name)(value)
    application = builder.build()
    telegram_bot.install(application)
    application.bot_data["telegram_bot"] = telegram_bot
    application.bot_data["metrics"] = metrics
    return application
