"""At most so many questions a user in any sliding minute, with one warning per burst."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    ALLOW = "allow"
    WARN = "warn"  # over the limit: tell the user once
    QUIET = "quiet"  # over the limit and already told: say nothing (in a group it would spend the group's budget)


@dataclass
class QuestionLimiter:
    per_minute: int
    _times: dict[int, deque[float]] = field(default_factory=dict)
    _warned: set[int] = field(default_factory=set)

    def check(self, user_id: int, now: float | None = None) -> Verdict:
        now = time.monotonic() if now is None else now
        times = self._times.setdefault(user_id, deque())
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= self.per_minute:
            if user_id in self._warned:
                return Verdict.QUIET
            self._warned.add(user_id)
            return Verdict.WARN
        self._warned.discard(user_id)
        times.append(now)
        return Verdict.ALLOW
