"""Files to text: find the documents of a folder and decode them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

from retrieval.errors import CorpusError

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
# Tried in order after UTF-8; charset-normalizer picks between the two, as
# Big5 bytes nearly always decode as GB18030 too (into the wrong characters).
LEGACY_ENCODINGS = ["gb18030", "big5"]


@dataclass(frozen=True)
class SourceText:
    """A document's decoded text and where it came from."""

    doc_id: str  # path relative to the folder, with "/" separators
    path: Path
    text: str
    encoding: str


@dataclass(frozen=True)
class Skipped:
    """A file that was left out, and why (in words a user can act on)."""

    doc_id: str
    reason: str


def decode(data: bytes) -> tuple[str, str] | None:
    """The text of `data` and its encoding, or None when it is none we read."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data, cp_isolation=LEGACY_ENCODINGS).best()
    if best is None:
        return None
    return str(best), best.encoding


def document_paths(folder: Path) -> list[Path]:
    """The .txt and .md files under `folder`, hidden ones left out, in path order."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in SUFFIXES and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def read_source(folder: Path, path: Path) -> SourceText | Skipped:
    """One document of `folder`, decoded, or why it is skipped (distributed builds read files one by one)."""
    doc_id = path.relative_to(folder).as_posix()
    try:
        data = path.read_bytes()
    except OSError as error:
        return Skipped(doc_id, f"无法读取文件: {error.strerror or error}")
    decoded = decode(data)
    if decoded is None:
        return Skipped(doc_id, "无法识别编码(支持 UTF-8、GB18030、Big5),请转换为 UTF-8")
    text, encoding = decoded
    if not text.strip():
        return Skipped(doc_id, "文件为空")
    return SourceText(doc_id, path, text, encoding)


def read_folder(folder: str | Path) -> tuple[list[SourceText], list[Skipped]]:
    """Every readable document of `folder`, and the files that were skipped.

    Raises CorpusError when the folder is missing or holds no readable document.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise CorpusError(f"文档目录不存在: {folder}。请检查路径,或用 --corpus 指定另一个目录。")
    if not folder.is_dir():
        raise CorpusError(f"{folder} 不是目录。请指定一个存放 .txt / .md 文档的目录。")
    paths = document_paths(folder)
    if not paths:
        raise CorpusError(f"目录 {folder} 中没有 .txt 或 .md 文档。请放入文档后再试。")
    texts: list[SourceText] = []
    skipped: list[Skipped] = []
    for path in paths:
        read = read_source(folder, path)
        (texts if isinstance(read, SourceText) else skipped).append(read)
    for item in skipped:
        log.warning("skipped %s: %s", item.doc_id, item.reason)
    if not texts:
        reasons = "; ".join(f"{s.doc_id}: {s.reason}" for s in skipped[:5])
        raise CorpusError(f"目录 {folder} 中没有可读取的文档({reasons})。")
    return texts, skipped
