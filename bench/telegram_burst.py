"""A burst of questions from many chats against the fake Bot API, with a button pressed in the middle.

    python bench/telegram_burst.py [--questions 1000] [--chats 200] [--rate 30]

The real Application and HTTP stack, with the bot's default settings (30 messages a second,
8 workers), answer `--questions` questions pushed at once from `--chats` private chats
(the questions cycle through three the seeds answer and one they do not). Once 100
answers are out, a 全文 button under an earlier answer is pressed. Printed, not asserted
(the machine is shared and noisy):

- whether every question was answered exactly once;
- latency from the question's arrival at the fake server to its answer's, p50 and p95, and
  p95 beside the floor that the overall flood limit sets (the i-th answer of a burst cannot
  leave before (i - 1) / rate seconds) as a ratio;
- the most answers the server received in any one second;
- how long the button press waited for its acknowledgement and for the full text.

Run it from the repository root (it uses the fake server in tests/auxil/).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.telegram_settings import BotSettings, TransportSettings
from retrieval import Retriever
from tests.auxil.fake_bot_api import FakeBotApi
from tests.auxil.telegram_app import TOKEN, metrics_of, start_bot, stop_bot

QUESTIONS = (
    "腾讯模仿泡泡堂做了哪个游戏?",
    "谁说来往是阿里的战术性产品?",
    "阿里巴巴花了多少钱入股新浪微博?",
    "北京今天的空气质量怎么样?",
)
BUTTON_CHAT = 9


async def run(questions: int, chats: int, rate: float) -> None:
    api = FakeBotApi(TOKEN)
    api.start()
    settings = BotSettings(k=5, transport=replace(TransportSettings(), messages_per_second=rate))
    application = await start_bot(api, Retriever(), settings)
    try:
        api.user_message(BUTTON_CHAT, QUESTIONS[0])
        [answer] = await api.wait_for(lambda: api.delivered_calls(), timeout=30)
        full_text = answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        await api.wait_for(lambda: metrics_of(application).questions == 1)
        await asyncio.sleep(1.5)  # the flood limit's budget back to full, as before any burst

        asked: dict[int, int] = {}
        for n in range(questions):
            chat = 10_000 + n % chats
            asked[api.user_message(chat, QUESTIONS[(n // chats) % len(QUESTIONS)])["message_id"]] = chat
        started = time.monotonic()
        await api.wait_for(lambda: len(api.delivered_calls()) >= 101, timeout=600)
        pressed_at = time.monotonic()
        api.press(BUTTON_CHAT, answer.result, full_text)
        await api.wait_for(lambda: api.called("answerCallbackQuery"), timeout=600)
        acknowledged_at = next(c.at for c in api.calls if c.method == "answerCallbackQuery")
        await api.wait_for(lambda: len(api.answers(BUTTON_CHAT)) == 2, timeout=600)
        full_at = [c for c in api.delivered_calls() if int(c.params["chat_id"]) == BUTTON_CHAT][1].at
        await api.wait_for(lambda: metrics_of(application).questions >= questions + 1, timeout=900)
        await asyncio.sleep(2.0)  # anything sent twice would show up now
        finished = time.monotonic()
    finally:
        await stop_bot(application)
        api.stop()

    replies = [c for c in api.delivered_calls() if int(c.params["chat_id"]) != BUTTON_CHAT]
    per_question = Counter(int(c.params["reply_parameters"]["message_id"]) for c in replies)
    missing = [m for m in asked if per_question[m] == 0]
    twice = [m for m, count in per_question.items() if count > 1]
    wrong_chat = [
        c for c in replies if asked.get(int(c.params["reply_parameters"]["message_id"])) != int(c.params["chat_id"])
    ]
    latencies = sorted(c.at - api.enqueued_at[int(c.params["reply_parameters"]["message_id"])] for c in replies)
    times = sorted(c.at for c in api.delivered_calls())
    busiest = max(sum(1 for t in times[i:i + int(rate) * 3] if t < start + 1.0) for i, start in enumerate(times))
    p95_index = math.ceil(0.95 * len(latencies)) - 1
    p95 = latencies[p95_index]
    floor = p95_index / rate
    print(f"{questions} questions from {chats} chats, rate limit {rate:g} messages/s, {settings.workers} workers")
    print(f"  answered exactly once: {len(asked) - len(missing) - len(twice)} of {len(asked)}"
          f" (missing {len(missing)}, twice {len(twice)}, wrong chat {len(wrong_chat)})")
    print(f"  all answers out after {finished - started - 2.0:.1f} s")
    print(f"  latency p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s;"
          f" floor for p95 at {rate:g}/s {floor:.2f} s; ratio {p95 / floor:.3f}")
    print(f"  most answers the server received in one second: {busiest}")
    print(f"  button pressed during the burst: acknowledged in {acknowledged_at - pressed_at:.2f} s,"
          f" full text delivered in {full_at - pressed_at:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--rate", type=float, default=TransportSettings().messages_per_second,
                        help="the overall flood limit, messages a second (default: the bot's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args.questions, args.chats, args.rate))


if __name__ == "__main__":
    main()
