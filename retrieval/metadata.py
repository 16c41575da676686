"""Title, source, date and URL of a document: read off its text, or from a catalog.

The catalog is a TOML file named `catalog.toml` beside the documents, one table
per document (its path relative to the folder), any of the four fields set:

    ["001_6343723039a13da3.txt"]
    title = "阿里新浪共缔微电商"
    source = "搜狐IT"
    date = "2013-05-01"
    url = "https://example.com/article"
"""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.cleaning import BOILERPLATE, Line
from retrieval.errors import CatalogError
from retrieval.loading import CATALOG_NAME, os_reason
from retrieval.text import NOISE, ends_sentence, normalize_with_offsets

FIELDS = ("title", "source", "date", "url")

_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*日?")
_DATE_LABEL = re.compile(r"(?:发布|发表|更新|出版)?(?:日期|时间)\s*[::]?\s*$|发表于\s*$")
_SOURCE_LABEL = re.compile(r"(?:来源|出处|来自)\s*[::]\s*")
_BYLINE_SEPARATOR = re.compile(r"^[\s\d:]*[·|｜/丨]\s*")
_URL = re.compile(r"https?://[\w.-]+(?:/[\w\-./?%&=+#~:@!$,;]*)?", re.ASCII)
_COPYRIGHT_WORDS = re.compile(
    r"copyright|all\s+rights?\s+reserved|版权所有|©|\(c\)|(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+|\d{4}(?:\s*-\s*\d{4})?",
    re.IGNORECASE,
)
_BOOK_TITLE = re.compile(r"《([^《》]{2,60})》")
_TITLE_END = ":：,，、;；"
MAX_TITLE = 64
MAX_DATELINE = 80


@dataclass(frozen=True)
class Metadata:
    """What a citation says of a document; None where it is not known."""

    title: str | None = None
    source: str | None = None
    date: str | None = None
    url: str | None = None


def find_date(line: Line) -> tuple[str, int, int] | None:
    """The ISO date a dateline carries, and its span in `line.norm`; else None.

    A date counts when it opens the line or follows a label (发布日期:), and the
    line is short: a date inside a sentence of the body is not a publication date.
    """
    if len(line.norm) > MAX_DATELINE:
        return None
    for match in _DATE.finditer(line.norm):
        before = line.norm[: match.start()]
        if before.strip() and not _DATE_LABEL.search(before):
            continue
        year, month, day = (int(g) for g in match.groups())
        if 1 <= month <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month:02d}-{day:02d}", match.start(), match.end()
    return None


def _original(line: Line, start: int, end: int) -> str:
    """The characters of `line.text` behind `line.norm[start:end]`, noise removed."""
    norm, offsets = normalize_with_offsets(line.text)
    if end <= start or len(norm) != len(line.norm):
        return line.norm[start:end].strip()
    text = line.text[offsets[start] : offsets[end - 1] + 1]
    return NOISE.sub("", text).strip()


def _name(text: str) -> str | None:
    """A publisher's name cut from the text that follows a label."""
    name = re.split(r"[\s【\[(（,，。|｜]", text.strip(), maxsplit=1)[0]
    return name if 2 <= len(name) <= 30 else None


def find_source(lines: list[Line], dateline: Line | None) -> str | None:
    """The publisher: "来源:X", the name after the date in a byline, or a copyright line."""
    for line in lines[:40]:
        match = _SOURCE_LABEL.search(line.norm)
        if match and len(line.norm) <= MAX_DATELINE:
            name = _name(_original(line, match.end(), len(line.norm)))
            if name:
                return name
    if dateline is not None:
        found = find_date(dateline)
        if found:
            rest = dateline.norm[found[2] :]
            separator = _BYLINE_SEPARATOR.match(rest)
            if separator:
                start = found[2] + separator.end()
                name = _name(_original(dateline, start, len(dateline.norm)))
                if name:
                    return name
    for line in reversed(lines):
        norm = line.norm
        if "copyright" in norm or "版权所有" in norm or "©" in norm:
            left = _COPYRIGHT_WORDS.sub(" ", line.text)
            names = [w for w in re.split(r"[\s|｜,，.。:：]+", left) if w and re.search(r"\w", w)]
            if names and 2 <= len(names[0]) <= 30:
                return names[0]
    return None


def find_url(text: str) -> str | None:
    """The first address that names a page (a path after the host)."""
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)")
        if "/" in url.split("://", 1)[1].strip("/"):
            return url
    return None


def _title_candidate(line: Line, source: str | None) -> bool:
    text = line.norm.strip()
    if not 4 <= len(text) <= MAX_TITLE or text[-1] in _TITLE_END or ends_sentence(text):
        return False
    if find_date(line) or (source and line.key == re.sub(r"\W+", "", source.lower())):
        return False
    return True


_MARKDOWN_HEADING = re.compile(r"^\s*#{1,6}\s*|^\s*[*_]{1,3}|[*_]{1,3}\s*$")


def _title_text(line: Line) -> str:
    """The headline as readers see it: no conversion noise, no Markdown marks."""
    return _MARKDOWN_HEADING.sub("", NOISE.sub("", line.text)).strip()


def find_title(
    lines: list[Line], content: list[Line], boilerplate: list[Line], dateline: Line | None, source: str | None
) -> str | None:
    """The headline.

    A content-farm wrapper ("给大家分享带来的《X》") names it outright; else it is
    the last headline-like line above the dateline, or the headline-like line
    the page repeats most (first on a tie).
    """
    for line in boilerplate[:3]:
        if BOILERPLATE.search(line.norm):
            match = _BOOK_TITLE.search(line.text)
            if match:
                return NOISE.sub("", match.group(1)).strip()
    content_keys = {line.key for line in content}
    top = [line for line in lines[:HEAD_LINES] if line.key in content_keys or line is dateline]
    if dateline is not None and dateline in top:
        above = top[: top.index(dateline)]
        candidates = [line for line in above if _title_candidate(line, source)]
        if candidates:
            return _title_text(candidates[-1])
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.key] = counts.get(line.key, 0) + 1
    candidates = [line for line in top if _title_candidate(line, source)]
    if not candidates:
        return None
    best = max(candidates, key=lambda line: (counts[line.key], -candidates.index(line)))
    return _title_text(best)


HEAD_LINES = 12


def read_catalog(folder: Path) -> dict[str, Metadata]:
    """The catalog beside the documents, by document id; empty when there is none."""
    path = folder / CATALOG_NAME
    try:
        table = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise CatalogError(
            f"目录文件 {path} 无法读取({os_reason(error)})。请检查它的权限,或删除它以自动识别元数据。"
        ) from error
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as error:
        raise CatalogError(f"目录文件 {path} 无法解析: {error}。请修正它,或删除它以自动识别元数据。") from error
    catalog = {}
    for doc_id, fields in table.items():
        if not isinstance(fields, dict):
            raise CatalogError(f"目录文件 {path}: [{doc_id}] 应为一个表(title/source/date/url)。")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise CatalogError(
                f"目录文件 {path}: [{doc_id}] 有未知字段 {', '.join(sorted(unknown))};可用字段: {', '.join(FIELDS)}。"
            )
        catalog[doc_id] = Metadata(**{k: _catalog_value(path, doc_id, k, v) for k, v in fields.items()})
    return catalog


def _catalog_value(path: Path, doc_id: str, key: str, value: object) -> str:
    """A catalog field's value, checked: text, a real date (YYYY-MM-DD), an http(s) address."""
    where = f"目录文件 {path}: [\"{doc_id}\"] {key}"
    if key == "date":
        if isinstance(value, datetime.datetime):
            value = value.date()
        if isinstance(value, datetime.date):
            return value.isoformat()
        if not isinstance(value, str):
            raise CatalogError(f"{where} 应为日期,例如 \"2015-07-10\",收到 {value!r}。")
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise CatalogError(
                f"{where} = {value!r} 不是有效日期:请写成 YYYY-MM-DD(月份 1-12,日期须在该月之内)。"
            ) from None
    if not isinstance(value, str):
        raise CatalogError(f"{where} 应为文本(加引号),收到 {value!r}。")
    if key == "url" and not re.match(r"^https?://\S+$", value.strip()):
        raise CatalogError(f"{where} = {value!r} 不是网址:应以 http:// 或 https:// 开头,且不含空格。")
    if not value.strip():
        raise CatalogError(f"{where} 为空:请填写内容,或删去这一行。")
    return value.strip()


def merge(found: Metadata, override: Metadata | None) -> Metadata:
    """`found`, with every field the catalog sets taking its place."""
    if override is None:
        return found
    return replace(found, **{k: getattr(override, k) for k in FIELDS if getattr(override, k) is not None})
