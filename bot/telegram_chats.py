"""What the bot keeps about each chat: its settings and filters, its conversations' last turns, its buttons.

It all lives in python-telegram-bot's `chat_data` as plain JSON values (strings, numbers,
lists, dicts), so the persistence (bot/telegram_persistence.py) stores it as JSON and a
restart loses nothing: a button pressed the next day still works, a reply to yesterday's
answer is still a follow-up. Each list is bounded: the oldest entries go first.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

FOLLOW_UP_SECONDS = 600.0  # in a private chat, a message this soon after an answer continues it
K_CHOICES = (1, 3, 5, 8, 10)  # passages per answer offered by /settings
MAX_SOURCE_FILTER = 40  # characters of a /source filter


class AnswerStyle(StrEnum):
    """How much an answer in a group shows: everything, or the best sentence and its citation."""

    FULL = "full"
    SHORT = "short"


@dataclass(frozen=True)
class ChatSettings:
    """One chat's choices; None and empty mean the bot's defaults."""

    k: int | None = None
    style: AnswerStyle = AnswerStyle.FULL
    since: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD, as the user wrote it
    sources: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        return self.since is not None or bool(self.sources)

    def without_filters(self) -> ChatSettings:
        return replace(self, since=None, sources=())

    def only_filters(self) -> ChatSettings:
        """The filters alone: what decides which passages answer (k and style only decide how many are shown)."""
        return ChatSettings(since=self.since, sources=self.sources)

    def to_json(self) -> dict[str, Any]:
        return {"k": self.k, "style": str(self.style), "since": self.since, "sources": list(self.sources)}

    @classmethod
    def from_json(cls, data: object) -> ChatSettings:
        """Settings from stored JSON; anything unreadable falls back to the default."""
        if not isinstance(data, dict):
            return cls()
        k = data.get("k")
        style = data.get("style")
        since = data.get("since")
        sources = data.get("sources")
        return cls(
            k=k if isinstance(k, int) and k in K_CHOICES else None,
            style=AnswerStyle(style) if style in tuple(AnswerStyle) else AnswerStyle.FULL,
            since=since if isinstance(since, str) else None,
            sources=tuple(s for s in sources if isinstance(s, str)) if isinstance(sources, list) else (),
        )


@dataclass(frozen=True)
class ShownAnswer:
    """An answer whose buttons may still be pressed: enough to find its passages again.

    Answers are deterministic, so the same question asked for the same number of passages
    under the same filters gives the same passages; storing the question, not the passages,
    keeps each entry a few dozen bytes.
    """

    searched: str  # the question as searched (a follow-up already resolved)
    k: int  # the passages it was asked for (the answer's own, in the order the core ranked them)
    shown: int  # passages numbered so far (0 for a short answer, which numbers none)
    filters: ChatSettings  # the filters it was answered under (only `since` and `sources` count)

    def to_json(self) -> dict[str, Any]:
        return {"q": self.searched, "k": self.k, "n": self.shown, "f": self.filters.to_json()}

    @classmethod
    def from_json(cls, data: object) -> ShownAnswer | None:
        if not isinstance(data, dict) or not isinstance(data.get("q"), str) or not isinstance(data.get("n"), int):
            return None
        k = data.get("k")
        k = k if isinstance(k, int) and k >= 1 else 1
        return cls(data["q"], k, data["n"], ChatSettings.from_json(data.get("f")))


@dataclass(frozen=True)
class Turn:
    """The last turn of a conversation, as the answer message that ended it."""

    answer_id: int  # the bot's message
    searched: str


class ChatState:
    """Typed access to one chat's `chat_data` (a dict python-telegram-bot keeps, and persists)."""

    def __init__(self, data: MutableMapping[str, Any], capacity: int) -> None:
        self._data = data
        self._capacity = capacity  # turns and buttons kept per chat

    # -- settings and filters ---------------------------------------------------------

    @property
    def settings(self) -> ChatSettings:
        return ChatSettings.from_json(self._data.get("settings"))

    @settings.setter
    def settings(self, value: ChatSettings) -> None:
        self._data["settings"] = value.to_json()

    # -- conversations -------------------------------------------------------------------

    def remember_turn(self, answer_id: int, searched: str, previous: int | None, now: float | None = None) -> None:
        """An answer was sent: replies to it continue from `searched`; `previous` is the turn it followed."""
        turns = self._bounded("turns")
        turns[str(answer_id)] = {"q": searched, "after": previous}
        self._data["last"] = {"id": answer_id, "at": time.time() if now is None else now}

    def turn(self, answer_id: int) -> Turn | None:
        """The turn a reply to the bot's message `answer_id` continues, if that message was an answer."""
        entry = self._data.get("turns", {}).get(str(answer_id))
        if not isinstance(entry, dict) or not isinstance(entry.get("q"), str):
            return None
        return Turn(answer_id, entry["q"])

    def turn_before(self, answer_id: int) -> Turn | None:
        """The turn that the answer `answer_id` itself followed (an edited question is asked in it again)."""
        entry = self._data.get("turns", {}).get(str(answer_id))
        previous = entry.get("after") if isinstance(entry, dict) else None
        return self.turn(previous) if isinstance(previous, int) else None

    def recent_turn(self, now: float | None = None) -> Turn | None:
        """The last answer's turn, if it came less than FOLLOW_UP_SECONDS ago."""
        last = self._data.get("last")
        if not isinstance(last, dict) or not isinstance(last.get("id"), int):
            return None
        at = last.get("at")
        if not isinstance(at, int | float) or (time.time() if now is None else now) - at > FOLLOW_UP_SECONDS:
            return None
        return self.turn(last["id"])

    def forget_turns(self) -> None:
        """/new: what follows starts afresh, and replies to earlier answers too."""
        self._data.pop("turns", None)
        self._data.pop("last", None)

    # -- buttons ---------------------------------------------------------------------------

    def remember_answer(self, shown: ShownAnswer) -> str:
        """A short id for the answer's buttons (8 characters; the question never goes into a button)."""
        key = secrets.token_urlsafe(6)
        self._bounded("answers")[key] = shown.to_json()
        return key

    def answer(self, key: str) -> ShownAnswer | None:
        return ShownAnswer.from_json(self._data.get("answers", {}).get(key))

    def update_answer(self, key: str, shown: ShownAnswer) -> None:
        answers = self._data.get("answers")
        if isinstance(answers, dict) and key in answers:
            answers[key] = shown.to_json()

    def _bounded(self, name: str) -> dict[str, Any]:
        """The dict `name`, with room for one more entry (dicts keep insertion order: oldest first)."""
        entries = self._data.get(name)
        if not isinstance(entries, dict):
            entries = self._data[name] = {}
        while len(entries) >= self._capacity:
            del entries[next(iter(entries))]
        return entries
