"""Files to text: find the documents of a folder, stamp and decode them.

Every fault of one file (no permission, vanished, a dangling or looping link,
undecodable bytes) is that file's problem: it is skipped with a reason a user
can act on, and the rest load. Links that lead out of the folder are not
followed unless asked, so a link can never make the bot serve /etc/passwd.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

from retrieval.errors import CorpusError
from retrieval.text import replace_surrogates

SUFFIXES = (".txt", ".md")
CATALOG_NAME = "catalog.toml"
# Tried in order after UTF-8; charset-normalizer picks between the two, as
# Big5 bytes nearly always decode as GB18030 too (into the wrong characters).
LEGACY_ENCODINGS = ["gb18030", "big5"]
# A UTF-8 file with at most this share of its non-ASCII bytes invalid is read with
# them replaced; past it, the file is taken to be in a legacy encoding.
MAX_INVALID_SHARE = 0.01
LISTED_OFFSETS = 5
ESCAPING_LINK = "链接指向文档目录之外,没有跟随"


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


@dataclass(frozen=True)
class FileNote:
    """A file that was read, with something its owner should know (bytes replaced, ...)."""

    doc_id: str
    message: str


@dataclass(frozen=True)
class FileStamp:
    """What an index knows of one file: enough to tell that it changed."""

    name: str  # doc_id, or the catalog's name
    size: int
    mtime_ns: int
    digest: str  # BLAKE2 of the bytes; "!" plus the reason when unreadable


@dataclass(frozen=True)
class ListedFile:
    doc_id: str
    path: Path
    info: os.stat_result | None = None  # as the walk found it: stamping needs no second stat


@dataclass(frozen=True)
class FolderText:
    """What reading a folder gave: the texts, what was skipped or repaired, the stamps."""

    texts: list[SourceText]
    skipped: list[Skipped]
    notes: list[FileNote]
    stamps: list[FileStamp]
    # With `known` stamps: the files left unread because their size and time match,
    # and the order of every listed file that was read or left unread.
    unchanged: frozenset[str] = frozenset()
    order: tuple[str, ...] = ()


def display_name(relative: str) -> str:
    """A relative path as text: bytes that are not UTF-8 shown as \\xNN escapes."""
    return os.fsencode(relative).decode("utf-8", "backslashreplace")


def os_reason(error: OSError) -> str:
    """An OSError in words, in Chinese."""
    reasons = {
        errno.EACCES: "没有读取权限",
        errno.EPERM: "没有读取权限",
        errno.ENOENT: "文件在读取时不见了",
        errno.ELOOP: "链接形成循环",
        errno.EISDIR: "是目录而不是文件",
        errno.EIO: "磁盘读取出错",
    }
    return reasons.get(error.errno or 0, f"无法读取({errno.errorcode.get(error.errno or 0, error.__class__.__name__)})")


def _inode(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _may_be_document(name: str) -> bool:
    suffix = os.path.splitext(name)[1].lower()
    return suffix in SUFFIXES or suffix == ""


def list_documents(folder: Path, follow_links: bool = False) -> tuple[list[ListedFile], list[Skipped]]:
    """The .txt and .md files under `folder` (hidden ones left out), in path order, and what was skipped."""
    root = folder.resolve()
    found: list[ListedFile] = []
    skipped: list[Skipped] = []
    seen_dirs = {_inode(root.stat())}
    seen_files: dict[tuple[int, int], str] = {}

    def walk(directory: Path, prefix: str) -> None:
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as error:
            skipped.append(Skipped(display_name(prefix.rstrip("/")) + "/", f"无法打开子目录: {os_reason(error)}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = prefix + entry.name
            doc_id = display_name(relative)
            try:
                if entry.is_symlink():
                    try:
                        target = Path(entry.path).resolve(strict=True)
                    except RuntimeError:
                        raise OSError(errno.ELOOP, "loop") from None
                    except FileNotFoundError:
                        if _may_be_document(entry.name):
                            skipped.append(Skipped(doc_id, "链接指向的文件不存在"))
                        continue
                    if not follow_links and not target.is_relative_to(root):
                        if _may_be_document(entry.name) or target.is_dir():
                            skipped.append(
                                Skipped(doc_id, ESCAPING_LINK)
                            )
                        continue
                info = os.stat(entry.path)
            except OSError as error:
                if _may_be_document(entry.name):
                    skipped.append(Skipped(doc_id, os_reason(error)))
                continue
            if stat.S_ISDIR(info.st_mode):
                if _inode(info) in seen_dirs:
                    skipped.append(Skipped(doc_id + "/", "链接形成循环(指向已经读过的目录)"))
                    continue
                seen_dirs.add(_inode(info))
                walk(Path(entry.path), relative + "/")
            elif stat.S_ISREG(info.st_mode) and os.path.splitext(entry.name)[1].lower() in SUFFIXES:
                first = seen_files.get(_inode(info))
                if first is not None:
                    skipped.append(Skipped(doc_id, f"与 {first} 是同一个文件"))
                    continue
                seen_files[_inode(info)] = doc_id
                found.append(ListedFile(doc_id, Path(entry.path), info))

    walk(folder, "")
    found.sort(key=lambda f: f.doc_id)
    names = set()
    unique = []
    for listed in found:
        if listed.doc_id in names:  # two names that only differ in bytes that are not UTF-8
            skipped.append(Skipped(listed.doc_id, "文件名与另一个文件的显示名相同,请改名"))
            continue
        names.add(listed.doc_id)
        unique.append(listed)
    return unique, skipped


def _invalid_utf8_offsets(data: bytes, limit: int) -> list[int] | None:
    """Byte offsets of invalid UTF-8 sequences in `data`, or None past `limit` of them."""
    offsets: list[int] = []
    position = 0
    while True:
        try:
            data[position:].decode("utf-8")
            return offsets
        except UnicodeDecodeError as error:
            offsets.append(position + error.start)
            if len(offsets) > limit:
                return None
            position += error.end


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    replaced: tuple[int, ...] = ()  # byte offsets of invalid UTF-8 replaced by U+FFFD


def decode(data: bytes) -> Decoded | None:
    """The text of `data` and its encoding, or None when it is none we read."""
    try:
        return Decoded(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    non_ascii = sum(1 for byte in data if byte >= 0x80)
    offsets = _invalid_utf8_offsets(data, int(non_ascii * MAX_INVALID_SHARE))
    if offsets:
        return Decoded(data.decode("utf-8-sig", "replace"), "utf-8", tuple(offsets))
    best = charset_normalizer.from_bytes(data, cp_isolation=LEGACY_ENCODINGS).best()
    if best is None:
        return None
    return Decoded(str(best), best.encoding)


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def stamp_file(
    name: str, path: Path, known: dict[str, FileStamp] | None = None, info: os.stat_result | None = None
) -> FileStamp:
    """A file's stamp; its digest reused from `known` when size and time match (as git and make do)."""
    try:
        info = info or path.stat()
        previous = (known or {}).get(name)
        if previous and previous.size == info.st_size and previous.mtime_ns == info.st_mtime_ns:
            return previous
        data = path.read_bytes()
    except OSError as error:
        return FileStamp(name, -1, -1, "!" + os_reason(error))
    return FileStamp(name, info.st_size, info.st_mtime_ns, digest(data))


def folder_stamps(
    folder: Path, known: dict[str, FileStamp] | None = None, follow_links: bool = False
) -> list[FileStamp]:
    """Stamps of the documents and catalog of `folder`, as an index records them."""
    listed, skipped = list_documents(folder, follow_links)
    stamps = [stamp_file(f.doc_id, f.path, known, f.info) for f in listed]
    stamps += [FileStamp(s.doc_id, -1, -1, "!" + s.reason) for s in skipped]
    stamps.append(stamp_file(CATALOG_NAME, folder / CATALOG_NAME, known))
    return sorted(stamps, key=lambda s: s.name)


def check_folder(folder: Path) -> None:
    """Raise CorpusError unless `folder` is a folder that can be listed."""
    shown = display_name(str(folder))
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        raise CorpusError(f"文档目录不存在: {shown}。请检查路径。") from None
    except OSError as error:
        raise CorpusError(f"无法访问文档目录 {shown}({os_reason(error)})。请检查路径和权限。") from None
    if not stat.S_ISDIR(info.st_mode):
        raise CorpusError(f"{shown} 不是目录。请指定一个存放 .txt / .md 文档的目录。")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise CorpusError(f"无法读取文档目录 {shown}(没有读取权限)。请检查它的权限。")


def source_from_bytes(item: ListedFile, data: bytes) -> tuple[SourceText | Skipped, FileNote | None]:
    """A listed file's bytes decoded, or why it is skipped; and a note when bytes were replaced."""
    decoded = decode(data)
    if decoded is None:
        return Skipped(item.doc_id, "无法识别编码(支持 UTF-8、GB18030、Big5),请转换为 UTF-8"), None
    note = None
    if decoded.replaced:
        shown = "、".join(str(o) for o in decoded.replaced[:LISTED_OFFSETS])
        more = f" 等 {len(decoded.replaced)} 处" if len(decoded.replaced) > LISTED_OFFSETS else ""
        note = FileNote(item.doc_id, f"有无效的 UTF-8 字节(字节位置 {shown}{more}),已替换为 �")
    if not decoded.text.strip():
        return Skipped(item.doc_id, "文件为空"), note
    return SourceText(item.doc_id, item.path, replace_surrogates(decoded.text), decoded.encoding), note


def read_source(item: ListedFile) -> tuple[SourceText | Skipped, FileNote | None]:
    """One listed file read and decoded, as `read_folder` reads it (distributed builds read files one by one)."""
    try:
        data = item.path.read_bytes()
    except OSError as error:
        return Skipped(item.doc_id, os_reason(error)), None
    return source_from_bytes(item, data)


def read_folder(
    folder: str | Path, follow_links: bool = False, stamped: bool = True, known: dict[str, FileStamp] | None = None
) -> FolderText:
    """Every readable document of `folder`, what was skipped or repaired, and (when `stamped`) the stamps.

    With `known` (the stamps of an index), a file whose size and time match its
    stamp is not read: it is listed in `unchanged`, for the caller to reuse.
    Raises CorpusError when the folder is missing or holds no readable document.
    """
    folder = Path(folder).expanduser()
    check_folder(folder)
    listed, skipped = list_documents(folder, follow_links)
    if not listed and not skipped:
        raise CorpusError(f"目录 {display_name(str(folder))} 中没有 .txt 或 .md 文档。请放入文档后再试。")
    texts: list[SourceText] = []
    notes: list[FileNote] = []
    stamps = [FileStamp(s.doc_id, -1, -1, "!" + s.reason) for s in skipped]
    unchanged: set[str] = set()
    for item in listed:
        try:
            info = item.path.stat()
            previous = (known or {}).get(item.doc_id)
            if previous and previous.size == info.st_size and previous.mtime_ns == info.st_mtime_ns:
                unchanged.add(item.doc_id)
                stamps.append(previous)
                continue
            data = item.path.read_bytes()
        except OSError as error:
            reason = os_reason(error)
            skipped.append(Skipped(item.doc_id, reason))
            stamps.append(FileStamp(item.doc_id, -1, -1, "!" + reason))
            continue
        if stamped:
            stamps.append(FileStamp(item.doc_id, info.st_size, info.st_mtime_ns, digest(data)))
        source, note = source_from_bytes(item, data)
        if note is not None:
            notes.append(note)
        if isinstance(source, SourceText):
            texts.append(source)
        else:
            skipped.append(source)
    if stamped:
        stamps.append(stamp_file(CATALOG_NAME, folder / CATALOG_NAME))
    else:
        stamps = []
    skipped.sort(key=lambda s: s.doc_id)
    if not texts and not unchanged:
        reasons = "; ".join(f"{s.doc_id}: {s.reason}" for s in skipped[:5])
        raise CorpusError(f"目录 {display_name(str(folder))} 中没有可读取的文档({reasons})。")
    order = tuple(item.doc_id for item in listed) if known is not None else ()
    return FolderText(texts, skipped, notes, sorted(stamps, key=lambda s: s.name), frozenset(unchanged), order)
