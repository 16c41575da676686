"""Getting requests to Telegram: flood limits per chat, retries only where repeating is safe.

python-telegram-bot calls `ChatRateLimiter.process_request` for every Bot API request
except getUpdates. Three kinds of request are treated differently:

- messages (sendMessage, editMessageText, ...) are paced (30 a second overall, 20 a
  minute per group) and are not safe to repeat: a repeat after a read timeout or a
  dropped connection can answer twice. They are retried only when the request surely
  did not reach Telegram (no connection was made, or Telegram answered with an error);
  otherwise `UncertainDelivery` is raised and the caller must not send it again.
- the typing indicator (sendChatAction) is sent once, never retried;
- everything else (answerCallbackQuery, getMe, setMyCommands, leaveChat, ...) is safe
  to repeat and is retried with exponential backoff.

A 429 (RetryAfter) pauses only the chat it names; other chats go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from enum import StrEnum
from typing import Any

import httpx
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseRateLimiter

from bot.telegram_metrics import Metrics, TelegramErrorKind
from bot.telegram_settings import TransportSettings

log = logging.getLogger(__name__)

_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RequestKind(StrEnum):
    MESSAGE = "message"
    CHAT_ACTION = "chat-action"
    REPEATABLE = "repeatable"


class UncertainDelivery(NetworkError):
    """A message send failed in a way that leaves unknown whether Telegram delivered it."""

    def __init__(self, endpoint: str, error: TelegramError) -> None:
        super().__init__(f"{endpoint}: {error.message}; it may have been delivered, so it is not sent again")
        self.endpoint = endpoint


def request_kind(endpoint: str) -> RequestKind:
    if endpoint == "sendChatAction":
        return RequestKind.CHAT_ACTION
    if endpoint.startswith(("send", "edit", "copy", "forward")):
        return RequestKind.MESSAGE
    return RequestKind.REPEATABLE


def error_kind(error: BaseException) -> TelegramErrorKind:
    if isinstance(error, RetryAfter):
        return TelegramErrorKind.RETRY_AFTER
    if isinstance(error, TimedOut):
        return TelegramErrorKind.TIMEOUT
    if isinstance(error, BadRequest):
        return TelegramErrorKind.BAD_REQUEST
    if isinstance(error, Forbidden):
        return TelegramErrorKind.FORBIDDEN
    if isinstance(error, Conflict):
        return TelegramErrorKind.CONFLICT
    if isinstance(error, NetworkError):
        return TelegramErrorKind.SERVER if error.__cause__ is None else TelegramErrorKind.NETWORK
    return TelegramErrorKind.OTHER


def surely_not_sent(error: TelegramError) -> bool:
    """True when the request cannot have taken effect: no connection was made, or the Bot API itself
    answered `ok: false` with a 5xx (python-telegram-bot raises those with no cause). Read timeouts,
    dropped connections and unparsable replies (a proxy's error page) leave it unknown."""
    if isinstance(error, BadRequest | UncertainDelivery):
        return False
    if isinstance(error.__cause__, _NOT_CONNECTED):
        return True
    return isinstance(error, NetworkError) and not isinstance(error, TimedOut) and error.__cause__ is None


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_group(chat_id: object) -> bool:
    # Groups, supergroups and channels have negative ids; a username ("@channel") is a channel.
    if isinstance(chat_id, int):
        return chat_id < 0
    return isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit()


def _chat_id(data: dict[str, Any]) -> int | str | None:
    chat_id = data.get("chat_id")
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        return int(chat_id)
    return chat_id


class ChatRateLimiter(BaseRateLimiter[None]):
    """Telegram's flood limits and retries, with a 429 for one chat holding back only that chat."""

    def __init__(self, settings: TransportSettings, metrics: Metrics, sleep: Callable = asyncio.sleep) -> None:
        self._settings = settings
        self._metrics = metrics
        self._sleep = sleep
        # 2% slack: the server counts by its own clock, and network jitter must not make 31 of 30.
        self._interval = 1.02 / settings.messages_per_second
        self._next_send = 0.0
        self._send_lock: asyncio.Lock | None = None
        self._paused_until: dict[int | str, float] = {}
        self._group_sends: dict[int | str, deque[float]] = {}

    async def initialize(self) -> None:
        self._send_lock = asyncio.Lock()

    async def shutdown(self) -> None:
        pass

    def paused(self, chat_id: int | str) -> bool:
        """Whether Telegram asked us to wait before sending to this chat."""
        return self._paused_until.get(chat_id, 0.0) > asyncio.get_running_loop().time()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint == "getUpdates":  # the updater has its own retry loop
            return await callback(*args, **kwargs)
        kind = request_kind(endpoint)
        chat_id = _chat_id(data)
        attempt = 0
        while True:
            if kind is RequestKind.MESSAGE:
                await self._pace(chat_id)
            try:
                return await callback(*args, **kwargs)
            except TelegramError as error:
                self._metrics.telegram_error(error_kind(error))
                delay = None
                if kind is not RequestKind.CHAT_ACTION and attempt < self._settings.retries:
                    delay = self._retry_delay(kind, chat_id, error, attempt)
                if delay is None:
                    final = self._final(kind, endpoint, error)
                    if final is error:
                        raise
                    raise final from error
                if isinstance(error, RetryAfter):
                    wait = _seconds(error.retry_after)
                    log.warning("%s to chat %s: flood control, waiting %.1f s", endpoint, chat_id, wait)
                else:
                    log.warning("%s to chat %s failed (%s); retrying in %.1f s", endpoint, chat_id, error, delay)
                await self._sleep(delay)
                attempt += 1

    def _retry_delay(
        self, kind: RequestKind, chat_id: int | str | None, error: TelegramError, attempt: int
    ) -> float | None:
        """How long to wait before the next attempt, or None when it must not be repeated."""
        if isinstance(error, RetryAfter):
            wait = _seconds(error.retry_after)
            if wait > self._settings.longest_retry_after:
                return None
            if chat_id is not None and kind is RequestKind.MESSAGE:
                loop = asyncio.get_running_loop()
                until = loop.time() + wait
                self._paused_until[chat_id] = max(until, self._paused_until.get(chat_id, 0.0))
                return 0.0  # _pace waits for the pause, with the other sends to this chat
            return wait
        if isinstance(error, BadRequest | Forbidden | Conflict) or not isinstance(error, NetworkError):
            return None
        if kind is RequestKind.MESSAGE and not surely_not_sent(error):
            return None
        return self._settings.backoff_seconds * 2**attempt

    @staticmethod
    def _final(kind: RequestKind, endpoint: str, error: TelegramError) -> TelegramError:
        if (kind is RequestKind.MESSAGE and isinstance(error, NetworkError) and not isinstance(error, BadRequest)
                and not surely_not_sent(error)):
            return UncertainDelivery(endpoint, error)
        return error

    async def _pace(self, chat_id: int | str | None) -> None:
        """Wait for this chat's 429 pause, its group budget, then a slot in the overall rate."""
        loop = asyncio.get_running_loop()
        if chat_id is not None:
            while True:
                now = loop.time()
                until = self._paused_until.get(chat_id, 0.0)
                if until > now:
                    await self._sleep(until - now)
                    continue
                self._paused_until.pop(chat_id, None)
                if not _is_group(chat_id):
                    break
                sent = self._group_sends.setdefault(chat_id, deque())
                while sent and now - sent[0] >= 60.0:
                    sent.popleft()
                if len(sent) < self._settings.group_messages_per_minute:
                    sent.append(now)
                    break
                await self._sleep(60.0 - (now - sent[0]))
        assert self._send_lock is not None, "ChatRateLimiter.initialize was not called"
        # The lock queues senders in arrival order; the next send is timed from the actual previous one,
        # so no one-second window ever holds more than the allowed number, even after a stall.
        async with self._send_lock:
            wait = self._next_send - loop.time()
            if wait > 0:
                await self._sleep(wait)
            self._next_send = loop.time() + self._interval
