"""Ranked passages to an answer: hits with highlights, the best sentence, and abstention.

BM25 scores do not say whether a question is answered (they depend on the
question's length and words), so abstention looks at evidence a reader would:
how much of the question's informative weight the best passages cover, and
whether the question hinges on words that occur nowhere in the documents.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from retrieval.analysis import Analyzer, AnswerKind, Question
from retrieval.collection import PassageSource
from retrieval.results import Answer, Citation, Hit, Reason
from retrieval.text import (
    NOISE,
    Span,
    folds_alike,
    has_cjk,
    is_heading,
    merge_spans,
    noise_spans,
    normalize,
    normalize_with_offsets,
    sentence_spans,
)

# The share of the question's weight one of the best passages must cover.
MIN_COVERAGE = 0.65
PARTIAL_CREDIT = 0.5
# Passages within this fraction of the top score compete for the best sentence.
SENTENCE_POOL = 0.75
COVERAGE_POOL = 3
# Longer best sentences are narrowed to their best clauses.
LONG_SENTENCE = 100
HEADING_FACTOR = 0.6
_CLAUSE = re.compile(r"[^,，;；:：]+[,，;；:：]?")

_YEAR_LIKE = re.compile(r"\d{4}|[去今明前]年|\d{2}年")
_DATE_LIKE = re.compile(r"\d{4}\s*[-/.年]|\d{1,2}\s*月|\d{1,2}\s*日|[去今明前]年|年底|年初|上旬|中旬|下旬")
_NUMBER_LIKE = re.compile(r"\d|[一二三四五六七八九十百千两几][十百千万亿]*[万亿%元倍成股年次位人家]|百分之")


def known_words(words: Sequence[str], lookup_many: Callable[[Sequence[str]], Iterable[int]]) -> frozenset[str]:
    """The words `is_known` accepts, found with one vectorized lookup of the index's terms."""
    bigrams = {w: [w[i : i + 2] for i in range(len(w) - 1)] if len(w) >= 2 and has_cjk(w) else [] for w in words}
    candidates = list(dict.fromkeys([*words, *(b for pairs in bigrams.values() for b in pairs)]))
    present = {term for term, found in zip(candidates, lookup_many(candidates)) if found >= 0}
    return frozenset(w for w in words if w in present or (bigrams[w] and all(b in present for b in bigrams[w])))


def is_known(word: str, document_frequency: Callable[[str], int]) -> bool:
    """True when some passage holds `word`, as a term or (CJK) as all its bigrams."""
    if document_frequency(word) > 0:
        return True
    if len(word) >= 2 and has_cjk(word):
        return all(document_frequency(word[i : i + 2]) > 0 for i in range(len(word) - 1))
    return False


def fits(kind: AnswerKind, text: str) -> bool:
    """True when `text` (normalized) holds an answer of the kind asked for."""
    if kind == AnswerKind.YEAR:
        return bool(_YEAR_LIKE.search(text))
    if kind == AnswerKind.WHEN:
        return bool(_DATE_LIKE.search(text))
    if kind == AnswerKind.NUMBER:
        return bool(_NUMBER_LIKE.search(text))
    return True


@dataclass(frozen=True)
class Evidence:
    """How well a passage covers the question."""

    coverage: float
    matched: frozenset[str]


class QuestionWords:
    """The informative words of a question and the weight each one carries.

    Weights come from a general-language IDF, not the collection's: in a small
    collection "之前" or "东西" can be as rare as a company name, which says
    nothing about how much they matter to the question.
    """

    def __init__(
        self,
        words: Sequence[str],
        known: Callable[[str], bool],
        weight: Callable[[str], float],
        in_dictionary: Callable[[str], bool],
    ) -> None:
        self.words = list(words)
        self.missing = tuple(w for w in self.words if not known(w))
        self.weights = {w: weight(w) for w in self.words}
        self.total = sum(self.weights.values())
        # Per word, read once: whether its characters alone earn credit (CJK), and whether only half (listed).
        self._cjk = {w: has_cjk(w) for w in self.words}
        self._listed = {w: self._cjk[w] and in_dictionary(w) for w in self.words}

    def credit(self, word: str, normalized_text: str) -> float:
        """1 when `word` stands in the text; partial when only its characters do.

        jieba coins words from unlisted runs ("天卖" from "4天卖了"): their
        characters are the real evidence. A dictionary word matched only by its
        characters is a weaker sign, so it earns half.
        """
        if word in normalized_text:
            return 1.0
        if not self._cjk[word]:
            return 0.0
        present = sum(1 for char in word if char in normalized_text) / len(word)
        return PARTIAL_CREDIT * present if self._listed[word] else present

    def evidence(self, passage_text: str) -> Evidence:
        normalized = folded(passage_text)[0]
        credits = {w: self.credit(w, normalized) for w in self.words}
        covered = sum(self.weights[w] * c for w, c in credits.items())
        matched = frozenset(w for w, c in credits.items() if c == 1.0)
        return Evidence(covered / self.total if self.total else 0.0, matched)


# -- hits ---------------------------------------------------------------------------


_FOLDED: dict[str, tuple[str, list[int]]] = {}
_FOLDED_KEPT = 256


def folded(text: str, simplified: bool = False) -> tuple[str, list[int]]:
    """`normalize_with_offsets(text)`, computed once for the few passages an answer reads several times.

    `simplified`: the index recorded that the passage needs no conversion (the
    result is the same, sooner).
    """
    found = _FOLDED.get(text)
    if found is None:
        if len(_FOLDED) >= _FOLDED_KEPT:
            _FOLDED.clear()
        found = _FOLDED[text] = normalize_with_offsets(text, simplified)
    return found


def _normalized_span(text: str, span: Span) -> str:
    """The normalized text of a span of `text` (a slice of the whole text's normalization)."""
    normalized, offsets = folded(text)
    return normalized[bisect_left(offsets, span[0]) : bisect_left(offsets, span[1])]


def highlight_spans(
    text: str, words: Sequence[str], analyzer: Analyzer, singles: Sequence[int] | None = None,
    simplified: bool = False,
) -> tuple[Span, ...]:
    """Spans of `text` where a word of the question stands, merged and sorted.

    Words of two or more characters are found wherever they occur (jieba may cut
    the passage differently); a one-character word only where jieba cut it alone:
    `singles`, the positions the index recorded when it segmented the passage,
    else (text from elsewhere) a segmentation now.
    """
    if not words:
        return ()
    normalized, offsets = folded(text, simplified)
    spans: list[Span] = []
    one_character = {w for w in words if len(w) == 1}
    for word in words:
        if len(word) < 2:
            continue
        start = normalized.find(word)
        while start >= 0:
            spans.append((offsets[start], offsets[start + len(word) - 1] + 1))
            start = normalized.find(word, start + len(word))
    if one_character and any(w in normalized for w in one_character):
        # The recorded positions are in the index's normalization of the whole
        # passage, which agrees with this character-by-character one save for rare
        # combining sequences.
        if singles is not None and (folds_alike(normalized) or normalized == normalize(text)):
            spans.extend((offsets[p], offsets[p] + 1) for p in singles if normalized[p] in one_character)
        else:
            spans.extend((t.start, t.end) for t in analyzer.located_words(text) if t.word in one_character)
    return merge_spans(spans)


def make_hits(
    collection: PassageSource, ranked: Sequence[tuple[int, float]], question: Question, analyzer: Analyzer
) -> list[Hit]:
    """Hits for ranked (passage, score) pairs: text, citation, highlights, rank from 1."""
    hits = []
    for rank, (index, score) in enumerate(ranked, start=1):
        passage = collection.passage(index)
        record = collection.record(passage.doc_index)
        text = collection.passage_text(index)
        citation = Citation(
            record.doc_id,
            record.title,
            record.source,
            record.date,
            record.url,
            passage.paragraph,
            path=record.doc_id,
            lines=collection.lines_of(passage),
        )
        stored = collection.passage_singles(index)
        singles = stored.tolist() if stored is not None else None
        hits.append(
            Hit(
                text=text,
                score=score,
                citation=citation,
                highlights=highlight_spans(text, question.words, analyzer, singles, collection.is_simplified(index)),
                rank=rank,
                start=passage.start,
                end=passage.end,
                hidden=tuple(noise_spans(text)),
                file_text=collection.file_text(passage),
            )
        )
    return hits


# -- the answer ---------------------------------------------------------------------


def answer(
    question: Question,
    candidates: Sequence[str],
    hits: Sequence[Hit],
    weights: QuestionWords,
) -> Answer:
    """The answer from the best passages: `candidates` are the texts of the top COVERAGE_POOL.

    A passage counts as evidence only if it holds the kind of answer asked for:
    a "which year" question is not answered by a passage with no year.
    """
    coverage = max(
        (
            weights.evidence(text).coverage
            for text in candidates
            if question.kind != AnswerKind.YEAR or fits(question.kind, folded(text)[0])
        ),
        default=0.0,
    )
    if coverage < MIN_COVERAGE:
        reason = Reason.UNKNOWN_WORDS if weights.missing else Reason.LOW_COVERAGE
        return Answer(question.text, tuple(hits), True, None, None, reason=reason, missing_words=weights.missing)
    chosen = best_sentence([(h.text, h.score) for h in hits], weights, question.kind)
    sentence, sentence_hit = None, None
    if chosen is not None:
        sentence_hit, (start, end) = chosen
        sentence = NOISE.sub("", hits[sentence_hit].text[start:end])
    return Answer(question.text, tuple(hits), False, sentence, sentence_hit, missing_words=weights.missing)


def abstention(question: Question, reason: Reason, missing: tuple[str, ...] = ()) -> Answer:
    """An answer that says the documents do not answer, with no passages."""
    return Answer(question.text, (), True, None, None, reason=reason, missing_words=missing)


def best_sentence(
    passages: Sequence[tuple[str, float]], question: QuestionWords, kind: AnswerKind
) -> tuple[int, Span] | None:
    """The (passage index, span) of the sentence that best answers, or None.

    A sentence scores the weight of the question words it holds; one that holds
    the kind of answer asked for (a date, a number) comes first; a heading
    counts for less than a sentence of the body; ties go to the better passage,
    then the earlier sentence. A very long sentence is narrowed to its best
    clauses.
    """
    if not passages:
        return None
    top_score = passages[0][1]
    best: tuple[tuple[float, float], int, Span] | None = None
    for index, (text, score) in enumerate(passages):
        if score < SENTENCE_POOL * top_score:
            break
        for span in sentence_spans(text):
            key = _sentence_key(text, span, question, kind)
            if key is not None and (best is None or key > best[0]):
                best = (key, index, span)
    if best is None:
        return None
    _, index, span = best
    return index, _narrow(passages[index][0], span, question, kind)


def _sentence_key(text: str, span: Span, question: QuestionWords, kind: AnswerKind) -> tuple[float, float] | None:
    sentence = text[span[0] : span[1]]
    normalized = _normalized_span(text, span)
    if not has_cjk(normalized) and not any(c.isalnum() for c in normalized):
        return None
    weight = sum(question.weights[w] * question.credit(w, normalized) for w in question.words)
    fitting = fits(kind, normalized)
    # A heading is a poor answer, unless it holds what was asked (a dateline to "when").
    if is_heading(sentence.strip()) and not (kind != AnswerKind.ANY and fitting):
        weight *= HEADING_FACTOR
    return float(fitting), weight


def _narrow(text: str, span: Span, question: QuestionWords, kind: AnswerKind) -> Span:
    """The best run of clauses of a sentence longer than LONG_SENTENCE."""
    start, end = span
    if end - start <= LONG_SENTENCE:
        return span
    clauses = [(start + m.start(), start + m.end()) for m in _CLAUSE.finditer(text[start:end]) if m.group().strip()]
    if len(clauses) < 2:
        return span
    keys = [_sentence_key(text, (a, b), question, kind) or (0.0, 0.0) for a, b in clauses]
    lo = hi = max(range(len(clauses)), key=lambda i: (keys[i], -i))
    # Grow toward the heavier neighbour while the run stays short.
    while True:
        options = []
        if lo > 0 and clauses[hi][1] - clauses[lo - 1][0] <= LONG_SENTENCE:
            options.append((keys[lo - 1][1], 0, lo - 1, hi))
        if hi + 1 < len(clauses) and clauses[hi + 1][1] - clauses[lo][0] <= LONG_SENTENCE:
            options.append((keys[hi + 1][1], 1, lo, hi + 1))
        if not options:
            break
        _, _, lo, hi = max(options)
    return clauses[lo][0], clauses[hi][1]
