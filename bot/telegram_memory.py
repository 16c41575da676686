"""Which message answered which question, so that editing a question updates its answer.

Kept in memory only: after a restart an edited question gets a new answer instead.
(Button ids and conversations are per chat, in bot/telegram_chats.py.)
"""

from __future__ import annotations

from collections import OrderedDict


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
