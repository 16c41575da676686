"""Ranked passages to what a reader sees: highlights, and which question words the documents know.

The headline sentence and the decision to answer are the answer model's
(`answer_features`, `answer_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from retrieval.analysis import has_cjk, located_words, normalize_with_offsets

Span = tuple[int, int]


def is_known(word: str, document_frequency: Callable[[str], int]) -> bool:
    """True when some passage holds `word`, as a term or (CJK) as all its bigrams."""
    if document_frequency(word) > 0:
        return True
    if len(word) >= 2 and has_cjk(word):
        return all(document_frequency(word[i : i + 2]) > 0 for i in range(len(word) - 1))
    return False


def highlight_spans(text: str, words: Sequence[str]) -> tuple[Span, ...]:
    """Spans of `text` where a word of the question stands, merged and sorted.

    Words of two or more characters are found wherever they occur (jieba may cut
    the passage differently); a one-character word only where jieba cut it alone.
    """
    if not words:
        return ()
    normalized, offsets = normalize_with_offsets(text)
    spans: list[Span] = []
    singles = {w for w in words if len(w) == 1}
    for word in words:
        if len(word) < 2:
            continue
        start = normalized.find(word)
        while start >= 0:
            spans.append((offsets[start], offsets[start + len(word) - 1] + 1))
            start = normalized.find(word, start + len(word))
    if singles:
        spans.extend((t.start, t.end) for t in located_words(text) if t.word in singles)
    return _merge(spans)


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)
