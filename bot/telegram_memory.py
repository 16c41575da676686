"""What the bot remembers about its answers: short ids for buttons, and which message answered which question."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

from retrieval import Hit


@dataclass
class ShownAnswer:
    """An answer whose buttons may still be pressed."""

    question: str
    hits: list[Hit]  # every passage shown so far for this question, numbered from 1


class AnswerMemory:
    """Short ids for answers, so buttons carry a few bytes and never the question."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._answers: OrderedDict[str, ShownAnswer] = OrderedDict()

    def remember(self, shown: ShownAnswer) -> str:
        key = secrets.token_urlsafe(6)  # 8 characters
        self._answers[key] = shown
        while len(self._answers) > self._capacity:
            self._answers.popitem(last=False)
        return key

    def get(self, key: str) -> ShownAnswer | None:
        shown = self._answers.get(key)
        if shown is not None:
            self._answers.move_to_end(key)
        return shown


class AnswerMessages:
    """The message that answered each question, by (chat id, question message id): an edit updates it."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._messages: OrderedDict[tuple[int, int], int] = OrderedDict()

    def remember(self, chat_id: int, question_id: int, answer_id: int) -> None:
        self._messages[(chat_id, question_id)] = answer_id
        self._messages.move_to_end((chat_id, question_id))
        while len(self._messages) > self._capacity:
            self._messages.popitem(last=False)

    def get(self, chat_id: int, question_id: int) -> int | None:
        return self._messages.get((chat_id, question_id))
