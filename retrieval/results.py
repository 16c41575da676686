"""The typed results the public API returns: Citation, Hit and Answer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Span = tuple[int, int]


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from, enough for a reader to check it."""

    doc_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    paragraph: int


@dataclass(frozen=True)
class Hit:
    """One ranked passage.

    `text` is the passage as it stands in the file; `highlights` are (start, end)
    spans of `text` matching words of the question; `start`/`end` are the
    passage's character offsets in the decoded file.
    """

    text: str
    score: float
    citation: Citation
    highlights: tuple[Span, ...]
    rank: int
    start: int
    end: int
    # Spans of `text` that are conversion noise (pinyin such as "(yè)"): shown
    # to nobody, kept so that `text` stays the file's own characters.
    hidden: tuple[Span, ...] = ()

    def segments(self) -> list[tuple[str, bool]]:
        """The readable text as (piece, highlighted) pairs, noise left out."""
        marks = [0] * (len(self.text) + 1)
        for start, end in self.highlights:
            for i in range(start, end):
                marks[i] = 1
        for start, end in self.hidden:
            for i in range(start, end):
                marks[i] = 2
        pieces: list[tuple[str, bool]] = []
        i = 0
        while i < len(self.text):
            j = i
            while j < len(self.text) and marks[j] == marks[i]:
                j += 1
            if marks[i] != 2:
                piece = self.text[i:j]
                if pieces and pieces[-1][1] == bool(marks[i]):
                    pieces[-1] = (pieces[-1][0] + piece, pieces[-1][1])
                else:
                    pieces.append((piece, bool(marks[i])))
            i = j
        return pieces

    @property
    def display_text(self) -> str:
        """The passage with conversion noise removed, for reading."""
        return "".join(piece for piece, _ in self.segments())


class Outcome(StrEnum):
    """What the bot does with a question."""

    ANSWERED = "answered"  # confident: the headline and the passages
    UNSURE = "unsure"  # related passages, no claim that they answer
    NO_ANSWER = "no_answer"  # the documents do not answer it


@dataclass(frozen=True)
class Answer:
    """What `Retriever.ask` returns: the best passages, or an honest abstention."""

    question: str
    hits: tuple[Hit, ...]
    abstained: bool
    # The one sentence of the passages that best answers, noise removed, and the
    # index in `hits` of the passage it comes from.
    best_sentence: str | None
    best_sentence_hit: int | None
    # Why it abstained: "empty" (no searchable words), "no-match" (no passage
    # shares a word), "unknown-words" or "low-coverage"; None when it answered.
    reason: str | None = None
    # Informative words of the question that occur nowhere in the documents.
    missing_words: tuple[str, ...] = ()
    # answered / unsure / no_answer; `abstained` is true exactly when not answered.
    outcome: Outcome | None = None  # None: derived from `abstained`
    # The probability that the best sentence holds the answer (calibrated on held-out articles).
    confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome is None:
            object.__setattr__(self, "outcome", Outcome.NO_ANSWER if self.abstained else Outcome.ANSWERED)
        elif self.abstained != (self.outcome != Outcome.ANSWERED):
            raise ValueError(f"abstained={self.abstained} contradicts outcome={self.outcome}")
