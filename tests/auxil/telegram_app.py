"""Running the real Application in the test's event loop against the fake Bot API."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram_bot import ALLOWED_UPDATES, build_application
from bot.telegram_metrics import Metrics
from bot.telegram_settings import BotSettings, TransportSettings
from retrieval import Retriever
from tests.auxil.fake_bot_api import FakeBotApi

TOKEN = "123456:TEST-token-never-logged"
# Short waits so that the fault tests stay quick; the read timeout is still well above a normal reply.
FAST = TransportSettings(backoff_seconds=0.05, read_timeout=5, connect_timeout=2, pool_timeout=2)


async def start_bot(api: FakeBotApi, retriever: Retriever, settings: BotSettings, polling: bool = True) -> Application:
    application = build_application(TOKEN, retriever, settings, base_url=api.url)
    await application.initialize()
    await application.bot_data["telegram_bot"].post_init(application)
    await application.start()
    if polling:
        # As run_polling does: polling errors go to the application's error handler.
        await application.updater.start_polling(
            poll_interval=0.0, timeout=1, allowed_updates=list(ALLOWED_UPDATES),
            error_callback=lambda error: application.create_task(application.process_error(None, error)),
        )
    return application


async def stop_bot(application: Application) -> None:
    if application.updater.running:
        await application.updater.stop()
    await application.stop()
    await application.bot_data["telegram_bot"].post_shutdown(application)
    await application.shutdown()


def metrics_of(application: Application) -> Metrics:
    return application.bot_data["metrics"]


async def next_reply(api: FakeBotApi, chat_id: int, text: str, chat_type: str | None = None, **options) -> dict:
    """Send `text` and wait for the bot's next message in the chat; returns it as the server stored it."""
    before = len(api.delivered_calls())
    api.user_message(chat_id, text, chat_type=chat_type or ("private" if chat_id > 0 else "group"), **options)

    def replied():
        calls = [c for c in api.delivered_calls()[before:] if int(c.params["chat_id"]) == chat_id]
        return calls[0] if calls else None

    call = await api.wait_for(replied)
    return {"params": call.params, "message": call.result}


def buttons_of(params: dict) -> dict[str, str]:
    """A sent message's inline buttons: label -> callback data."""
    return {b["text"]: b["callback_data"] for row in params["reply_markup"]["inline_keyboard"] for b in row}
