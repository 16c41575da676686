"""The Telegram bot's settings, each default defined here once; read from flags and environment at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_QUESTIONS_PER_MINUTE = 20


@dataclass(frozen=True)
class TransportSettings:
    """How requests reach Telegram: flood limits, retries and timeouts.

    Telegram allows about 30 messages a second overall and 20 a minute in a group.
    The read timeout is long because a send that timed out may still have been
    delivered, and such a send is never repeated (it would answer twice).
    """

    messages_per_second: float = 30.0
    group_messages_per_minute: int = 20
    retries: int = 4  # for requests safe to repeat, and for sends that surely did not arrive
    backoff_seconds: float = 0.5  # doubled on each retry
    longest_retry_after: float = 120.0  # a longer flood wait is given up, not waited out
    read_timeout: float = 30.0
    connect_timeout: float = 10.0
    pool_timeout: float = 10.0


@dataclass(frozen=True)
class BotSettings:
    """What the bot needs besides the retriever."""

    k: int  # passages per answer; the CLI owns the default
    allowed_ids: frozenset[int] | None = None  # chat or user ids; None lets everyone in
    questions_per_minute: int = DEFAULT_QUESTIONS_PER_MINUTE
    remembered_answers: int = 2000  # questions whose edit updates their answer (in memory only)
    remembered_per_chat: int = 100  # answers per chat whose buttons still work and whose replies are follow-ups
    remembered_conversations: int = 1000  # conversations kept in memory; others are rebuilt from their last turn
    state_path: Path | None = None  # SQLite file for chat settings, filters, turns and buttons; None: memory only
    workers: int = 8  # updates handled at once; the rest wait in a fair queue
    log_questions: bool = False  # put question text in the log (off: it is the users' data)
    metrics_port: int | None = None
    metrics_listen: str = "127.0.0.1"
    transport: TransportSettings = field(default_factory=TransportSettings)
