"""Text to terms: the analyzer that indexes passages and reads questions.

An `Analyzer` owns its jieba tokenizer (never jieba's global one, which a host
program may change with `jieba.add_word`), its stopwords and the normalization
of `retrieval.text`. Its fingerprint (dictionary, stopwords, code, versions) is
what marks a saved index as stale. Index terms are jieba words without
punctuation and stopwords, plus the character bigrams of each run of kept
words, so that a word cut differently in a question and a passage still matches.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jieba

from retrieval.lexicon import Lexicon
from retrieval.text import (
    normalize,
    normalize_converted,
    normalize_with_offsets,
    question_readings,
    replace_surrogates,
)

if TYPE_CHECKING:
    import jieba.posseg

_CONTENT = re.compile(r"\w")
_PACKAGE = Path(__file__).resolve().parent
# Every module whose code decides what a passage is or which terms it has: an
# index built by other code, or other jieba/OpenCC releases, is rebuilt.
PIPELINE_FILES = (
    "text.py",
    "loading.py",
    "cleaning.py",
    "metadata.py",
    "documents.py",
    "chunking.py",
    "analysis.py",
    "lexicon.py",
    "vocabulary.py",
    "ranking.py",
    "lucene_scoring.py",
    "collection.py",
    "general_idf.py",
    "indexing.py",
    "stopwords.txt",
    "answer_model.json",  # the shipped answer model: an index built beside another model is rebuilt
)

# Up to this many characters to analyse, the lexicon costs less than loading the dictionary.
LEXICON_CHARACTERS = 50_000

_YEAR = re.compile(r"哪一?年|几几年|什么年份|哪个年份")
_WHEN = re.compile(
    r"星期几|礼拜几|周几|什么时候|何时|哪一?年|哪一?天|哪个月|几月|几号|几年|日期|时间|年份|多久|多长时间"
)
# "哪几个" asks which ones, not how many.
_NUMBER = re.compile(
    r"多少|(?<!哪)几[个次位家张年天名座种条部本届岁项层场]?|多大|多高|多长|多重|多远|多深|多宽|比例|百分之|第几"
)
_MONEY = re.compile(r"多少钱|花了多少|价格|售价|价钱|费用|多少美元|多少元|收费")
_WHO = re.compile(r"谁|哪[位个]人|什么人|哪些人")
_WHERE = re.compile(r"哪里|哪儿|在哪|什么地方|何地|何处|哪个(?:国家|城市|省|地区)")


class AnswerKind(StrEnum):
    """The kind of answer a question asks for, read off its question words."""

    YEAR = "year"
    WHEN = "when"
    MONEY = "money"
    NUMBER = "number"
    WHO = "who"
    WHERE = "where"
    ANY = "any"  # the question does not say


def answer_kind(normalized_question: str) -> AnswerKind:
    for kind, pattern in (
        (AnswerKind.YEAR, _YEAR),
        (AnswerKind.WHEN, _WHEN),
        (AnswerKind.MONEY, _MONEY),
        (AnswerKind.NUMBER, _NUMBER),
        (AnswerKind.WHO, _WHO),
        (AnswerKind.WHERE, _WHERE),
    ):
        if pattern.search(normalized_question):
            return kind
    return AnswerKind.ANY


_KIND_PATTERNS = {
    AnswerKind.YEAR: _YEAR, AnswerKind.WHEN: _WHEN, AnswerKind.MONEY: _MONEY, AnswerKind.NUMBER: _NUMBER,
    AnswerKind.WHO: _WHO, AnswerKind.WHERE: _WHERE,
}


def kind_phrase(normalized_question: str, kind: AnswerKind) -> tuple[int, int] | None:
    """The stretch of the question that says what kind of answer it asks for ("花了多少钱"), if any."""
    pattern = _KIND_PATTERNS.get(kind)
    if pattern is None:
        return None
    spans = [m.span() for i in range(len(normalized_question)) if (m := pattern.match(normalized_question, i))]
    if not spans:
        return None
    # The first phrase, with the ones overlapping it ("花了多少" and "多少钱").
    start, end = spans[0]
    for s, e in spans[1:]:
        if s < end:
            end = max(end, e)
    return start, end


@dataclass(frozen=True)
class Token:
    """A content word of a text and its span in the original text."""

    word: str
    start: int
    end: int


@dataclass(frozen=True)
class Question:
    """A question analysed once: what ranking and answering read."""

    text: str  # as asked, trimmed, lone surrogates replaced
    normalized: str
    words: tuple[str, ...]  # informative words, normalized, in order, without repeats
    terms: tuple[str, ...]  # index terms, repeats kept (they count, as in rank-bm25)
    kind: AnswerKind
    # jieba's cut of `normalized`, every piece kept (the pieces concatenate to it).
    cut: tuple[str, ...] = ()


def _read_stopwords() -> frozenset[str]:
    text = resources.files("retrieval").joinpath("stopwords.txt").read_text("utf-8")
    words = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.update(line.split())
    return frozenset(words)


@dataclass(frozen=True)
class PassageTerms:
    """What indexing a passage gives: its terms, and where its one-character words stand.

    `singles` are the positions, in the passage's normalized text, of the
    content words jieba cut as one character: highlighting reads them instead
    of segmenting the passage again.
    """

    terms: list[str]
    singles: list[int]
    simplified: bool = False  # the traditional-to-simplified conversion changed nothing


class Analyzer:
    """Normalization, words and index terms, with a tokenizer of its own.

    `dictionary_cache`: a folder for jieba's parsed-dictionary cache (default:
    jieba's, the system temporary folder) and for the dictionary as saved
    arrays (a `Lexicon`, written after the first full load), with which later
    processes segment questions without loading the dictionary at all. The
    dictionary loads on first use.
    """

    def __init__(self, dictionary_cache: Path | None = None) -> None:
        self._tokenizer = jieba.Tokenizer()
        if dictionary_cache is not None:
            self._tokenizer.tmp_dir = str(dictionary_cache)
        self._dictionary_cache = dictionary_cache
        self._ready = False
        self._lock = threading.Lock()
        self.stopwords = _read_stopwords()
        self._fingerprint: str | None = None
        self._dictionary_digest: str | None = None
        self._lexicon: Lexicon | None = None
        self._lexicon_checked = False
        self._tagger: jieba.posseg.POSTokenizer | None = None  # loaded on first use: it costs start-up time

    # -- the tokenizer ------------------------------------------------------------

    def _jieba(self) -> jieba.Tokenizer:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    _initialize_quietly(self._tokenizer)
                    self._ready = True
                    self._save_lexicon()
        return self._tokenizer

    def load(self) -> None:
        """Load the dictionary now (before forking workers, so that none loads it again)."""
        self._jieba()

    def load_in_background(self) -> None:
        """Load the full dictionary in a daemon thread; questions use the saved lexicon meanwhile.

        For long-running programs: once loaded, a question is segmented without
        the lexicon's lookups. Without a saved lexicon it loads on first use anyway.
        """
        if not self._ready:
            threading.Thread(target=self._jieba, name="jieba-load", daemon=True).start()

    def _lexicon_folder(self) -> Path | None:
        if self._dictionary_cache is None:
            return None
        if self._dictionary_digest is None:
            hasher = hashlib.blake2b(digest_size=8)
            hasher.update(_dictionary_path(self._tokenizer).read_bytes())
            hasher.update(_version("jieba").encode())
            self._dictionary_digest = hasher.hexdigest()
        return self._dictionary_cache / f"jieba-lexicon-{self._dictionary_digest}"

    def _saved_lexicon(self) -> Lexicon | None:
        if not self._lexicon_checked:
            folder = self._lexicon_folder()
            self._lexicon = Lexicon.open(folder) if folder is not None else None
            self._lexicon_checked = True
        return self._lexicon

    def _save_lexicon(self) -> None:
        folder = self._lexicon_folder()
        if folder is None or folder.is_dir():
            return
        try:
            Lexicon.from_frequencies(self._tokenizer.FREQ, self._tokenizer.total).save(folder)
        except OSError:
            pass  # a cache that cannot be written only costs the next process the full load

    def _segmenter(self, text: str) -> jieba.Tokenizer:
        """A tokenizer that cuts `text` as the full one does: the full one once loaded, else one over the lexicon."""
        if self._ready:
            return self._tokenizer
        lexicon = self._saved_lexicon()
        if lexicon is None:
            return self._jieba()
        tokenizer = jieba.Tokenizer()
        tokenizer.FREQ = lexicon.frequencies(text)
        tokenizer.total = lexicon.total
        tokenizer.initialized = True
        return tokenizer

    def in_dictionary(self, word: str) -> bool:
        if not self._ready and (lexicon := self._saved_lexicon()) is not None:
            return bool(lexicon.frequency(word))
        return bool(self._jieba().FREQ.get(word))

    @property
    def fingerprint(self) -> str:
        """Changes whenever the terms of some text could: code, stopwords, dictionary, versions."""
        if self._fingerprint is None:
            hasher = hashlib.blake2b(digest_size=8)
            for name in PIPELINE_FILES:
                hasher.update((_PACKAGE / name).read_bytes())
            hasher.update(_dictionary_path(self._tokenizer).read_bytes())
            for distribution in ("jieba", "opencc"):
                hasher.update(_version(distribution).encode())
            self._fingerprint = hasher.hexdigest()
        return self._fingerprint

    # -- words and terms ------------------------------------------------------------

    def is_content(self, word: str) -> bool:
        return bool(_CONTENT.search(word)) and word.strip() == word and word not in self.stopwords

    def prepare(self, characters: int) -> None:
        """Load the full dictionary before analysing this many characters, unless the lexicon is cheaper.

        Cutting through the lexicon is about four times slower per character
        than the loaded dictionary, which takes a second to load: a few files
        (an update) are cut through the lexicon, a whole folder after a load.
        """
        if characters > LEXICON_CHARACTERS:
            self.load()

    def words(self, normalized: str) -> list[str]:
        """jieba's words of normalized text, punctuation and stopwords included."""
        return self._segmenter(normalized).lcut(normalized)

    def _terms_from_words(self, words: list[str]) -> list[str]:
        terms: list[str] = []
        run = ""
        for word in words:
            if self.is_content(word):
                terms.append(word)
                run += word
                continue
            terms.extend(run[i : i + 2] for i in range(len(run) - 1))
            run = ""
        terms.extend(run[i : i + 2] for i in range(len(run) - 1))
        return terms

    def tagged(self, normalized: str) -> list[tuple[str, str]]:
        """jieba's words of normalized text with their part-of-speech tags."""
        import jieba.posseg  # noqa: F811 - at run time, only when tags are asked for

        if self._tagger is None:
            self._tagger = jieba.posseg.POSTokenizer(self._jieba())
        return [(pair.word, pair.flag) for pair in self._tagger.cut(normalized)]

    def terms(self, text: str) -> list[str]:
        """The terms a passage is indexed by."""
        return self._terms_from_words(self.words(normalize(text)))

    def passage_terms(self, text: str) -> PassageTerms:
        """The terms a passage is indexed by, and where its one-character content words stand."""
        normalized, converted = normalize_converted(text)
        words = self.words(normalized)
        singles = []
        position = 0
        for word in words:
            if len(word) == 1 and self.is_content(word):
                singles.append(position)
            position += len(word)
        return PassageTerms(self._terms_from_words(words), singles, not converted)

    def question(self, text: str) -> Question:
        """A question analysed once: normalized, segmented once, its kind read off."""
        text = replace_surrogates(text).strip()
        return self._question(text, normalize(text))

    def readings(self, text: str) -> tuple[Question, ...]:
        """The question as normalized, then (when it differs) read in the mainland's words.

        A question in traditional script may use Taiwan's words (網路, 軟體,
        使用者) for what a mainland document calls 网络, 软件, 用户; which
        reading to search with is for the collection to say (`best_reading`).
        """
        text = replace_surrogates(text).strip()
        return tuple(self._question(text, normalized) for normalized in question_readings(text))

    def _question(self, text: str, normalized: str) -> Question:
        words = self._segmenter(normalized).lcut(normalized)
        content = dict.fromkeys(w for w in words if self.is_content(w))
        terms = tuple(self._terms_from_words(words))
        return Question(text, normalized, tuple(content), terms, answer_kind(normalized), tuple(words))

    def located_words(self, text: str) -> list[Token]:
        """The content words of `text`, each with its span in `text` itself."""
        normalized, offsets = normalize_with_offsets(text)
        tokens = []
        for word, start, end in self._segmenter(normalized).tokenize(normalized):
            if self.is_content(word):
                tokens.append(Token(word, offsets[start], offsets[end - 1] + 1))
        return tokens


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _dictionary_path(tokenizer: jieba.Tokenizer) -> Path:
    """The dictionary file a tokenizer loads (jieba's own dict.txt unless another was set)."""
    if tokenizer.dictionary:
        return Path(tokenizer.dictionary)
    return Path(jieba.__file__).resolve().parent / jieba.DEFAULT_DICT_NAME


def _initialize_quietly(tokenizer: jieba.Tokenizer) -> None:
    """Load the dictionary; jieba's own log lines (loading, a cache it cannot write) are not ours to print."""
    logger = jieba.default_logger
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    try:
        tokenizer.initialize()
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


_default: Analyzer | None = None
_default_lock = threading.Lock()


def default_analyzer() -> Analyzer:
    """The analyzer shared by retrievers that are given none."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Analyzer()
        return _default
