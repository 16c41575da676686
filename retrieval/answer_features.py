"""Features of a question against its candidate passages and sentences.

Everything here is cheap string work on normalized text (no jieba over the
passages): a question is cut once, and each candidate is searched for the
question's words with `str.find`. The features are ratios and flags that mean
the same in any collection (coverage of the question's general-language
weight, BM25 relative to the best candidate), so that a model learned on one
kind of text carries over to another.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from retrieval.analysis import Analyzer, AnswerKind, Question, kind_phrase
from retrieval.text import NOISE, Span, ends_sentence, has_cjk, normalize, sentence_spans

# A dictionary word found only as scattered characters is weaker evidence.
PARTIAL_CREDIT = 0.5
# Sentences longer than this are narrowed to their best run of clauses.
LONG_SENTENCE = 100
HEADING_LENGTH = 30

_YEAR_LIKE = re.compile(
    r"\d{4}|[去今明前]年|\d+年|[一二三四五六七八九十〇零○元]+年|[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]"
)
_DATE_LIKE = re.compile(
    r"\d{4}\s*[-/.年]|\d+\s*[年月日号]|[一二三四五六七八九十]+[年月日]|[去今明前]年|年底|年初|上旬|中旬|下旬|世纪|年代|"
    r"时代|时期|年间|期间|朝|天|小时|分钟|之后|以后|之前|以前|时候|星期|周[一二三四五六日天末]"
)
_NUMBER_LIKE = re.compile(r"\d|[零一二两三四五六七八九十百千万亿半几数]")
_MONEY_LIKE = re.compile(
    r"[\d零一二两三四五六七八九十百千万亿半几数]\s*[万亿千百]*\s*(?:美元|美金|元|英镑|镑|欧元|日元|港元|港币|人民币|块钱|块)|免费"
    r"|[$¥￥€£]\s*\d"
)
_PLACE_LIKE = re.compile(r"[省市县州区镇村国洲岛山河湖海港湾]|位于|在")
# The question word itself: the words right before and after it in the question
# are the ones the answer sentence most often repeats.
_QUESTION_WORD = re.compile(
    r"为什么|为何|怎么样|怎样|怎么|如何|什么|哪些|哪里|哪儿|哪|谁|几|多少|何时|何地|何处|何|是否|多[大高长重远深宽久]"
)
_ARTICLE = re.compile(r"[这那]篇|文章|报道|稿件|新闻")
_PUBLISHED = re.compile(r"发布|发表|刊登|刊发|发的|发出|登出|出版|写的")
_FULL_DATE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")
_CLAUSE = re.compile(r"[^,，;；:：]+[,，;；:：]?")
_OPENERS = {"(": ")", "（": "）", "「": "」", "『": "』", "“": "”", "《": "》", "[": "]", "【": "】"}
_TRAILING = ",，、;；:：—-·"
# A sentence that goes on about the passage's topic without naming it.
_REFERS_BACK = re.compile(r"[\s\"“「『(（]*(?:此|该|这|本|其|他|她|它|后来|之后|随后|同年|当时)")


def fits(kind: AnswerKind, normalized_text: str) -> bool:
    """True when the text holds something of the kind asked for."""
    if kind == AnswerKind.YEAR:
        return bool(_YEAR_LIKE.search(normalized_text))
    if kind == AnswerKind.WHEN:
        return bool(_DATE_LIKE.search(normalized_text))
    if kind == AnswerKind.MONEY:
        return bool(_MONEY_LIKE.search(normalized_text))
    if kind == AnswerKind.NUMBER:
        return bool(_NUMBER_LIKE.search(normalized_text))
    if kind == AnswerKind.WHERE:
        return bool(_PLACE_LIKE.search(normalized_text))
    return True


def asks_publication_date(question: QuestionProfile) -> bool:
    """"When did this article come out?": the answer is the article's dateline."""
    return (
        question.kind in (AnswerKind.WHEN, AnswerKind.YEAR)
        and bool(_ARTICLE.search(question.normalized))
        and bool(_PUBLISHED.search(question.normalized))
    )


def is_dateline(normalized_sentence: str) -> bool:
    """A short line that carries a full date (2013-08-01 09:22 · 凤凰科技), not a sentence of the body."""
    return len(normalized_sentence) <= HEADING_LENGTH + 10 and bool(_FULL_DATE.search(normalized_sentence))


@dataclass(frozen=True)
class QuestionProfile:
    """A question as the features see it: its words, their weights, its answer kind."""

    normalized: str
    words: tuple[str, ...]
    weights: tuple[float, ...]
    partial: tuple[float, ...]  # credit per found character, for a word not found whole
    known: tuple[bool, ...]  # the collection holds the word somewhere
    bigrams: frozenset[str]
    trigrams: frozenset[str]
    chars: frozenset[str]
    kind: AnswerKind
    neighbours: tuple[str, ...]  # content words right before and after the question word
    total: float  # the sum of the weights
    terms: tuple[tuple[str, float, float], ...]  # (word, weight, partial) for the hot loop of `coverage`
    # Words of the phrase saying what kind of answer is asked for ("花了多少钱": 花, 钱), with their weights.
    kind_words: tuple[tuple[str, float], ...] = ()

    @property
    def missing_share(self) -> float:
        """The share of the question's weight carried by words no passage holds."""
        total = self.total
        return sum(w for w, k in zip(self.weights, self.known) if not k) / total if total else 0.0

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(w for w, k in zip(self.words, self.known) if not k)


def profile_question(
    question: Question,
    analyzer: Analyzer,
    known: Callable[[str], bool],
    weight: Callable[[str], float],
) -> QuestionProfile:
    """Weigh the question's content words (general-language IDF), from the cut the analyzer already made."""
    normalized = question.normalized
    located = []
    at = 0
    for word in question.cut:
        if analyzer.is_content(word):
            located.append((word, at, at + len(word)))
        at += len(word)
    words: dict[str, None] = {}
    for word, _, _ in located:
        if len(word) > 1 and has_cjk(word) and not analyzer.in_dictionary(word) and _mostly_function(word, analyzer):
            # A run jieba glued from a function word and another character ("几不",
            # "要罚"): only its content characters count. Left whole it would weigh
            # like a rare term and be missing from every document.
            for char in word:
                if analyzer.is_content(char):
                    words.setdefault(char, None)
        else:
            words.setdefault(word, None)
    ordered = tuple(words)
    neighbours: list[str] = []
    match = _QUESTION_WORD.search(normalized)
    if match:
        before = [w for w, _, e in located if e <= match.start()]
        after = [w for w, s, _ in located if s >= match.end()]
        neighbours = [w for w in (before[-1:] + after[:1]) if w not in neighbours]
    kept = "".join(c for c in normalized if c.isalnum())
    bigrams = frozenset(kept[i : i + 2] for i in range(len(kept) - 1))
    weights = tuple(weight(w) for w in ordered)
    phrase = kind_phrase(normalized, question.kind)
    in_phrase = {w for w, s, e in located if phrase and s >= phrase[0] and e <= phrase[1]}
    partial = tuple((PARTIAL_CREDIT / len(w) if has_cjk(w) and len(w) > 1 else 0.0) for w in ordered)
    return QuestionProfile(
        normalized=normalized,
        words=ordered,
        weights=weights,
        partial=partial,
        known=tuple(known(w) for w in ordered),
        bigrams=bigrams,
        trigrams=frozenset(kept[i : i + 3] for i in range(len(kept) - 2)),
        chars=frozenset(kept),
        kind=question.kind,
        neighbours=tuple(neighbours),
        total=sum(weights),
        terms=tuple(zip(ordered, weights, partial, strict=True)),
        kind_words=tuple((w, g) for w, g in zip(ordered, weights, strict=True) if w in in_phrase),
    )


def _mostly_function(word: str, analyzer: Analyzer) -> bool:
    return 2 * sum(1 for c in word if not analyzer.is_content(c)) >= len(word)


def coverage(profile: QuestionProfile, text: str) -> float:
    """The share of the question's weight that the (normalized) text holds."""
    total = profile.total
    if not total:
        return 0.0
    covered = 0.0
    for word, weight, partial in profile.terms:
        if word in text:
            covered += weight
        elif partial:
            covered += weight * partial * sum(c in text for c in word)
    return covered / total


def answer_coverage(profile: QuestionProfile, text: str) -> float:
    """`coverage`, with the words that ask for a kind of answer counted as held when the text holds
    that kind of thing: "花了多少钱" is answered by "5.86亿美元", which repeats neither 花 nor 钱."""
    covered = coverage(profile, text)
    if not profile.kind_words or not profile.total:
        return covered
    lacking = sum(g for w, g in profile.kind_words if w not in text)
    if lacking and fits(profile.kind, text):
        covered += lacking / profile.total
    return min(covered, 1.0)


def bigram_share(profile: QuestionProfile, text: str) -> float:
    if not profile.bigrams:
        return 0.0
    return sum(1 for b in profile.bigrams if b in text) / len(profile.bigrams)


def trigram_share(profile: QuestionProfile, text: str) -> float:
    """Runs of three characters of the question found in the text: phrases, not just words."""
    if not profile.trigrams:
        return 0.0
    return sum(1 for t in profile.trigrams if t in text) / len(profile.trigrams)


def _neighbour_share(profile: QuestionProfile, text: str) -> float:
    if not profile.neighbours:
        return 0.0
    return sum(1 for w in profile.neighbours if w in text) / len(profile.neighbours)


def _kind_flags(profile: QuestionProfile, text: str) -> tuple[float, float]:
    """(asked and present, asked and absent)."""
    if profile.kind == AnswerKind.ANY:
        return 0.0, 0.0
    ok = fits(profile.kind, text)
    return float(ok), float(not ok)


# -- passages -------------------------------------------------------------------

PASSAGE_FEATURES = (
    "bm25_ratio",
    "bm25_z",
    "log_rank",
    "coverage",
    "coverage_ratio",
    "bigrams",
    "trigrams",
    "best_sentence_coverage",
    "best_pair_coverage",
    "kind_present",
    "kind_absent",
    "log_length",
    "neighbours",
)


def passage_features(profile: QuestionProfile, normalized_texts: Sequence[str], scores: Sequence[float]) -> np.ndarray:
    """One row per candidate passage (in BM25 order), columns PASSAGE_FEATURES."""
    n = len(normalized_texts)
    rows = np.zeros((n, len(PASSAGE_FEATURES)))
    if n == 0:
        return rows
    values = np.asarray(scores, dtype=np.float64)
    top = values.max() or 1.0
    spread = values.std() or 1.0
    mean = values.mean()
    covers = [coverage(profile, t) for t in normalized_texts]
    best_cover = max(covers) or 1.0
    for i, text in enumerate(normalized_texts):
        spans = sentence_spans(text)
        sentence_covers = [coverage(profile, text[s:e]) for s, e in spans]
        sentence_cover = max(sentence_covers, default=0.0)
        pair_cover = max(
            (coverage(profile, text[a[0] : b[1]]) for a, b in pairwise(spans)), default=sentence_cover
        )
        present, absent = _kind_flags(profile, text)
        rows[i] = (
            values[i] / top,
            (values[i] - mean) / spread,
            math.log1p(i),
            covers[i],
            covers[i] / best_cover,
            bigram_share(profile, text),
            trigram_share(profile, text),
            sentence_cover,
            pair_cover,
            present,
            absent,
            math.log1p(len(text)),
            _neighbour_share(profile, text),
        )
    return rows


# -- sentences ------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """A headline candidate: a sentence or a run of its clauses, in the passage's own text."""

    span: Span  # in the original passage text
    normalized: str
    position: int  # its sentence's place in the passage, 0-based
    sentences: int  # how many sentences the passage has
    pair: bool = False  # two short sentences together (the answer is often in the one before)


def sentences_of(text: str, profile: QuestionProfile) -> list[Sentence]:
    """The headline candidates of a passage: each sentence, a long one narrowed to its best clauses."""
    spans = [s for s in sentence_spans(text) if _readable(text[s[0] : s[1]])]
    out = []
    for position, span in enumerate(spans):
        span = _narrow(text, span, profile)
        span = tidy(text, span)
        if span[1] > span[0]:
            out.append(Sentence(span, normalize(text[span[0] : span[1]]), position, len(spans)))
    for position, (first, second) in enumerate(pairwise(spans)):
        if second[1] - first[0] <= LONG_SENTENCE and "\n" not in text[first[0] : second[1]]:
            span = tidy(text, (first[0], second[1]))
            out.append(Sentence(span, normalize(text[span[0] : span[1]]), position, len(spans), pair=True))
    return out


def _readable(piece: str) -> bool:
    return has_cjk(piece) or any(c.isalnum() for c in piece)


def _narrow(text: str, span: Span, profile: QuestionProfile) -> Span:
    """The best run of clauses of a sentence longer than LONG_SENTENCE."""
    start, end = span
    if end - start <= LONG_SENTENCE:
        return span
    clauses = [(start + m.start(), start + m.end()) for m in _CLAUSE.finditer(text[start:end]) if m.group().strip()]
    if len(clauses) < 2:
        return span
    keys = [coverage(profile, normalize(text[a:b])) for a, b in clauses]
    lo = hi = max(range(len(clauses)), key=lambda i: (keys[i], -i))
    # Grow toward the heavier neighbour while the run stays short.
    while True:
        options = []
        if lo > 0 and clauses[hi][1] - clauses[lo - 1][0] <= LONG_SENTENCE:
            options.append((keys[lo - 1], 0, lo - 1, hi))
        if hi + 1 < len(clauses) and clauses[hi + 1][1] - clauses[lo][0] <= LONG_SENTENCE:
            options.append((keys[hi + 1], 1, lo, hi + 1))
        if not options:
            break
        _, _, lo, hi = max(options)
    return clauses[lo][0], clauses[hi][1]


def tidy(text: str, span: Span) -> Span:
    """The span without a dangling comma at its end or an unclosed bracket or quote.

    An opener whose closer lies past the end is dropped with what follows it,
    unless the closer is near (within the sentence): then the span grows to it.
    """
    start, end = span
    while start < end and (text[start].isspace() or text[start] in _TRAILING):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _TRAILING):
        end -= 1
    stack: list[tuple[str, int]] = []
    for i in range(start, end):
        char = text[i]
        if char in _OPENERS:
            stack.append((_OPENERS[char], i))
        elif stack and char == stack[-1][0]:
            stack.pop()
    if stack:
        closer, at = stack[0]
        found = text.find(closer, end, end + 40)
        if found >= 0 and "\n" not in text[end:found]:
            end = found + 1
        else:
            end = at
            while end > start and (text[end - 1].isspace() or text[end - 1] in _TRAILING):
                end -= 1
    # A closer with no opener at the start ("）说" left over by the split) goes.
    while start < end and text[start] in "）)」』”》]】":
        start += 1
    return (start, end) if end > start else span


SENTENCE_FEATURES = (
    "coverage",
    "coverage_ratio",
    "bigrams",
    "trigrams",
    "neighbours",
    "kind_present",
    "kind_absent",
    "heading",
    "log_length",
    "novel",
    "first",
    "relative_position",
    "passage_coverage",
    "pair",
    "novel_coverage",
    "kind_absent_coverage",
    "before_coverage",
    "after_coverage",
    "local_coverage",
    "topic_free_coverage",
    "topic_free_ratio",
    "refers_back",
    "first_when_asked_beyond_topic",
)


def sentence_features(profile: QuestionProfile, sentences: Sequence[Sentence], passage_of: Sequence[int],
                      passage_cover: Sequence[float] | np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """One row per candidate sentence, columns SENTENCE_FEATURES (no model output in them).

    `passage_of[i]` indexes `passage_cover` and `texts` (original passage texts).
    """
    rows = np.zeros((len(sentences), len(SENTENCE_FEATURES)))
    covers = [answer_coverage(profile, s.normalized) for s in sentences]
    # The coverage of the sentences just before and after (single sentences of the same passage).
    single = {(passage_of[i], s.position): covers[i] for i, s in enumerate(sentences) if not s.pair}
    context = [
        (
            single.get((passage_of[i], s.position - 1), 0.0),
            single.get((passage_of[i], s.position + (2 if s.pair else 1)), 0.0),
        )
        for i, s in enumerate(sentences)
    ]
    best = max(covers, default=0.0) or 1.0
    local, topic_free, beyond = _within_passage(profile, sentences, passage_of)
    best_free: dict[int, float] = {}
    for i, passage in enumerate(passage_of):
        best_free[passage] = max(best_free.get(passage, 0.0), topic_free[i])
    for i, sentence in enumerate(sentences):
        text = sentence.normalized
        present, absent = _kind_flags(profile, text)
        kept = [c for c in text if c.isalnum()]
        novel = sum(1 for c in kept if c not in profile.chars) / len(kept) if kept else 0.0
        original = texts[passage_of[i]][sentence.span[0] : sentence.span[1]].strip()
        heading = len(original) <= HEADING_LENGTH and not ends_sentence(original)
        rows[i] = (
            covers[i],
            covers[i] / best,
            bigram_share(profile, text),
            trigram_share(profile, text),
            _neighbour_share(profile, text),
            present,
            absent,
            float(heading),
            math.log1p(len(text)),
            novel,
            float(sentence.position == 0),
            sentence.position / max(1, sentence.sentences - 1),
            passage_cover[passage_of[i]],
            float(sentence.pair),
            novel * covers[i],
            absent * covers[i],
            context[i][0],
            context[i][1],
            local[i],
            topic_free[i],
            topic_free[i] / best_free[passage_of[i]] if best_free[passage_of[i]] else 0.0,
            float(bool(_REFERS_BACK.match(text))),
            float(sentence.position == 0) * beyond[passage_of[i]],
        )
    return rows


def _within_passage(
    profile: QuestionProfile, sentences: Sequence[Sentence], passage_of: Sequence[int]
) -> tuple[list[float], list[float], dict[int, float]]:
    """Per sentence: its coverage with each word weighed by how few sentences of its passage hold it,
    and its coverage by words the passage's first sentence does not hold; per
    passage, the share of the question's weight in words the passage holds
    only after its first sentence (the question asks beyond the topic).

    A passage names its topic once, up front, and its later sentences say
    things about it without repeating the name; a question repeats the name.
    Across passages the name tells which passage; within one it tells little.
    """
    singles: dict[int, list[str]] = {}
    for sentence, passage in zip(sentences, passage_of, strict=True):
        if not sentence.pair:
            singles.setdefault(passage, []).append(sentence.normalized)
    weighed: dict[int, tuple[list[tuple[str, float]], float, list[tuple[str, float]]]] = {}
    for passage, texts in singles.items():
        n = len(texts)
        local, later = [], []
        for word, weight, _ in profile.terms:
            held = sum(1 for t in texts if word in t)
            if held:
                local.append((word, weight * math.log1p(n / held)))
                if word not in texts[0]:
                    later.append((word, weight))
        weighed[passage] = (local, sum(w for _, w in local), later)
    total = profile.total or 1.0
    beyond = {p: sum(w for _, w in later) / total for p, (_, _, later) in weighed.items()}
    local_out, later_out = [], []
    for sentence, passage in zip(sentences, passage_of, strict=True):
        local, whole, later = weighed.get(passage, ([], 0.0, []))
        text = sentence.normalized
        local_out.append(sum(w for word, w in local if word in text) / whole if whole else 0.0)
        later_out.append(sum(w for word, w in later if word in text) / total)
    return local_out, later_out, beyond


def headline_text(text: str, span: Span) -> str:
    """The headline as shown: the span of the passage, conversion noise removed."""
    return NOISE.sub("", text[span[0] : span[1]])
