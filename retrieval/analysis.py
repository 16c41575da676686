"""One text analysis for documents and questions: normalization and index terms.

Normalization: conversion-noise removal (pinyin such as "(yè)" left after a
character by a bad simplified/traditional conversion), NFKC (full width to half
width), case folding, traditional to simplified script (OpenCC). Index terms:
jieba words without punctuation and stopwords, plus the character bigrams of
each run of consecutive kept words, so that a word cut differently in the
question and in the passage still matches.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import jieba
import opencc

_TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
# "(yè)" after a CJK character: one pinyin syllable with a tone mark.
NOISE = re.compile(
    r"(?<=[\u3400-\u9fff\uf900-\ufaff])[(（]"
    rf"[a-zü]*[{_TONE_VOWELS}][a-zü]*"
    r"[)）]"
)
_CONTENT = re.compile(r"\w")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Function words and question words, in simplified script."""
    text = resources.files("retrieval").joinpath("stopwords.txt").read_text("utf-8")
    words = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.update(line.split())
    return frozenset(words)


def noise_spans(text: str) -> list[tuple[int, int]]:
    """Spans of conversion noise in `text`."""
    return [m.span() for m in NOISE.finditer(text)]


def _to_simplified(text: str) -> str:
    return _converter().convert(text)


def normalize(text: str) -> str:
    """The normalized form of `text`, used to index and to query."""
    text = NOISE.sub("", text)
    text = unicodedata.normalize("NFKC", text).casefold()
    return _to_simplified(text)


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalize(text)` and, for each of its characters, its index in `text`."""
    pieces: list[str] = []
    offsets: list[int] = []
    hidden = set()
    for start, end in noise_spans(text):
        hidden.update(range(start, end))
    for i, char in enumerate(text):
        if i in hidden:
            continue
        folded = unicodedata.normalize("NFKC", char).casefold()
        pieces.append(folded)
        offsets.extend([i] * len(folded))
    folded_text = "".join(pieces)
    simplified = _to_simplified(folded_text)
    if len(simplified) != len(folded_text):
        # A phrase rule changed the length: convert char by char to stay aligned.
        simplified = "".join(_to_simplified(c) if len(_to_simplified(c)) == 1 else c for c in folded_text)
    return simplified, offsets


def _words(normalized: str) -> list[str]:
    return jieba.lcut(normalized)


def _is_content(word: str) -> bool:
    return bool(_CONTENT.search(word)) and word.strip() == word and word not in stopwords()


def is_content_word(word: str) -> bool:
    """True for a word that carries meaning: not punctuation, space, a stopword or a question word."""
    return _is_content(word)


def _terms_from_words(words: list[str]) -> list[str]:
    terms: list[str] = []
    run = ""
    for word in words:
        if _is_content(word):
            terms.append(word)
            run += word
            continue
        terms.extend(run[i : i + 2] for i in range(len(run) - 1))
        run = ""
    terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def index_terms(text: str) -> list[str]:
    """The terms a passage is indexed by, or a question is searched with."""
    return _terms_from_words(_words(normalize(text)))


def question_tokens(text: str) -> list[tuple[str, int, int]]:
    """jieba's cut of the normalized text, with spans: one cut serves every use of a question."""
    return list(jieba.tokenize(normalize(text)))


def content_words_of(tokens: list[tuple[str, int, int]]) -> list[str]:
    """`content_words` from a cut already made."""
    seen: dict[str, None] = {}
    for word, _, _ in tokens:
        if _is_content(word):
            seen.setdefault(word, None)
    return list(seen)


def index_terms_of(tokens: list[tuple[str, int, int]]) -> list[str]:
    """`index_terms` from a cut already made."""
    return _terms_from_words([word for word, _, _ in tokens])


def content_words(text: str) -> list[str]:
    """The question's informative words, normalized, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _words(normalize(text)):
        if _is_content(word):
            seen.setdefault(word, None)
    return list(seen)


@dataclass(frozen=True)
class Token:
    """A content word of a text and its span in the original text."""

    word: str
    start: int
    end: int


def located_words(text: str) -> list[Token]:
    """The content words of `text`, each with its span in `text` itself."""
    normalized, offsets = normalize_with_offsets(text)
    tokens = []
    for word, start, end in jieba.tokenize(normalized):
        if not _is_content(word):
            continue
        tokens.append(Token(word, offsets[start], offsets[end - 1] + 1))
    return tokens


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def quiet_jieba() -> None:
    """jieba logs its dictionary loading at DEBUG to stderr; keep it silent."""
    jieba.setLogLevel(logging.WARNING)


quiet_jieba()
