"""The typed results the public API returns: Citation, Hit and Answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from retrieval.text import Span

DEFAULT_K = 5  # passages in an answer unless asked otherwise


class Reason(StrEnum):
    """Why an answer abstained (its JSON value is the string)."""

    EMPTY = "empty"  # nothing searchable in the question
    NO_MATCH = "no-match"  # no passage shares a term with it
    UNKNOWN_WORDS = "unknown-words"  # it hinges on words no document contains
    LOW_COVERAGE = "low-coverage"  # no passage covers enough of it
    FILTERED_OUT = "filtered-out"  # no passage of the documents the filter allows matches it
    UNCERTAIN = "uncertain"  # related passages, but the answer model is not sure they answer


class Outcome(StrEnum):
    """What the bot does with a question."""

    ANSWERED = "answered"  # confident: the headline and the passages
    UNSURE = "unsure"  # related passages, no claim that they answer
    NO_ANSWER = "no_answer"  # the documents do not answer it


class IndexStatus(StrEnum):
    """Where a retriever's index came from."""

    BUILT = "built"
    LOADED = "loaded"
    REBUILT_ANALYZER = "rebuilt: analyzer changed"
    REBUILT_DAMAGED = "rebuilt: damaged"
    REBUILT_CHANGED = "rebuilt: documents changed"
    REBUILT_RANKING = "rebuilt: ranking changed"  # the saved index was built for the other ranking mode
    REMOTE = "remote"  # served by an OpenSearch cluster (Retriever.from_opensearch)


@dataclass(frozen=True)
class Rebuild:
    """Why an index is about to be built: what `on_rebuild` callbacks receive."""

    status: IndexStatus
    # Paths (relative to the folder) of documents added, removed or changed since the saved index;
    # empty when there was no saved index or it could not be used.
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from, enough for a reader to check it.

    `path` is the file's path relative to the folder, with "/" (the same string
    as `doc_id`); `lines` is the (first, last) line of the file the passage
    spans, 1-based, as an editor numbers them (CRLF, LF and CR each end a line).
    `paragraph` counts the cleaned paragraphs of the document, not lines.
    """

    doc_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    paragraph: int
    path: str
    lines: tuple[int, int]


@dataclass(frozen=True)
class Hit:
    """One ranked passage.

    `text` is the passage's content lines as they stand in the file, joined by
    "\n" (blank lines, CRLF and page furniture between them left out);
    `highlights` are (start, end) spans of `text` matching words of the
    question; `start`/`end` are the passage's character offsets in the decoded
    file, and `file_text` is exactly `decoded_file[start:end]`.
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
    file_text: str = field(kw_only=True)

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
    # Why it abstained; None when it answered.
    reason: Reason | None = None
    # Informative words of the question that occur nowhere in the documents.
    missing_words: tuple[str, ...] = ()
    # The question actually searched, when a conversation rewrote a follow-up; None otherwise.
    searched: str | None = None
    # answered / unsure / no_answer; `abstained` is true exactly when not answered.
    outcome: Outcome | None = None  # None: derived from `abstained`
    # The probability that the best sentence holds the answer (calibrated on held-out articles).
    confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome is None:
            object.__setattr__(self, "outcome", Outcome.NO_ANSWER if self.abstained else Outcome.ANSWERED)
        elif self.abstained != (self.outcome != Outcome.ANSWERED):
            raise ValueError(f"abstained={self.abstained} contradicts outcome={self.outcome}")
