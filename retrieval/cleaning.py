"""Text to content lines: drop the boilerplate of scraped news pages, keep spans.

The rules are about kinds of lines that scraped Chinese news pages carry
(navigation, share/print/font-size links, copyright and disclaimer notices, ICP
numbers, lists of unrelated headlines, "今天给大家分享..." wrappers), matched on
the normalized text so that they hold in either script. Each kept line keeps its
span in the file, so that passages can show the file's own characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text import normalize, normalize_with_offsets, sentence_spans

# Lines whose whole purpose is navigation or credits.
_LABELS = (
    "分享到|分享|打印|打印本页|关闭|关闭窗口|收藏|收藏本页|返回顶部|返回首页|返回列表|上一篇|下一篇|"
    "相关文章|相关阅读|相关新闻|相关推荐|相关链接|热点资讯|热门推荐|热门文章|推荐阅读|延伸阅读|猜你喜欢|"
    "24小时|周排行|月排行|热门排行|点击排行|免责声明|郑重声明|版权声明|特别声明|责任编辑|扫一扫|"
    "微信扫一扫|字号|字体"
)
_LABEL_LINE = re.compile(rf"^(?:{_LABELS})\s*(?:[::].*)?$")
# Phrases that make the line they open page furniture, however long: navigation, the
# wrappers content farms put around a copied article, a page's link to itself.
_FURNITURE = (
    r"当前位置|您的位置|你的位置|您现在的位置|首页\s*[»>›/]|».*»"
    r"|仅提供信息存储|本文由.{0,30}(?:授权|发布)"
    r"|本文[^。]{0,40}(?:链接|地址)\s*[::]|原文(?:链接|地址)\s*[::]"
    r"|给大家分享|请往下看|就介绍到这|感兴趣的(?:朋友|小伙伴|话)"
)
# Notices that also stand inside article text: only the sentence holding one is cut.
_NOTICES = (
    r"版权所有|版权归|copyright|all\s+rights?\s+reserved|©"
    r"|仅代表作者|不代表本(?:站|网|平台)|如有侵权|侵权行为|转载请注明|未经授权.{0,6}转载"
    r"|icp[备证]|公网安备"
)
FURNITURE = re.compile(_FURNITURE)
BOILERPLATE = re.compile(f"{_FURNITURE}|{_NOTICES}")
# A notice that says what it is up front is furniture however long it runs.
_NOTICE = re.compile(r"^[【\[(（]?\s*(?:免责声明|郑重声明|版权声明|特别声明|声明)\s*[】\])）]?\s*[::]")
_CLAUSE = re.compile(r"[^,，;；:：]+[,，;；:：]?")
_CREDIT = re.compile(r"^[(（\[【]?\s*(?:责任编辑|编辑|文|作者|记者|校对|来源)\s*[::/].{0,16}[)）\]】]?$")
_BULLET = re.compile(r"^[-•·*▪►]\s*\S")
# Links inside a line: 【字体:大 中 小】【打印】, 放大字体 缩小字体.
_INLINE = re.compile(
    r"[【\[]\s*(?:字体[^】\]]{0,8}|收藏[^】\]]{0,6}|打印[^】\]]{0,6}|关闭[^】\]]{0,6}|分享[^】\]]{0,6}"
    r"|返回[^】\]]{0,6}|评论[^】\]]{0,6}|推荐[^】\]]{0,6})\s*[】\]]"
    r"|(?:放大|缩小|默认)字体|字体\s*[::]\s*大\s*中\s*小"
)
_NON_WORD = re.compile(r"\W+")

# A line with more words than this keeps them when a boilerplate phrase stands inside:
# only the sentence (or, in a long sentence, the clause) holding the phrase is cut.
LONG_LINE = 40
MIN_DUPLICATE_KEY = 6
MIN_PREFIX_KEY = 20
HEADER_LINES = 15


@dataclass(frozen=True)
class Line:
    """A stripped, non-empty line of a document and its span in the text."""

    start: int
    end: int
    text: str  # the file's own characters
    norm: str  # normalize(text)
    continues: bool = False  # a piece of the line before, cut apart around boilerplate

    @property
    def key(self) -> str:
        """The line's words alone, to find repeats."""
        return _NON_WORD.sub("", self.norm)


def split_lines(text: str) -> list[Line]:
    """The non-empty lines of `text`, stripped of surrounding white space."""
    lines = []
    position = 0
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        if stripped:
            start = position + raw.index(stripped[0])
            lines.append(Line(start, start + len(stripped), stripped, normalize(stripped)))
        position += len(raw)
    return lines


def _trim_inline(line: Line) -> list[Line]:
    """The pieces of `line` left once in-line share/print/font links are cut out."""
    if not _INLINE.search(line.norm):
        return [line]
    norm, offsets = normalize_with_offsets(line.text)
    pieces: list[Line] = []
    cursor = 0
    cuts = [m.span() for m in _INLINE.finditer(norm)] + [(len(norm), len(norm))]
    for cut_start, cut_end in cuts:
        if cut_start > cursor:
            start = offsets[cursor]
            end = offsets[cut_start - 1] + 1
            piece = line.text[start:end]
            stripped = piece.strip()
            if stripped and _NON_WORD.sub("", stripped):
                lead = piece.index(stripped[0])
                begin = line.start + start + lead
                pieces.append(Line(begin, begin + len(stripped), stripped, normalize(stripped)))
        cursor = cut_end
    return pieces


def _piece(line: Line, start: int, end: int, continues: bool) -> Line | None:
    """The part text[start:end] of `line`, stripped, as a line of its own; None when blank."""
    raw = line.text[start:end]
    stripped = raw.strip()
    if not stripped or not _NON_WORD.sub("", stripped):
        return None
    begin = line.start + start + raw.index(stripped[0])
    return Line(begin, begin + len(stripped), stripped, normalize(stripped), continues)


def _cut_boilerplate(line: Line) -> list[Line]:
    """A long line with a boilerplate phrase inside, without the sentence or clause holding it."""
    if len(line.key) <= LONG_LINE or not BOILERPLATE.search(line.norm) or _NOTICE.match(line.norm):
        return [line]
    sentences = sentence_spans(line.text)
    first = normalize(line.text[sentences[0][0] : sentences[0][1]]) if sentences else line.norm
    if BOILERPLATE.search(first) and (FURNITURE.search(first) or len(_NON_WORD.sub("", first)) <= LONG_LINE):
        return [line]  # the line opens with the notice: it is one, and is dropped whole
    kept: list[tuple[int, int]] = []
    for start, end in sentences:
        sentence = line.text[start:end]
        if not BOILERPLATE.search(normalize(sentence)):
            kept.append((start, end))
        elif len(_NON_WORD.sub("", sentence)) > LONG_LINE:
            for match in _CLAUSE.finditer(sentence):
                if not BOILERPLATE.search(normalize(match.group())):
                    kept.append((start + match.start(), start + match.end()))
    pieces: list[Line] = []
    # Neighbouring kept parts stay one piece; a cut starts a new piece of the same paragraph.
    for start, end in kept:
        if pieces and line.text[pieces[-1].end - line.start : start].strip() == "":
            merged = _piece(line, pieces[-1].start - line.start, end, pieces[-1].continues)
            if merged is not None:
                pieces[-1] = merged
            continue
        piece = _piece(line, start, end, bool(pieces) or line.continues)
        if piece is not None:
            pieces.append(piece)
    return pieces


def is_boilerplate(line: Line) -> bool:
    """True for a line that is page furniture, not article text."""
    norm = line.norm.strip().lstrip("-•·*▪► ")
    if not _NON_WORD.sub("", norm):
        return True
    if _NOTICE.match(norm):
        return True
    if _LABEL_LINE.match(norm) and len(norm) <= 60:
        return True
    if _CREDIT.match(norm):
        return True
    return bool(BOILERPLATE.search(norm))


def _bullet_runs(lines: list[Line]) -> set[int]:
    """Indexes of lines in runs of three or more bulleted lines (headline lists)."""
    found: set[int] = set()
    run: list[int] = []
    for i, line in enumerate(lines + [Line(0, 0, "", "")]):
        if _BULLET.match(line.norm):
            run.append(i)
            continue
        if run and line.text and not _NON_WORD.sub("", line.norm):
            continue  # a lone "-" inside the list
        if len(run) >= 3:
            found.update(run)
        run = []
    return found


@dataclass(frozen=True)
class CleanText:
    """A document's lines sorted into content and page furniture."""

    lines: list[Line]  # every line, in-line links already cut out
    content: list[Line]  # the lines to index, in order, each repeat once
    boilerplate: list[Line]  # the lines dropped as furniture (their metadata still counts)
    header_end: int  # index in `lines` of the first line after the dateline (0: none)


def clean(text: str, is_dateline) -> CleanText:
    """Sort `text` into content and boilerplate lines.

    `is_dateline(line)` tells a line carrying the publication date: lines before
    it are the page header, where a teaser repeating a body line is dropped in
    favour of the body's copy.
    """
    lines = [piece for line in split_lines(text) for piece in _trim_inline(line)]
    lines = [piece for line in lines for piece in _cut_boilerplate(line)]
    bullets = _bullet_runs(lines)
    header_end = 0
    for i, line in enumerate(lines[:HEADER_LINES]):
        if is_dateline(line):
            header_end = i + 1
            break
    dropped = set(bullets)
    for i, line in enumerate(lines):
        if is_boilerplate(line):
            dropped.add(i)
        elif i < header_end - 1 and line.norm.rstrip().endswith((":", ":")) and len(line.key) <= 12:
            # A label left over from the page header ("旗下微信矩阵:").
            dropped.add(i)
    dropped |= _repeats(lines, dropped, header_end)
    content = [line for i, line in enumerate(lines) if i not in dropped]
    boilerplate = [line for i, line in enumerate(lines) if i in dropped]
    return CleanText(lines, content, boilerplate, header_end)


def _repeats(lines: list[Line], dropped: set[int], header_end: int) -> set[int]:
    """Lines that repeat another line, or are a truncated copy of a longer one."""
    occurrences: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        if i not in dropped and len(line.key) >= MIN_DUPLICATE_KEY:
            occurrences.setdefault(line.key, []).append(i)
    repeats: set[int] = set()
    for places in occurrences.values():
        if len(places) < 2:
            continue
        in_body = [i for i in places if i >= header_end]
        keep = in_body[0] if in_body else places[0]
        repeats.update(i for i in places if i != keep)
    # A teaser cut off mid-sentence ("导读") is a prefix of the full paragraph.
    keys = sorted(occurrences)
    for key, following in zip(keys, keys[1:]):
        if len(key) >= MIN_PREFIX_KEY and following.startswith(key):
            repeats.update(occurrences[key])
    return repeats
