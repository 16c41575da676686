"""Answers to text for people: the terminal (rich), plain text, Telegram HTML, and JSON.

Every adapter renders through this module, so an answer reads the same
everywhere: the best sentence first, then the passages, each with its citation
(《title》 · source · date · path:lines · url) and the question's words
highlighted. The terminal's line breaking is here too (`line_starts`): no line
starts with closing punctuation, and a number stays with its unit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.style import Style
from rich.table import Table
from rich.text import Text

from retrieval import Answer, Citation, Context, DocumentInfo, Hit, Outcome
from retrieval.text import terminal_safe

HIGHLIGHT_STYLE = "bold yellow"
CITATION_STYLE = "cyan"
BEST_STYLE = "bold"
HEADING_STYLE = "bold underline"
LINK_STYLE = "underline"

REASONS = {
    "empty": "问题里没有可以检索的词语(只有标点、表情或疑问词)。请换个说法,写出要找的人、事或词语。",
    "no-match": "文档中没有与问题相关的内容。",
    "unknown-words": "这些文档没有回答这个问题。",
    "low-coverage": "这些文档没有回答这个问题。",
    "filtered-out": "没有符合筛选条件的文档。",
}
# Unsure: the passages are related, but the bot does not claim that they answer.
UNSURE_TEXT = "这些文档可能没有直接回答这个问题,下面是相关的段落,请自行判断。"


MAX_BEST_SENTENCE = 300


def best_sentence_text(answer: Answer) -> str:
    """The best sentence, cut at MAX_BEST_SENTENCE characters (a sentence can be a whole page)."""
    sentence = answer.best_sentence or ""
    return sentence if len(sentence) <= MAX_BEST_SENTENCE else sentence[:MAX_BEST_SENTENCE] + "…"


def location(citation: Citation) -> str:
    """path:first-last (path:first for one line), as editors and grep write a place in a file."""
    first, last = citation.lines
    return f"{citation.path}:{first}" if first == last else f"{citation.path}:{first}-{last}"


def citation_head(citation: Citation) -> str:
    """《title》 · source · date · path:lines, leaving out what is unknown (the URL apart)."""
    parts = [f"《{citation.title}》"]
    parts += [p for p in (citation.source, citation.date) if p]
    parts.append(location(citation))
    return " · ".join(parts)


def citation_line(citation: Citation) -> str:
    """The whole citation as plain text: the head, then the URL when known."""
    head = citation_head(citation)
    return f"{head} · {citation.url}" if citation.url else head


def rich_citation(citation: Citation, prefix: str = "") -> Text:
    """The citation for a terminal; the URL a clickable OSC 8 link where colour is on (plain text otherwise)."""
    text = Text(terminal_safe(prefix + citation_head(citation), keep_newlines=False), style=CITATION_STYLE)
    if citation.url:
        url = terminal_safe(citation.url, keep_newlines=False)
        text.append(" · ", style=CITATION_STYLE)
        text.append(url, style=Style(link=url) + Style.parse(LINK_STYLE))
    return text


class Described(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def date(self) -> str | None: ...


def document_line(document: Described) -> str:
    parts = [f"《{document.title}》"] + [p for p in (document.source, document.date) if p]
    return " · ".join(parts)


def no_answer_text(answer: Answer, sources_hint: str) -> str:
    """Why there is no answer, and what to try (`sources_hint`: how to list the documents)."""
    text = REASONS.get(answer.reason or "", REASONS["low-coverage"])
    if answer.reason in ("unknown-words", "low-coverage", "no-match"):
        if answer.missing_words:
            text += f"(文档中没有出现: {'、'.join(answer.missing_words[:5])})"
        text += f" 可以用 {sources_hint} 查看有哪些文档。"
    return text


def safe_text(text: str, style: str | None = None) -> Text:
    """Terminal text from data (documents, catalogs, file names, questions): escape sequences removed."""
    return Text(terminal_safe(text), style=style or "")


# -- line breaking --------------------------------------------------------------------

# Characters a line may not start with (closing punctuation), and may not end with (opening).
CLOSING = set("，。、；：？！）」』”’》〉】〕…—,.;:?!)]}%‰·")
OPENING = set("（「『“‘《〈【〔([{")
_UNITS = "年月日号时点分秒万亿千百十元角岁个位名家人次倍股条篇段张台辆只件周天米克吨"
# A number with its unit ("2014年", "5.86亿", "18%"), a Latin word, a run of spaces, or one character.
_ATOM = re.compile(rf"[-+]?\d[\d,.:/]*(?: ?[%‰℃]| ?[{_UNITS}]{{1,2}})?|[A-Za-z][A-Za-z'’-]*|[ \t]+|\n|.", re.DOTALL)


def _atoms(text: str) -> list[tuple[int, int]]:
    """Spans of `text` that a line break may not fall inside."""
    atoms: list[list[int]] = []
    glue = False  # the atom before ends with opening punctuation
    after_newline = True
    for match in _ATOM.finditer(text):
        start, end = match.span()
        piece = match.group()
        if piece == "\n":
            atoms.append([start, end])
            glue, after_newline = False, True
            continue
        closing = all(c in CLOSING for c in piece)
        if not after_newline and (glue and not piece.isspace() or closing):
            atoms[-1][1] = end  # closing punctuation stays with what it closes; opening with what it opens
        else:
            atoms.append([start, end])
        glue = all(c in OPENING for c in piece) or (glue and closing)
        after_newline = False
    return [(a, b) for a, b in atoms]


def line_starts(text: str, width: int) -> list[int]:
    """Where each line after the first starts when `text` is broken to `width` terminal columns.

    The rule, in one place: a line never starts with closing punctuation (it
    stays on the line before, hanging past the width if it must), never ends with opening
    punctuation, never splits a number from its unit or a Latin word; spaces
    at a break are dropped; a "\n" always breaks; an atom wider than a whole
    line is cut by characters.
    """
    width = max(width, 2)
    starts: list[int] = []
    used = 0
    for start, end in _atoms(text):
        piece = text[start:end]
        if piece == "\n":
            starts.append(end)
            used = 0
            continue
        cells = cell_len(piece)
        if piece.isspace():
            if used and used + cells <= width:
                used += cells
            continue
        if used and used + cells > width:
            starts.append(start)
            used = 0
        if cells > width:
            for i in range(start, end):
                char = cell_len(text[i])
                if used and used + char > width and text[i] not in CLOSING:
                    starts.append(i)
                    used = 0
                used += char
            continue
        used += cells
    # A start on spaces moves past them (they were dropped at the break).
    moved = []
    for position in starts:
        while position < len(text) and text[position] in " \t":
            position += 1
        moved.append(position)
    return moved


class Wrapped:
    """A rich Text broken into lines by `line_starts` at the width it is given."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def lines(self, width: int) -> list[Text]:
        plain = self.text.plain
        starts = line_starts(plain, width)
        lines = []
        for lo, hi in zip([0, *starts], [*starts, len(plain)]):
            line = self.text[lo:hi]
            line.rstrip()
            if line.plain.endswith("\n"):
                line = line[: len(line.plain) - 1]
            line.no_wrap = True
            line.overflow = "ignore"
            lines.append(line)
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        plain = self.text.plain
        longest = max((cell_len(line) for line in plain.split("\n")), default=0)
        widest_atom = max((cell_len(plain[a:b]) for a, b in _atoms(plain)), default=1)
        return Measurement(min(widest_atom, longest), longest)


# -- terminal (rich) ----------------------------------------------------------

_MARKDOWN_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+")


def _is_markdown(citation: Citation) -> bool:
    return citation.path.lower().endswith((".md", ".markdown"))


def markdown_headings(text: Text) -> Text:
    """Lines that are Markdown headings ("## 标题") shown as headings: the # marks gone, the line styled."""
    plain = text.plain
    out = Text()
    position = 0
    for line in plain.split("\n"):
        end = position + len(line)
        match = _MARKDOWN_HEADING.match(line)
        if match:
            piece = text[position + match.end() : end]
            piece.stylize(HEADING_STYLE)
        else:
            piece = text[position:end]
        if position:
            out.append("\n")
        out.append_text(piece)
        position = end + 1
    return out


def _rich_hit_text(hit: Hit, max_chars: int | None = None) -> Text:
    text = Text()
    for piece, highlighted in _clipped_segments(hit, max_chars):
        text.append(terminal_safe(piece), style=HIGHLIGHT_STYLE if highlighted else None)
    return markdown_headings(text) if _is_markdown(hit.citation) else text


def rich_answer(
    answer: Answer, hits: Sequence[Hit] | None = None, first_number: int = 1, sources_hint: str = ":sources"
) -> Group:
    """The answer for a terminal; `hits` (default: all) lets `:more` show the next ones."""
    parts: list = []
    if answer.outcome == Outcome.NO_ANSWER:
        parts.append(Wrapped(safe_text("没有答案: " + no_answer_text(answer, sources_hint), style="bold red")))
        return Group(*parts)
    if answer.outcome == Outcome.UNSURE and hits is None:
        parts.append(Wrapped(Text("不确定: " + UNSURE_TEXT, style="bold yellow")))
        parts.append(Text(""))
    if answer.best_sentence and hits is None:
        # A two-column grid: the sentence wraps under itself, not under "答:".
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        grid.add_row(Text("答:", style=BEST_STYLE), Wrapped(safe_text(best_sentence_text(answer), style=BEST_STYLE)))
        parts.append(grid)
        parts.append(Text(""))
    for number, hit in enumerate(hits if hits is not None else answer.hits, start=first_number):
        parts.append(Wrapped(rich_citation(hit.citation, prefix=f"[{number}] ")))
        parts.append(Padding(Wrapped(_rich_hit_text(hit)), (0, 0, 1, 4), expand=False))
    return Group(*parts)


def rich_context(context: Context) -> Group:
    parts: list[Any] = [Wrapped(rich_citation(context.citation))]
    markdown = _is_markdown(context.citation)
    for number, text in context.paragraphs:
        style = None if number == context.focus else "dim"
        body = safe_text(text, style=style)
        if markdown:
            body = markdown_headings(body)
        parts.append(Padding(Wrapped(Text(f"¶{number}  ", style=style or "") + body), (0, 0, 1, 2), expand=False))
    return Group(*parts)


def rich_lines(citation: Citation, lines: Iterable[tuple[int, str]], folder: str | None) -> Group:
    """A passage as its lines of the file, numbered as an editor numbers them (`:open N`)."""
    where = f"{folder.rstrip('/')}/{location(citation)}" if folder else location(citation)
    parts: list[Any] = [rich_citation(citation), safe_text(f"文件: {where}", style="bold")]
    numbered = list(lines)
    digits = len(str(numbered[-1][0])) if numbered else 1
    first, last = citation.lines
    for number, line in numbered:
        inside = first <= number <= last
        gutter = Text(f"{number:>{digits}} │ ", style="dim" if not inside else CITATION_STYLE)
        parts.append(Wrapped(gutter + safe_text(line, style=None if inside else "dim")))
    return Group(*parts)


# -- JSON ---------------------------------------------------------------------


def answer_json(answer: Answer) -> dict:
    """A stable JSON document of the answer (described in the README)."""
    document = {
        "question": answer.question,
        "abstained": answer.abstained,
        "reason": answer.reason,
        "missing_words": list(answer.missing_words),
        "best_sentence": answer.best_sentence,
        "outcome": str(answer.outcome),
        "confidence": round(answer.confidence, 4),
        "hits": [
            {
                "rank": hit.rank,
                "score": hit.score,
                "text": hit.text,
                "display_text": hit.display_text,
                "highlights": [list(span) for span in hit.highlights],
                "start": hit.start,
                "end": hit.end,
                "file_text": hit.file_text,
                "citation": citation_json(hit.citation),
            }
            for hit in answer.hits
        ],
    }
    if answer.searched is not None:
        document["searched"] = answer.searched  # a follow-up, as it was understood
    return document


def citation_json(citation: Citation) -> dict[str, object]:
    return {
        "doc_id": citation.doc_id,
        "path": citation.path,
        "lines": list(citation.lines),
        "title": citation.title,
        "source": citation.source,
        "date": citation.date,
        "url": citation.url,
        "paragraph": citation.paragraph,
    }


def error_json(question: str, message: str) -> dict[str, object]:
    """What --json prints for a question that cannot be searched: the question and why, in place of an answer."""
    return {"question": question.strip(), "error": message}


# -- Telegram HTML ------------------------------------------------------------

TELEGRAM_LIMIT = 4096


def _clipped_segments(hit: Hit, max_chars: int | None) -> list[tuple[str, bool]]:
    """The hit's readable pieces, cut to about `max_chars` around the first highlight."""
    pieces = hit.segments()
    if max_chars is None:
        return pieces
    total = sum(len(p) for p, _ in pieces)
    if total <= max_chars:
        return pieces
    # Start a little before the first highlighted word, so it is in view.
    first = 0
    position = 0
    for piece, highlighted in pieces:
        if highlighted:
            first = position
            break
        position += len(piece)
    start = max(0, min(first - max_chars // 4, total - max_chars))
    end = start + max_chars
    clipped: list[tuple[str, bool]] = []
    position = 0
    for piece, highlighted in pieces:
        lo, hi = max(start, position), min(end, position + len(piece))
        if lo < hi:
            clipped.append((piece[lo - position : hi - position], highlighted))
        position += len(piece)
    if start > 0:
        clipped.insert(0, ("…", False))
    if end < total:
        clipped.append(("…", False))
    return clipped


def html_citation(citation: Citation) -> str:
    """The citation as Telegram HTML: the head in italics, the URL a link."""
    head = f"<i>{html.escape(citation_head(citation))}</i>"
    if not citation.url:
        return head
    url = html.escape(citation.url, quote=True)
    return f'{head} · <a href="{url}">{html.escape(citation.url)}</a>'


def html_hit(hit: Hit, number: int, max_chars: int | None = None) -> str:
    body = "".join(
        f"<b>{html.escape(piece)}</b>" if highlighted else html.escape(piece)
        for piece, highlighted in _clipped_segments(hit, max_chars)
    )
    return f"<b>[{number}]</b> {html_citation(hit.citation)}\n{body}"


def html_answer(
    answer: Answer, hits: Sequence[Hit] | None = None, first_number: int = 1, limit: int = TELEGRAM_LIMIT
) -> str:
    """The answer as Telegram HTML, never longer than `limit` characters.

    Passages are shortened around their highlighted words until the whole fits;
    cuts fall between pieces of text, never inside a tag or an entity.
    """
    understood = html_understood(answer) if hits is None else ""
    if answer.outcome == Outcome.NO_ANSWER:
        return understood + "没有找到答案:" + html.escape(no_answer_text(answer, "/sources"))
    shown = list(hits if hits is not None else answer.hits)
    head = understood
    if answer.outcome == Outcome.UNSURE and hits is None:
        head += f"<i>{html.escape(UNSURE_TEXT)}</i>\n\n"
    if answer.best_sentence and hits is None:
        head += f"<b>答:</b> {html.escape(best_sentence_text(answer))}\n\n"
    budget: int | None = None
    while True:
        blocks = [html_hit(hit, number, budget) for number, hit in enumerate(shown, start=first_number)]
        message = head + "\n\n".join(blocks)
        if len(message) <= limit:
            return message
        longest = max(len(hit.display_text) for hit in shown)
        budget = min(budget or longest, longest) * 3 // 4
        if budget < 60:
            # Too many passages for one message even when short: drop the last.
            if len(shown) > 1:
                shown.pop()
                budget = None
                continue
            return (head + html_hit(shown[0], first_number, 60))[:limit]


def html_understood(answer: Answer) -> str:
    """"理解为: …" and a line break, when a follow-up was searched in other words; else nothing."""
    if answer.searched is None or answer.searched == answer.question:
        return ""
    return f"<i>理解为: {html.escape(answer.searched)}</i>\n"


def html_short_answer(answer: Answer) -> str:
    """The best sentence and the citation of its passage only (groups that chose short answers)."""
    if answer.abstained or answer.best_sentence is None or answer.best_sentence_hit is None:
        return html_answer(answer)
    citation = html_citation(answer.hits[answer.best_sentence_hit].citation)
    return f"{html_understood(answer)}<b>答:</b> {html.escape(best_sentence_text(answer))}\n— {citation}"


def html_context(context: Context, limit: int = TELEGRAM_LIMIT) -> str:
    """A paragraph and its neighbours as Telegram HTML; the neighbours go first when it is too long."""
    head = html_citation(context.citation)

    def paragraph(number: int, text: str) -> str:
        body = html.escape(text)
        return f"<b>¶{number}</b> {body}" if number == context.focus else f"¶{number} {body}"

    message = "\n\n".join([head] + [paragraph(n, t) for n, t in context.paragraphs])
    if len(message) <= limit:
        return message
    focus = next(text for number, text in context.paragraphs if number == context.focus)
    # Cut the plain text, then escape: a cut never falls inside an entity or a tag.
    keep = len(focus)
    while True:
        message = f"{head}\n\n{paragraph(context.focus, focus[:keep])}…"
        if len(message) <= limit:
            return message
        keep = keep * 9 // 10


def html_document(document: DocumentInfo) -> str:
    """One document's details for /source N."""
    lines = [f"<b>{document.number}. 《{html.escape(document.title)}》</b>"]
    if document.source:
        lines.append(f"来源: {html.escape(document.source)}")
    if document.date:
        lines.append(f"日期: {html.escape(document.date)}")
    if document.url:
        lines.append(f'链接: <a href="{html.escape(document.url, quote=True)}">{html.escape(document.url)}</a>')
    lines.append(f"段落数: {document.passages}")
    lines.append(f"文件: {html.escape(document.doc_id)}")
    return "\n".join(lines)


# -- Telegram messages ----------------------------------------------------------
# Every text the Telegram bot sends is written here; the handlers only choose one.

NOT_ALLOWED = "抱歉,这个机器人只为授权的用户和群组服务。"
STALE_BUTTON = "这个按钮已经过期(机器人重启过或回答太久以前),请重新提问。"
INVALID_BUTTON = "这个按钮的数据无效,请重新提问。"
APOLOGY = "抱歉,处理你的消息时出错了,请稍后再试。"
NO_MORE = "没有更多相关段落了。"
START_DOCUMENTS = 10
SOURCES_PER_PAGE = 20


def telegram_text_only(example: str) -> str:
    return f"我只能回答文字问题:请用中文打字提问,例如「{example}」。"


def telegram_too_fast(per_minute: int) -> str:
    return f"提问太快了:每分钟最多 {per_minute} 个问题,请稍等一会儿再问。这一分钟内多出的问题不会再单独提醒。"


def telegram_ask_usage(example: str, username: str | None = None) -> str:
    mention = f",或 @{username} 问题" if username else ""
    return f"用法: /ask 问题{mention},例如 /ask {example}"


def telegram_source_usage(count: int) -> str:
    return f"用法: /source 编号,编号为 1 到 {count}。先用 /sources 查看列表。"


def telegram_unknown_command(command: str, commands: Sequence[tuple[str, str]]) -> str:
    listed = " ".join(f"/{name}" for name, _ in commands)
    return f"没有 {command} 这个命令。可用的命令: {listed}"


def html_start(documents: Sequence[DocumentInfo], examples: Sequence[str], commands: Sequence[tuple[str, str]]) -> str:
    """/start and /help: what the bot knows, example questions, the commands."""
    listed = [f"{d.number}. {html.escape(document_line(d))}" for d in documents[:START_DOCUMENTS]]
    if len(documents) > START_DOCUMENTS:
        listed.append(f"…共 {len(documents)} 篇,/sources 查看全部")
    lines = [
        f"我可以回答关于这 {len(documents)} 篇文档的问题,每个回答都附出处(标题 · 来源 · 日期 · 文件:行号)。",
        "",
        *listed,
        "",
        "<b>试试这些问题:</b>",
        *(f"• {html.escape(q)}" for q in examples),
        "",
        "<b>命令:</b>",
        *(f"/{name} — {html.escape(text)}" for name, text in commands),
        "",
        "私聊时直接发问题即可;在群组里请用 /ask 问题、@我,或回复我的消息。",
    ]
    return "\n".join(lines)


def sources_pages(count: int, per_page: int = SOURCES_PER_PAGE) -> int:
    return max(1, -(-count // per_page))


def html_sources_page(
    documents: Sequence[DocumentInfo], page: int, per_page: int = SOURCES_PER_PAGE, limit: int = TELEGRAM_LIMIT
) -> str:
    """One page (numbered from 1) of /sources; long titles are cut so the page fits one message."""
    pages = sources_pages(len(documents), per_page)
    head = f"<b>文档列表</b>(共 {len(documents)} 篇,第 {page}/{pages} 页;/source 编号 查看详情)"
    shown = documents[(page - 1) * per_page : page * per_page]
    width = max(40, (limit - len(head)) // max(1, len(shown)) // 2)  # escaping can double a line
    lines = [head]
    for document in shown:
        line = document_line(document)
        if len(line) > width:
            line = line[: width - 1] + "…"
        lines.append(f"{document.number}. {html.escape(line)}")
    return "\n".join(lines)


# -- conversations, settings and filters in Telegram -----------------------------------

NEW_CONVERSATION = "好的,重新开始:下一个问题不再接着之前的回答理解。"
FILTERS_CLEARED = "已清除筛选条件,之后的问题在全部文档中查找。"
FILTERS_HINT = "可以用 /clear 清除筛选条件。"
NO_FILTERS = "没有筛选条件:问题在全部文档中查找。可以用 /since 年份 或 /source 来源 缩小范围。"
SETTINGS_SAVED = "已保存"
ADMINS_ONLY = "抱歉,只有本群的管理员可以更改机器人的设置和筛选条件。"
ADMIN_CHECK_FAILED = "抱歉,暂时无法确认你是否为本群的管理员,设置没有更改,请稍后再试。"


def telegram_since_usage(error: str | None = None) -> str:
    usage = "用法: /since 年份,例如 /since 2015(也可以写 2015-07 或 2015-07-10),只在此日期及以后的文档中查找。"
    return f"{error}\n{usage}" if error else usage


def telegram_source_filter_usage(count: int) -> str:
    return (
        f"用法: /source 编号 查看某篇文档(1 到 {count});/source 来源名称(例如 /source 易商讯)"
        "只在该来源的文档中查找。"
    )


def telegram_unknown_source(name: str, known: Sequence[str]) -> str:
    listed = "、".join(known[:10]) if known else "(文档都没有注明来源)"
    return f"没有来源包含「{name}」的文档,筛选条件没有改变。已知的来源: {listed}"


def telegram_filters(since: str | None, sources: Sequence[str], matching: int, total: int) -> str:
    """What /filters shows, and what /since and /source confirm."""
    if since is None and not sources:
        return NO_FILTERS
    parts = []
    if sources:
        parts.append("来源包含「" + "」或「".join(sources) + "」")
    if since is not None:
        parts.append(f"日期不早于 {since}(没有日期的文档不算)")
    text = f"筛选条件: {';'.join(parts)}。符合条件的文档 {matching}/{total} 篇。/clear 清除。"
    if matching == 0:
        text += " 现在没有文档符合,所有问题都会没有答案。"
    return text


def html_settings(k: int, style: str | None, default_k: int) -> str:
    """/settings: the chat's choices (`style` only in groups), changed with the buttons below."""
    lines = ["<b>设置</b>(点击下面的按钮修改)", f"每个回答显示的段落数: {k}(默认 {default_k})"]
    if style is not None:
        lines.append("群组里的回答: " + ("简短(只有答句和出处)" if style == "short" else "完整(答句和各段落)"))
    return "\n".join(lines)


# -- inline mode (@bot 问题 in any chat) ---------------------------------------------------

INLINE_TITLE_LIMIT = 64  # Telegram shows one line of the title; longer ones are cut by the client anyway
INLINE_DESCRIPTION_LIMIT = 160  # two or three lines under the title


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def inline_title(hit: Hit) -> str:
    return _cut(citation_head(hit.citation), INLINE_TITLE_LIMIT)


def inline_description(answer: Answer, number: int) -> str:
    """The headline for the passage it comes from, the start of the passage for the others."""
    hit = answer.hits[number - 1]
    if answer.best_sentence_hit == number - 1 and answer.best_sentence:
        return _cut("答: " + answer.best_sentence, INLINE_DESCRIPTION_LIMIT)
    return _cut(hit.display_text, INLINE_DESCRIPTION_LIMIT)


def html_inline_answer(answer: Answer, number: int, limit: int = TELEGRAM_LIMIT) -> str:
    """The message an inline result sends: the question, the headline, then passage `number` with its citation."""
    head = f"<b>问:</b> {html.escape(_cut(answer.question, 300))}\n"
    if answer.best_sentence:
        head += f"<b>答:</b> {html.escape(best_sentence_text(answer))}\n"
    hit = answer.hits[number - 1]
    budget: int | None = None
    while True:
        message = head + "\n" + html_hit(hit, number, budget)
        if len(message) <= limit:
            return message
        budget = max(60, (budget or len(hit.display_text)) * 3 // 4)


INLINE_NO_ANSWER_TITLE = "没有找到答案"
INLINE_INVALID_TITLE = "无法检索这个问题"


def inline_no_answer(answer: Answer) -> str:
    return _cut(no_answer_text(answer, "/sources"), INLINE_DESCRIPTION_LIMIT)


def html_inline_no_answer(answer: Answer) -> str:
    """What "没有找到答案" sends when picked: the question and why the documents do not answer it."""
    return f"<b>问:</b> {html.escape(_cut(answer.question, 300))}\n没有找到答案:" + html.escape(
        no_answer_text(answer, "/sources")
    )
