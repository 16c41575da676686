"""Ranked passages to an answer: hits with highlights, the headline, and the decision to answer.

BM25 scores do not say whether a question is answered (they depend on the
question's length and words). The answer model (`answer_features`,
`answer_model`) reranks the best candidates, chooses the headline among them
whatever k is, and says how sure it is; from that sureness follow the three
outcomes: answered, unsure (related passages, no claim) and no answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from retrieval.analysis import Analyzer, Question
from retrieval.answer_features import QuestionProfile, headline_text
from retrieval.answer_model import AnswerModel, decide
from retrieval.collection import PassageSource
from retrieval.results import Answer, Citation, Hit, Outcome, Reason
from retrieval.text import Span, folds_alike, has_cjk, merge_spans, noise_spans, normalize, normalize_with_offsets


def is_known(word: str, document_frequency: Callable[[str], int]) -> bool:
    """True when some passage holds `word`, as a term or (CJK) as all its bigrams."""
    if document_frequency(word) > 0:
        return True
    if len(word) >= 2 and has_cjk(word):
        return all(document_frequency(word[i : i + 2]) > 0 for i in range(len(word) - 1))
    return False


def missing_weight(question: Question, document_frequency: Callable[[str], int],
                   weight: Callable[[str], float]) -> float:
    """The weight of the question's words that no passage holds."""
    return sum(weight(w) for w in question.words if not is_known(w, document_frequency))


def best_reading(readings: Sequence[Question], document_frequency: Callable[[str], int],
                 weight: Callable[[str], float]) -> Question:
    """The reading whose words the collection holds best; the first of equals.

    A Taiwan-worded question over mainland documents (網路 read as 网路, which
    no passage holds) is searched in the mainland's words (网络); over Taiwan
    documents both readings are held and the question stays as normalized.
    """
    return min(readings, key=lambda q: missing_weight(q, document_frequency, weight))


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


def normalized_texts(collection: PassageSource, pool: Sequence[tuple[int, float]], texts: Sequence[str]) -> list[str]:
    """`normalize` of each candidate's text (`texts`, of the passages in `pool`), for the answer model.

    Equal to normalizing each text, sooner: the traditional-to-simplified step is
    skipped where the index recorded that it changes nothing.
    """
    return [normalize(text, collection.is_simplified(i)) for (i, _), text in zip(pool, texts, strict=True)]


def answer(
    question: Question,
    profile: QuestionProfile,
    collection: PassageSource,
    ranked: Sequence[tuple[int, float]],
    k: int,
    analyzer: Analyzer,
    model: AnswerModel,
) -> Answer:
    """The answer from the ranked (passage, score) pairs: one call to the answer model decides.

    The model looks at the first `model.candidates` of `ranked`; the passage
    holding the headline is shown first, whatever `k` is.
    """
    pool = list(ranked[: model.candidates])
    texts = [collection.passage_text(i) for i, _ in pool]
    decision = decide(profile, texts, [score for _, score in pool], model, normalized_texts(collection, pool, texts))
    order = [pool[j] for j in decision.order] + list(ranked[len(pool) :])
    hits = tuple(make_hits(collection, order[:k], question, analyzer))
    missing, confidence = profile.missing, decision.confidence
    if decision.outcome == Outcome.ANSWERED and decision.headline is not None:
        holder, span = decision.headline
        # `decision.order` puts the headline's passage first.
        sentence = headline_text(texts[holder], span)
        return Answer(question.text, hits, False, sentence, 0, missing_words=missing, outcome=Outcome.ANSWERED,
                      confidence=confidence)
    if decision.outcome == Outcome.UNSURE:
        return Answer(question.text, hits, True, None, None, reason=Reason.UNCERTAIN, missing_words=missing,
                      outcome=Outcome.UNSURE, confidence=confidence)
    reason = Reason.UNKNOWN_WORDS if missing else Reason.LOW_COVERAGE
    return Answer(question.text, hits, True, None, None, reason=reason, missing_words=missing,
                  outcome=Outcome.NO_ANSWER, confidence=confidence)


def abstention(question: Question, reason: Reason, missing: tuple[str, ...] = ()) -> Answer:
    """An answer that says the documents do not answer, with no passages."""
    return Answer(question.text, (), True, None, None, reason=reason, missing_words=missing)
