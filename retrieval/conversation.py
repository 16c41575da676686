"""Follow-up questions: a question that leans on the turns before it, made standalone.

People ask in turns. A follow-up may leave out what it is about (ellipsis:
"占多少股份?"), refer back ("它", "他们", "这件事"), or swap one entity for
another ("那腾讯呢?"). Each kind is recognised from the question's own shape
(jieba's part-of-speech tags, pronouns, the "X呢?" pattern) and rewritten
against the previous turn's searched question; a question that names its own
subject is asked as it is, so a change of topic is never polluted.

Where a rewrite has several readings (which entity "那腾讯呢?" replaces), each
is asked and the answer decides: a reading counts only if its answer is given
and mentions the entity the follow-up brought in. When no reading is answered
by the documents, the reply says so rather than showing loosely related text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from retrieval.analysis import Analyzer
from retrieval.results import DEFAULT_K, Answer, Outcome, Reason
from retrieval.text import normalize

# "那腾讯呢?", "手机QQ呢", "那么大众点评怎么样?": another entity, the same question.
_SWAP = re.compile(
    r"^(?:那么?|还有|换成|如果是)?\s*(?P<entity>[^,，。?？!！\s]{1,16}?)\s*(?:呢|怎么样|又如何|如何)\s*[?？]?$"
)
# Words that point back at something said before, longest first.
_POINTERS = (
    "这件事情", "这件事", "此事", "这家公司", "该公司", "这个公司", "这款产品", "该产品", "这个产品",
    "它们", "他们", "她们", "它", "他", "她", "其中", "其",
)
_EVENT_POINTERS = ("这件事情", "这件事", "此事")
# Part-of-speech tags of names: people, places, organisations, other proper nouns, Latin words.
_NAME_TAGS = ("nr", "nrt", "nrfg", "ns", "nt", "nz", "eng")
MAX_ELLIPSIS_WORDS = 3
# Words that ask ("几年", "几种", "多少钱"): what is asked for is not in the documents by name.
_ASKING = re.compile(r"^几|多少|哪|什么|怎么|谁|何")


class FollowUp(StrEnum):
    """How a question relates to the turn before it."""

    STANDALONE = "standalone"
    SWAP = "swap"
    POINTER = "pointer"
    ELLIPSIS = "ellipsis"


@dataclass(frozen=True)
class Turn:
    """One question and what was made of it."""

    question: str
    searched: str
    kind: FollowUp
    answer: Answer


def names(analyzer: Analyzer, text: str) -> list[str]:
    """The words of `text` that name something (people, companies, products), normalized, in order."""
    found: list[str] = []
    for word, tag in analyzer.tagged(normalize(text)):
        if not analyzer.is_content(word) or word in found:
            continue
        latin = bool(re.search(r"[a-z]", word))
        if tag in _NAME_TAGS or latin or (len(word) >= 2 and not analyzer.in_dictionary(word)):
            found.append(word)
    return found


def _subject_words(analyzer: Analyzer, text: str, names_only: bool = False) -> list[str]:
    """What a question may be about, likeliest first: its names, then runs of single characters
    (a name jieba does not know, such as 陌陌, falls apart into them), then its other words."""
    words = list(analyzer.question(text).words)
    found = names(analyzer, text)
    normalized = normalize(text)
    runs: list[str] = []
    run = ""
    # Adjacent single characters ("陌", "陌"), flushed at any longer word or punctuation.
    for piece, _ in analyzer.tagged(normalized) + [("", "")]:
        if len(piece) == 1 and analyzer.is_content(piece) and re.match(r"[\u3400-\u9fff]", piece):
            run += piece
            continue
        if len(run) >= 2 and run not in found and run not in runs:
            runs.append(run)
        run = ""
    if names_only:
        return found + runs
    rest = [w for w in words if w not in found and len(w) >= 2 and not any(w in r for r in runs)]
    return found + runs + rest


class Conversation:
    """Questions asked in turns over one retriever; `reset()` forgets the turns."""

    def __init__(self, ask: Callable[[str, int], Answer], analyzer: Analyzer) -> None:
        self._ask = ask  # a retriever's ask(question, k)
        self._analyzer = analyzer
        self.turns: list[Turn] = []

    def reset(self) -> None:
        self.turns.clear()

    def ask(self, question: str, k: int = DEFAULT_K) -> Answer:
        """Answer `question` in the light of the turns before it; `Answer.searched` says what was asked."""
        previous = self.turns[-1] if self.turns else None
        kind, readings, required = self.resolve(question, previous)
        # What the follow-up adds must be in the documents: inherited words can cover the
        # question's weight while the one new word ("女性") occurs nowhere.
        own = tuple(
            w for w in self._analyzer.question(question).words
            if kind != FollowUp.STANDALONE and not _ASKING.search(w)
            # A word jieba coined from a run it does not know ("比微") is an artifact, not news.
            and (self._analyzer.in_dictionary(w) or w.isascii())
        )
        chosen = self._choose(readings, required, k, own, prefer_surest=kind == FollowUp.SWAP)
        answer = replace(chosen, question=question.strip())
        self.turns.append(Turn(question, answer.searched or answer.question, kind, answer))
        return answer

    def resolve(self, question: str, previous: Turn | None) -> tuple[FollowUp, list[str], str | list[str] | None]:
        """The kind of follow-up, the standalone readings to try in order, and the word an answer must hold
        (for a pointer, one per reading: the word the pointer was read as)."""
        text = question.strip()
        if previous is None or not text:
            return FollowUp.STANDALONE, [text], None
        before = previous.searched
        swap = _SWAP.match(text)
        if swap and not re.search(r"[多少几谁什么哪]", swap.group("entity")):
            entity = swap.group("entity")
            entity = re.sub(r"^(?:那么?)", "", entity) or entity
            # An entity stands in for an entity: "那腾讯呢?" never replaces "股份" or "每天".
            targets = [w for w in _subject_words(self._analyzer, before, names_only=True) if w != normalize(entity)]
            readings = [_replace_word(before, target, entity) for target in targets]
            readings = [r for r in readings if r != before]
            if readings:
                return FollowUp.SWAP, readings, entity
        tokens = set(self._analyzer.words(normalize(text)))
        pointer = next((p for p in _POINTERS if normalize(p) in tokens), None)
        own_names = names(self._analyzer, text)
        if pointer is not None:
            if pointer in _EVENT_POINTERS:
                event = " ".join(self._analyzer.question(before).words)
                return FollowUp.POINTER, [text.replace(pointer, event, 1)], None
            antecedents = [w for w in _subject_words(self._analyzer, before) if w not in own_names]
            readings = [_insert(text, pointer, word) for word in antecedents]
            if readings:
                return FollowUp.POINTER, readings, antecedents
        words = self._analyzer.question(text).words
        if not own_names and len(words) <= MAX_ELLIPSIS_WORDS:
            topic = [w for w in self._analyzer.question(before).words if w not in words]
            subjects = [w for w in names(self._analyzer, before) if w not in words]
            # The names alone read best ("阿里巴巴新浪微博占多少股份?"); the whole topic finds more.
            readings = ["".join(subjects) + text, " ".join(topic) + " " + text, text]
            readings = list(dict.fromkeys(r.strip() for r in readings if r.strip()))
            if len(readings) > 1:
                return FollowUp.ELLIPSIS, readings, None
        return FollowUp.STANDALONE, [text], None

    def _choose(
        self, readings: list[str], required: str | list[str] | None, k: int, own: tuple[str, ...] = (),
        prefer_surest: bool = False,
    ) -> Answer:
        """The first reading the documents answer (holding `required`, knowing `own` words), or with
        `prefer_surest` the answered one with the highest confidence; else the surest unsure one; else an honest no.

        `prefer_surest` is for an entity swap, where the readings differ in which word
        the new entity replaces and nothing prefers one: "那Tango呢?" after
        "阿里花了多少钱投资陌陌?" reads as Tango investing in 陌陌 or as 阿里 in
        Tango, both answered, the second with more confidence. Otherwise readings
        come in order of preference (a pointer's nearest antecedent first): an
        unsure reading before the answered one, whose best passage is the one the
        answered reading's headline comes from, is how the follow-up was meant:
        the answer is the surer reading's, understood as the earlier one. When no reading is
        answered, the unsure reading with the highest confidence shows the
        passages most likely to hold the answer (as related, with no claim).
        """
        first: Answer | None = None
        surest: Answer | None = None
        preferred: Answer | None = None  # the first unsure reading
        chosen: Answer | None = None  # the surest answered reading
        unknown_own = False
        for number, reading in enumerate(readings):
            need = required[number] if isinstance(required, list) else required
            answer = replace(self._ask(reading, k), searched=reading)
            if first is None:
                first = answer
            knows_own = not set(answer.missing_words) & set(own)
            if answer.outcome == Outcome.UNSURE and knows_own and (need is None or _shows(answer, need)):
                preferred = preferred or answer
                if surest is None or answer.confidence > surest.confidence:
                    surest = answer
            if answer.abstained:
                continue
            if not knows_own:
                unknown_own = True
                continue
            if (need is None or _mentions(answer, need)) and (
                chosen is None or answer.confidence > chosen.confidence
            ):
                chosen = answer
                if not prefer_surest:
                    break
        if chosen is not None:
            if preferred is not None and _same_passage(preferred, chosen):
                return replace(chosen, searched=preferred.searched)
            return chosen
        if surest is not None:
            return surest
        assert first is not None
        if not first.abstained and unknown_own:
            return replace(
                first, abstained=True, best_sentence=None, best_sentence_hit=None, reason=Reason.UNKNOWN_WORDS,
                outcome=Outcome.NO_ANSWER,
            )
        if not first.abstained and required is not None:
            # Answered, but about something else: the documents do not say this of the new entity.
            return replace(
                first,
                abstained=True,
                best_sentence=None,
                best_sentence_hit=None,
                reason=Reason.LOW_COVERAGE,
                outcome=Outcome.NO_ANSWER,
            )
        return first


def _mentions(answer: Answer, word: str) -> bool:
    """True when the headline holds `word` (in either script): the answer is about it."""
    return bool(answer.best_sentence) and normalize(word) in normalize(answer.best_sentence or "")


def _same_passage(unsure: Answer, answered: Answer) -> bool:
    """True when the unsure answer's first passage holds the answered one's headline."""
    if not unsure.hits or answered.best_sentence_hit is None:
        return False
    a, b = unsure.hits[0], answered.hits[answered.best_sentence_hit]
    return (a.citation.doc_id, a.start) == (b.citation.doc_id, b.start)


def _shows(answer: Answer, word: str) -> bool:
    """True when the first passage holds `word` (in either script): the related passages are about it."""
    return bool(answer.hits) and normalize(word) in normalize(answer.hits[0].text)


def _replace_word(question: str, target: str, entity: str) -> str:
    """`question` with the first occurrence of `target` (matched on normalized text) replaced by `entity`."""
    normalized = normalize(question)
    position = normalized.find(target)
    if position < 0 or len(normalized) != len(question):
        return normalized.replace(target, entity, 1)
    return question[:position] + entity + question[position + len(target) :]


def _insert(question: str, pointer: str, word: str) -> str:
    """`question` with the pointing word replaced by what it points at ("其中" keeps its sense)."""
    if pointer in ("其中", "其"):
        return word + question
    return question.replace(pointer, word, 1)
