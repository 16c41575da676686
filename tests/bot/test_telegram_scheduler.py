"""The scheduler: button presses and newcomers first, chats in turn, one update of a chat at a time, each once."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.telegram_metrics import Metrics
from bot.telegram_scheduler import FairUpdateProcessor

_ids = iter(range(1, 10_000))


def _message(chat_id: int, update_id: int | None = None) -> Update:
    return Update.de_json(
        {
            "update_id": update_id or next(_ids),
            "message": {"message_id": next(_ids), "date": 0, "chat": {"id": chat_id, "type": "private"},
                        "from": {"id": chat_id, "is_bot": False, "first_name": "u"}, "text": "问题"},
        },
        None,
    )


def _press(chat_id: int) -> Update:
    return Update.de_json(
        {"update_id": next(_ids), "callback_query": {"id": "q", "chat_instance": "c", "data": "m:x",
                                                       "from": {"id": chat_id, "is_bot": False, "first_name": "u"}}},
        None,
    )


async def _run_all(processor: FairUpdateProcessor, updates: list[tuple[str, Update]]) -> list[str]:
    """Hand the updates over in order (as python-telegram-bot does, each in its own task); the order they ran."""
    ran: list[str] = []
    gate = asyncio.Event()

    async def handle(name: str) -> None:
        ran.append(name)
        if name == updates[0][0]:
            await gate.wait()

    tasks = []
    for name, update in updates:
        tasks.append(asyncio.create_task(processor.process_update(update, handle(name))))
        await asyncio.sleep(0)
    gate.set()  # the first update held the only worker until everything was queued
    await asyncio.gather(*tasks)
    return ran


async def test_buttons_then_newcomers_go_first_then_chats_take_turns():
    processor = FairUpdateProcessor(workers=1, metrics=Metrics())
    busy, other = 10, 20
    await processor.process_update(_message(busy), asyncio.sleep(0))  # both chats asked before: no newcomers
    await processor.process_update(_message(other), asyncio.sleep(0))
    updates = [(f"busy {n}", _message(busy)) for n in range(1, 6)]
    updates += [("other", _message(other)), ("newcomer", _message(30)), ("button", _press(busy))]
    ran = await _run_all(processor, updates)
    assert ran == ["busy 1", "button", "newcomer", "busy 2", "other", "busy 3", "busy 4", "busy 5"]


async def test_an_update_delivered_twice_runs_once():
    metrics = Metrics()
    processor = FairUpdateProcessor(workers=4, metrics=metrics)
    ran = []

    async def handle() -> None:
        ran.append(1)

    await processor.process_update(_message(1, update_id=777), handle())
    await processor.process_update(_message(1, update_id=777), handle())
    assert ran == [1]
    assert metrics.duplicate_updates == 1
