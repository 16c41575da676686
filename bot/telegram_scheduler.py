"""Which update is handled next: button presses and newcomers first, then chats in turn, each update once.

python-telegram-bot hands every update to `FairUpdateProcessor.do_process_update` as soon as
it arrives. At most `workers` are handled at a time; the others wait here:

- a button press (callback query) goes first, then the first message of a chat not seen
  before, so neither is stuck behind a burst from other chats (and a press, which Telegram
  expects acknowledged within seconds, not behind a burst of newcomers either);
- every other update waits in its chat's queue; chats take turns (round robin), and one
  chat has one update in progress at a time, so its answers keep their order and an edited
  question follows the answer it edits;
- an update whose update_id was already handled (a redelivered webhook call) is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.telegram_metrics import Metrics

log = logging.getLogger(__name__)

# python-telegram-bot's own cap on updates in flight; ours is `workers`, so this only bounds memory.
MAX_PENDING = 100_000


@dataclass
class _Ticket:
    chat_id: int | None  # the chat whose turn it holds; None for a button press
    newcomer: bool = False
    granted: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class FairUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, workers: int, metrics: Metrics, remembered: int = 10_000) -> None:
        super().__init__(max_concurrent_updates=MAX_PENDING)
        self._workers = workers
        self._metrics = metrics
        self._remembered = remembered
        self._running = 0
        self._buttons: deque[_Ticket] = deque()
        self._newcomers: deque[_Ticket] = deque()
        self._chats: OrderedDict[int, deque[_Ticket]] = OrderedDict()  # chats with waiting updates, in turn
        self._busy_chats: set[int] = set()
        self._seen_chats: OrderedDict[int, None] = OrderedDict()
        self._seen_updates: OrderedDict[int, None] = OrderedDict()
        metrics.queue_depth = self.waiting

    def waiting(self) -> int:
        return len(self._buttons) + len(self._newcomers) + sum(len(q) for q in self._chats.values())

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if isinstance(update, Update):
            if update.update_id in self._seen_updates:
                self._metrics.duplicate_updates += 1
                log.info("update %d was delivered again; handled once already", update.update_id)
                if asyncio.iscoroutine(coroutine):
                    coroutine.close()
                return
            _remember(self._seen_updates, update.update_id, self._remembered)
            self._metrics.arrived(update.update_id)
        ticket = self._ticket(update)
        await self._wait_for_turn(ticket)
        try:
            await coroutine
        finally:
            self._release(ticket)
            if isinstance(update, Update):
                self._metrics.forget(update.update_id)  # a command or a button: no question to time

    def _ticket(self, update: object) -> _Ticket:
        if not isinstance(update, Update) or update.callback_query is not None or update.effective_chat is None:
            return _Ticket(None)
        chat_id = update.effective_chat.id
        new = chat_id not in self._seen_chats
        _remember(self._seen_chats, chat_id, self._remembered)
        return _Ticket(chat_id, newcomer=new)

    async def _wait_for_turn(self, ticket: _Ticket) -> None:
        if ticket.chat_id is None:
            self._buttons.append(ticket)
        elif ticket.newcomer:
            self._newcomers.append(ticket)
        else:
            assert ticket.chat_id is not None
            self._chats.setdefault(ticket.chat_id, deque()).append(ticket)
        self._dispatch()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            if ticket.granted.done() and not ticket.granted.cancelled():
                self._release(ticket)
            raise

    def _release(self, ticket: _Ticket) -> None:
        self._running -= 1
        if ticket.chat_id is not None:
            self._busy_chats.discard(ticket.chat_id)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._running < self._workers:
            ticket = self._next_button() or self._next_newcomer() or self._next_in_turn()
            if ticket is None:
                return
            self._running += 1
            if ticket.chat_id is not None:
                self._busy_chats.add(ticket.chat_id)
            ticket.granted.set_result(None)

    def _next_button(self) -> _Ticket | None:
        while self._buttons:
            ticket = self._buttons.popleft()
            if not ticket.granted.cancelled():
                return ticket
        return None

    def _next_newcomer(self) -> _Ticket | None:
        for _ in range(len(self._newcomers)):
            ticket = self._newcomers.popleft()
            if ticket.granted.cancelled():
                continue
            if ticket.chat_id in self._busy_chats:
                # A newcomer's second message arrived while the first is in progress: wait in its chat's queue.
                self._chats.setdefault(ticket.chat_id, deque()).appendleft(ticket)
                continue
            return ticket
        return None

    def _next_in_turn(self) -> _Ticket | None:
        for chat_id in list(self._chats):
            if chat_id in self._busy_chats:
                continue
            queue = self._chats[chat_id]
            while queue and queue[0].granted.cancelled():
                queue.popleft()
            if not queue:
                del self._chats[chat_id]
                continue
            ticket = queue.popleft()
            if queue:
                self._chats.move_to_end(chat_id)
            else:
                del self._chats[chat_id]
            return ticket
        return None


def _remember(seen: OrderedDict[int, None], key: int, capacity: int) -> None:
    seen[key] = None
    seen.move_to_end(key)
    while len(seen) > capacity:
        seen.popitem(last=False)
