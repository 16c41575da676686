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


@lru_cache(maxsize=1)
def _mainland_converter() -> opencc.OpenCC:
    return opencc.OpenCC("tw2sp")


def question_readings(text: str) -> tuple[str, ...]:
    """`normalize(text)`, then (when it differs) `text` with Taiwan's words read as the mainland's
    (網路 → 网络, 使用者 → 用户), from one folding and one conversion.

    Only text in traditional script gets the second reading: only a question
    in traditional script may be in Taiwan's words, and on simplified text the
    phrase table rewrites words the mainland uses too (核心, 建立). A reading,
    not the normalization: the index keeps `normalize`, and the caller chooses
    between the two by what the collection holds.
    """
    folded = _folded(text)
    simplified = _to_simplified(folded)
    if simplified == folded:
        return (simplified,)
    mainland = _mainland_converter().convert(folded)
    return (simplified,) if mainland == simplified else (simplified, mainland)


def noise_spans(text: str) -> list[Span]:
    """Spans of conversion noise in `text`."""
    if "(" not in text and "（" not in text:
        return []
    return [m.span() for m in NOISE.finditer(text)]


def normalize(text: str, simplified: bool = False) -> str:
    """The normalized form of `text`, used to index and to query.

    `simplified`: the index recorded that the text needs no traditional-to-simplified
    conversion (`normalize_converted` said so when it was indexed), so OpenCC is not run.
    """
    folded = _folded(text)
    return folded if simplified else _to_simplified(folded)


def normalize_converted(text: str) -> tuple[str, bool]:
    """`normalize(text)`, and whether the traditional-to-simplified step changed anything."""
    folded = _folded(text)
    simplified = _to_simplified(folded)
    return simplified, simplified != folded


class _NfkcTable(dict):
    """Code point -> its NFKC form alone, filled on first use."""

    def __missing__(self, code: int) -> str:
        value = unicodedata.normalize("NFKC", chr(code))
        self[code] = value
        return value


_NFKC = _NfkcTable()
# Characters NFKC leaves as they are: FOLD_STABLE (below) and the capitals.
_NFKC_MAY_CHANGE = re.compile(
    "[^\t\n\r\x20-\x7e\u2010\u2012-\u2016\u2018-\u2023\u2027\u2030-\u2032"
    "\u3001-\u3035\u3400-\u4dbf\u4e00-\u9fff]"
)


def _nfkc_one(match: re.Match[str]) -> str:
    return _NFKC[ord(match.group())]


# The full-width punctuation of most Chinese text, replaced in C before the regex looks for the rest.
_COMMON_WIDE = tuple((char, unicodedata.normalize("NFKC", char)) for char in "，：；！？（）")


def _folded(text: str) -> str:
    """Conversion noise out, then NFKC and case folding of the whole text.

    NFKC of the whole text is the NFKC of any equivalent text, so when the
    characters normalized one by one (a table lookup for the few a regex finds)
    already form an NFKC-normalized string, that string is the whole text's NFKC;
    otherwise (a combining mark or Hangul jamo joining its neighbour) the whole
    text is normalized. Case folding maps code points one by one.
    """
    text = replace_surrogates(text)
    if "(" in text or "（" in text:
        text = NOISE.sub("", text)
    pieces = text
    for wide, narrow in _COMMON_WIDE:
        if wide in pieces:
            pieces = pieces.replace(wide, narrow)
    if _NFKC_MAY_CHANGE.search(pieces):
        pieces = _NFKC_MAY_CHANGE.sub(_nfkc_one, pieces)
    if not unicodedata.is_normalized("NFKC", pieces):
        pieces = unicodedata.normalize("NFKC", text)
    return pieces.casefold()


class _FoldTable(dict):
    """Code point -> its NFKC, case-folded form, filled on first use."""

    def __missing__(self, code: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(code)).casefold()
        self[code] = folded
        return folded


_FOLD = _FoldTable()
# Characters that folding leaves as they are, covering nearly all of Chinese
# text (ASCII but capitals, CJK punctuation and ideographs, quotes and dashes):
# one regex scan skips them, and only the others are looked up.
FOLD_STABLE = (
    "\t\n\r\x20-\x40\x5b-\x7e\u2010\u2012-\u2016\u2018-\u2023\u2027\u2030-\u2032"
    "\u3001-\u3035\u3400-\u4dbf\u4e00-\u9fff"
)
_MAY_CHANGE = re.compile(f"[^{FOLD_STABLE}]")


_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3\ua960-\ua97f\ud7b0-\ud7ff]")


def folds_alike(normalized: str) -> bool:
    """True when `normalize` of the whole text gives what folding it character by character gave.

    They differ only where a character composes with its neighbour (a combining
    mark, Hangul jamo); `normalized` is the character-by-character result.
    """
    for match in _MAY_CHANGE.finditer(normalized):
        char = match.group()
        if unicodedata.category(char).startswith("M") or _HANGUL.match(char):
            return False
    return True


def _fold_one(match: re.Match[str]) -> str:
    return _FOLD[ord(match.group())]


def normalize_with_offsets(text: str, simplified: bool = False) -> tuple[str, list[int]]:
    """`normalize(text)` and, for each of its characters, its index in `text`.

    Characters are folded one by one (so that each keeps its offset): one regex
    scan finds the few that folding may change (full-width punctuation, capitals),
    and only those are looked up, in a table filled on first use. `simplified`:
    the text is known to need no traditional-to-simplified conversion (the index
    recorded it), so OpenCC is not run.
    """
    text = replace_surrogates(text)
    noise = noise_spans(text)
    if noise:
        kept_positions: list[int] = []
        pieces = []
        previous = 0
        for start, end in noise:
            kept_positions.extend(range(previous, start))
            pieces.append(text[previous:start])
            previous = end
        kept_positions.extend(range(previous, len(text)))
        pieces.append(text[previous:])
        kept = "".join(pieces)
    else:
        kept, kept_positions = text, list(range(len(text)))
    folded_text = _MAY_CHANGE.sub(_fold_one, kept)
    if len(folded_text) == len(kept):
        offsets = kept_positions
    else:
        offsets = []
        for position, char in zip(kept_positions, kept):
            offsets.extend([position] * len(_FOLD[ord(char)]))
    if simplified and folds_alike(folded_text):
        return folded_text, offsets  # the caller knows the conversion changes nothing here
    converted = _to_simplified(folded_text)
    if len(converted) != len(folded_text):
        # A phrase rule changed the length: convert char by char to stay aligned.
        converted = "".join(_to_simplified(c) if len(_to_simplified(c)) == 1 else c for c in folded_text)
    return converted, offsets


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
