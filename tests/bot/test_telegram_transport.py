"""The transport: which failed requests are repeated, flood limits overall and per chat (no server needed)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.telegram_metrics import Metrics, TelegramErrorKind
from bot.telegram_settings import TransportSettings
from bot.telegram_transport import ChatRateLimiter, UncertainDelivery

FAST = TransportSettings(backoff_seconds=0.01, retries=3, messages_per_second=1000)


def _caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


def _connect_error() -> Exception:
    return _caused(NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("refused"))


def _read_timeout() -> Exception:
    return _caused(TimedOut(), httpx.ReadTimeout("slow"))


def _dropped() -> Exception:
    return _caused(NetworkError("httpx.RemoteProtocolError: disconnected"), httpx.RemoteProtocolError("disconnected"))


def _server_error() -> Exception:
    return NetworkError("Internal Server Error")  # the Bot API answered ok: false with a 5xx


async def _limiter(settings: TransportSettings = FAST) -> tuple[ChatRateLimiter, Metrics]:
    metrics = Metrics()
    limiter = ChatRateLimiter(settings, metrics)
    await limiter.initialize()
    return limiter, metrics


class Endpoint:
    """A Bot API method that fails with the given errors, then succeeds; it counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> dict:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


async def _send(limiter: ChatRateLimiter, endpoint: Endpoint, method: str = "sendMessage", chat_id: int = 1):
    return await limiter.process_request(endpoint, (), {}, method, {"chat_id": chat_id}, None)


async def test_a_message_is_sent_again_only_when_it_surely_did_not_arrive():
    limiter, metrics = await _limiter()
    refused = Endpoint(_connect_error(), _server_error(), RetryAfter(0))
    assert await _send(limiter, refused) == {"ok": True}
    assert refused.calls == 4
    for maybe_delivered in (_read_timeout(), _dropped()):
        endpoint = Endpoint(maybe_delivered)
        with pytest.raises(UncertainDelivery):
            await _send(limiter, endpoint)
        assert endpoint.calls == 1
    bad = Endpoint(BadRequest("message is too long"))
    with pytest.raises(BadRequest):
        await _send(limiter, bad)
    assert bad.calls == 1
    assert metrics.errors[TelegramErrorKind.NETWORK] == 2  # the connect error and the drop
    assert metrics.errors[TelegramErrorKind.TIMEOUT] == 1
    assert metrics.errors[TelegramErrorKind.SERVER] == 1


async def test_requests_safe_to_repeat_are_repeated_and_the_typing_indicator_never_is():
    limiter, _ = await _limiter()
    callback_answer = Endpoint(_read_timeout(), _dropped())
    assert await _send(limiter, callback_answer, "answerCallbackQuery") == {"ok": True}
    assert callback_answer.calls == 3
    typing = Endpoint(_server_error())
    with pytest.raises(NetworkError):
        await _send(limiter, typing, "sendChatAction")
    assert typing.calls == 1
    give_up = Endpoint(*(_connect_error() for _ in range(10)))
    with pytest.raises(NetworkError):
        await _send(limiter, give_up)
    assert give_up.calls == FAST.retries + 1


async def test_a_429_for_one_chat_holds_back_only_that_chat():
    limiter, metrics = await _limiter()
    order: list[str] = []

    class Flooded(Endpoint):
        async def __call__(self) -> dict:
            order.append("group")
            return await super().__call__()

    async def private(n: int) -> None:
        await asyncio.sleep(0.05 * n)
        await _send(limiter, Endpoint(), chat_id=100 + n)
        order.append(f"private {n}")

    group = Flooded(RetryAfter(1))
    await asyncio.gather(_send(limiter, group, chat_id=-500), *(private(n) for n in range(1, 6)))
    assert order == ["group", *(f"private {n}" for n in range(1, 6)), "group"]
    assert metrics.errors[TelegramErrorKind.RETRY_AFTER] == 1


async def test_no_one_second_window_holds_more_than_the_overall_limit():
    limiter, _ = await _limiter(TransportSettings(messages_per_second=20))
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def endpoint() -> dict:
        times.append(loop.time())
        return {"ok": True}

    await asyncio.gather(*(limiter.process_request(endpoint, (), {}, "sendMessage", {"chat_id": n}, None)
                           for n in range(45)))
    assert len(times) == 45
    busiest = max(sum(1 for t in times if start <= t < start + 0.99) for start in times)
    assert busiest <= 20


async def test_a_group_gets_at_most_its_messages_a_minute():
    limiter, _ = await _limiter(TransportSettings(group_messages_per_minute=3, messages_per_second=1000))
    sent = 0

    async def endpoint() -> dict:
        nonlocal sent
        sent += 1
        return {"ok": True}

    tasks = [asyncio.create_task(limiter.process_request(endpoint, (), {}, "sendMessage", {"chat_id": -9}, None))
             for _ in range(5)]
    await asyncio.sleep(0.3)
    assert sent == 3  # the other two wait for the minute to pass
    await limiter.process_request(endpoint, (), {}, "sendMessage", {"chat_id": 9}, None)
    assert sent == 4  # a private chat is not held back by the group
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
