"""Plain text primitives every step shares: spans, normalization, sentences, safe display.

This module imports nothing of the project. Normalization is the one used to
index and to query: conversion-noise removal (pinyin such as "(yè)" left after
a character by a bad simplified/traditional conversion), NFKC (full width to
half width), case folding, and traditional to simplified script (OpenCC).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from functools import lru_cache

import opencc

Span = tuple[int, int]

_TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
# "(yè)" after a CJK character: one pinyin syllable with a tone mark.
NOISE = re.compile(
    r"(?<=[\u3400-\u9fff\uf900-\ufaff])[(（]"
    rf"[a-zü]*[{_TONE_VOWELS}][a-zü]*"
    r"[)）]"
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SENTENCE = re.compile(r"[^。！？!?;；\n]*(?:[。！？!?;；]+[”’」』)）\"']*|\n|$)")
_TERMINAL = "。！？!?…"
# Escape sequences a terminal acts on: CSI (colours, cursor, screen clearing), OSC (clipboard
# writes, links, titles), DCS/SOS/PM/APC strings, and two-character escapes.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# Bidirectional overrides and isolates can make a line read as something else.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

SHORT_LINE = 30
TINY_LINE = 12


# -- code points --------------------------------------------------------------


def replace_surrogates(text: str) -> str:
    """`text` with each lone surrogate (never valid text) replaced by U+FFFD, same length."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def terminal_safe(text: str, keep_newlines: bool = True) -> str:
    """`text` without escape sequences, control characters or bidi overrides: safe to print.

    A document, catalog or file name must never write to the clipboard, clear
    the screen, or disguise what it shows.
    """
    text = _ESCAPE_SEQUENCE.sub("", replace_surrogates(text))
    kept = []
    for char in text:
        if char == "\n" and keep_newlines:
            kept.append(char)
        elif char == "\t":
            kept.append(" ")
        elif unicodedata.category(char) == "Cc" or char in _BIDI:
            continue
        else:
            kept.append(char)
    return "".join(kept)


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


# -- normalization --------------------------------------------------------------


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _to_simplified(text: str) -> str:
    return _converter().convert(text)


def noise_spans(text: str) -> list[Span]:
    """Spans of conversion noise in `text`."""
    return [m.span() for m in NOISE.finditer(text)]


def normalize(text: str) -> str:
    """The normalized form of `text`, used to index and to query."""
    text = NOISE.sub("", replace_surrogates(text))
    text = unicodedata.normalize("NFKC", text).casefold()
    return _to_simplified(text)


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalize(text)` and, for each of its characters, its index in `text`."""
    text = replace_surrogates(text)
    pieces: list[str] = []
    offsets: list[int] = []
    hidden: set[int] = set()
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


# -- sentences and lines ------------------------------------------------------------


def ends_sentence(text: str) -> bool:
    """True when `text` ends a sentence (closing quotes and brackets allowed)."""
    stripped = text.rstrip("”’」』)）\"' ")
    return bool(stripped) and stripped[-1] in _TERMINAL


def is_heading(text: str) -> bool:
    """A short line that does not end a sentence: a heading, which answers little."""
    return len(text) <= SHORT_LINE and not ends_sentence(text)


def joins_below(text: str) -> bool:
    """A heading or a very short line: it belongs with the paragraph below it."""
    return len(text) <= TINY_LINE or is_heading(text)


def sentence_spans(text: str) -> list[Span]:
    """(start, end) of each sentence of `text`, white space around it left out."""
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        piece = text[start:end]
        if not piece.strip():
            continue
        start += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        spans.append((start, end))
    return spans


def merge_spans(spans: list[Span]) -> tuple[Span, ...]:
    """Overlapping spans merged, sorted."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


# What ends a line in an editor: CRLF, LF or a lone CR (decoded texts keep the file's own).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """The offset where each line of `text` starts, the first at 0."""
    return [0] + [match.end() for match in _LINE_BREAK.finditer(text)]


def line_range(starts: list[int], start: int, end: int) -> tuple[int, int]:
    """The (first, last) 1-based line numbers holding characters start..end-1, given `line_starts`."""
    return bisect.bisect_right(starts, start), bisect.bisect_right(starts, max(start, end - 1))


def numbered_lines(text: str, starts: list[int], first: int, last: int) -> list[tuple[int, str]]:
    """Lines first..last of `text` (clamped to the text), numbered from 1, without their line breaks."""
    numbered = []
    for number in range(max(1, first), min(len(starts), last) + 1):
        end = starts[number] if number < len(starts) else len(text)
        numbered.append((number, text[starts[number - 1] : end].rstrip("\r\n")))
    return numbered
