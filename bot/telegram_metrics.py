"""What an operator watches: question outcomes, latency, Telegram errors, queue depth; /healthz and /metrics."""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Outcome(StrEnum):
    """How a question ended, as the per-question log line and /metrics name it."""

    ANSWERED = "answered"
    NO_ANSWER = "no-answer"  # the documents do not answer it; the user was told
    UNSURE = "unsure"  # related passages shown, with no claim that they answer
    UPDATED = "updated"  # an edited question: the earlier answer was edited in place
    INVALID = "invalid"  # no searchable words, too long, or empty; the user got a hint
    TOO_FAST = "too-fast"
    REFUSED = "refused"  # not on the allow list
    BLOCKED = "blocked"  # the user blocked the bot or the chat is gone
    UNCERTAIN = "uncertain"  # the reply may or may not have arrived; not sent again
    FAILED = "failed"


class TelegramErrorKind(StrEnum):
    RETRY_AFTER = "retry_after"
    TIMEOUT = "timeout"
    NETWORK = "network"
    SERVER = "server"
    BAD_REQUEST = "bad_request"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    OTHER = "other"


class Metrics:
    """Counters kept in memory; one per process."""

    def __init__(self) -> None:
        self.outcomes: Counter[Outcome] = Counter()
        self.errors: Counter[TelegramErrorKind] = Counter()
        self.duplicate_updates = 0
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._arrived: dict[int, float] = {}
        self.queue_depth: Callable[[], int] = lambda: 0
        self.started = time.monotonic()

    @property
    def questions(self) -> int:
        return sum(self.outcomes.values())

    def arrived(self, update_id: int) -> None:
        """An update entered the queue: its question's latency counts from here."""
        self._arrived[update_id] = time.monotonic()

    def finished(self, update_id: int, outcome: Outcome) -> float:
        """A question ended; returns its latency in seconds (queue time included)."""
        latency = time.monotonic() - self._arrived.pop(update_id, time.monotonic())
        self.outcomes[outcome] += 1
        self._buckets[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
        self._latency_sum += latency
        return latency

    def forget(self, update_id: int) -> None:
        self._arrived.pop(update_id, None)

    def telegram_error(self, kind: TelegramErrorKind) -> None:
        self.errors[kind] += 1

    def exposition(self) -> str:
        """The Prometheus text format."""
        lines = [
            "# HELP zhdocqa_questions_total Questions received (every outcome).",
            "# TYPE zhdocqa_questions_total counter",
            f"zhdocqa_questions_total {self.questions}",
            "# HELP zhdocqa_question_outcomes_total Questions by how they ended.",
            "# TYPE zhdocqa_question_outcomes_total counter",
            *(f'zhdocqa_question_outcomes_total{{outcome="{o}"}} {self.outcomes[o]}' for o in Outcome),
            "# HELP zhdocqa_question_latency_seconds From receiving a question to its reply, queue included.",
            "# TYPE zhdocqa_question_latency_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), self._buckets):
            cumulative += count
            lines.append(f'zhdocqa_question_latency_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines += [
            f"zhdocqa_question_latency_seconds_sum {self._latency_sum:.6f}",
            f"zhdocqa_question_latency_seconds_count {cumulative}",
            "# HELP zhdocqa_telegram_errors_total Failed requests to Telegram, by kind (each attempt).",
            "# TYPE zhdocqa_telegram_errors_total counter",
            *(f'zhdocqa_telegram_errors_total{{kind="{k}"}} {self.errors[k]}' for k in TelegramErrorKind),
            "# HELP zhdocqa_duplicate_updates_total Updates delivered again with a known update_id, dropped.",
            "# TYPE zhdocqa_duplicate_updates_total counter",
            f"zhdocqa_duplicate_updates_total {self.duplicate_updates}",
            "# HELP zhdocqa_queue_depth Updates waiting for a worker.",
            "# TYPE zhdocqa_queue_depth gauge",
            f"zhdocqa_queue_depth {self.queue_depth()}",
        ]
        return "\n".join(lines) + "\n"


class MetricsServer:
    """GET /healthz and GET /metrics over plain HTTP, in the bot's own event loop (no extra dependency)."""

    def __init__(self, metrics: Metrics, host: str, port: int, healthy: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._healthy = healthy
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self._host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            if parts[:1] != ["GET"]:
                status, body = "405 Method Not Allowed", "only GET\n"
            elif path == "/metrics":
                status, body = "200 OK", self._metrics.exposition()
            elif path == "/healthz":
                status, body = ("200 OK", "ok\n") if self._healthy() else ("503 Service Unavailable", "stopped\n")
            else:
                status, body = "404 Not Found", "try /metrics or /healthz\n"
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
