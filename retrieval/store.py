"""Saved indexes, and the lifecycle of a folder's index: load it when fresh, else build and save.

An index folder holds a `CURRENT` file and one generation subfolder of .npy
arrays and a JSON manifest (no pickle). A save writes a new generation beside
the old one, then replaces `CURRENT` in one rename, so readers never see a half
written index and writers never undo each other; old generations and staging
folders left by a killed writer are removed afterwards. `CURRENT` carries the
manifest's digest and the manifest every array's size and CRC-32, all checked
at load, so a damaged index is reported and rebuilt, never used.

A folder is only ever written to, replaced or cleaned when it is empty or
holds this program's index: anything else is refused and left untouched.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import mmap
import os
import re
import secrets
import shutil
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retrieval import general_idf
from retrieval.analysis import Analyzer
from retrieval.collection import Collection, DocumentRecord, PassageSource
from retrieval.errors import CorpusError, IndexFileError, IndexLocationError, IndexRankingError, IndexVersionError
from retrieval.general_idf import GeneralIdf
from retrieval.indexing import BuiltIndex, build_index
from retrieval.loading import (
    CATALOG_NAME,
    FileNote,
    FileStamp,
    Skipped,
    SourceText,
    check_folder,
    display_name,
    folder_stamps,
    read_folder,
)
from retrieval.lucene_scoring import LocalIndex, scorer_class
from retrieval.metadata import Metadata, read_catalog
from retrieval.ranking import K1, B, Ranking, Scorer
from retrieval.results import IndexStatus, Rebuild
from retrieval.vocabulary import Vocabulary

log = logging.getLogger(__name__)

PROGRAM = "zhdocqa-index"
FORMAT_VERSION = 4
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LOCK = ".lock"
_GENERATION = re.compile(r"^g-[0-9a-f]{16}$")
_STAGING_PREFIX = ".staging-"
_MAX_POINTER_BYTES = 4096
_LOAD_ATTEMPTS = 5
_ARRAYS = (
    "text_blob",
    "text_offsets",
    "passage_doc",
    "passage_paragraph",
    "span_ptr",
    "spans",
    "vocabulary_blob",
    "vocabulary_offsets",
    "vocabulary_keys",
    "indptr",
    "indices",
    "weights",
    "idf",
    "general_blob",
    "general_offsets",
    "general_keys",
    "general_values",
)
# What an index folder of the previous format held (arrays beside the manifest).
_LEGACY_FILES = frozenset({MANIFEST, *(f"{name}.npy" for name in _ARRAYS)})


def _crc32(path: Path) -> int:
    """CRC-32 of a whole file: about 3 GB/s, cheap enough to check at every load."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return zlib.crc32(mapped)


def default_index_dir(cache_root: Path, folder: Path) -> Path:
    """Where the index of `folder` is kept under a cache root: one subfolder per folder path."""
    key = hashlib.blake2b(os.fsencode(folder.resolve()), digest_size=8).hexdigest()
    return cache_root / "indexes" / key


# -- whose folder is it --------------------------------------------------------------


def _pointer(directory: Path) -> dict | None:
    """The parsed CURRENT file of an index folder; None when there is none or it is not ours."""
    try:
        with (directory / CURRENT).open("rb") as handle:
            raw = handle.read(_MAX_POINTER_BYTES + 1)
    except OSError:
        return None
    if len(raw) > _MAX_POINTER_BYTES:
        return None
    try:
        pointer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(pointer, dict) or pointer.get("program") != PROGRAM:
        return None
    return pointer


def _is_ours(directory: Path) -> bool:
    """True when every entry of `directory` is something this program writes into an index folder."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return False
    if _only_index_entries(names):
        return True
    return MANIFEST in names and names <= _LEGACY_FILES


def _only_index_entries(names: set[str]) -> bool:
    return all(
        name in (CURRENT, LOCK) or _GENERATION.match(name) or name.startswith((_STAGING_PREFIX, CURRENT + "."))
        for name in names
    )


def check_location(directory: Path, folder: Path | None = None) -> None:
    """Raise IndexLocationError unless `directory` can hold an index without touching anything else."""
    shown = display_name(str(directory))
    if folder is not None:
        try:
            same = directory.resolve() == folder.resolve()
        except OSError:
            same = False
        if same:
            raise IndexLocationError(f"索引目录不能是文档目录本身({shown})。请用另一个空目录存放索引。")
    if directory.is_symlink() and not directory.exists():
        raise IndexLocationError(f"索引位置 {shown} 是一个失效的链接。请换一个目录。")
    if directory.exists() and not directory.is_dir():
        raise IndexLocationError(f"索引位置 {shown} 是一个文件,不是目录。请换一个目录,或移走这个文件。")
    if directory.is_dir() and not _is_ours(directory):
        raise IndexLocationError(
            f"{shown} 里已有不属于本程序索引的文件,为免误删,不会在这里写入索引。请指定一个空目录或新目录。"
        )


# -- writing ----------------------------------------------------------------------


class _Lock:
    """An exclusive advisory lock on a file, released when closed or when the process dies."""

    def __init__(self, path: Path, blocking: bool = True) -> None:
        self._handle = path.open("a")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError:
            self._handle.close()
            raise

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save(
    directory: Path,
    collection: Collection,
    index: LocalIndex,
    general: GeneralIdf,
    analyzer: Analyzer,
    stamps: list[FileStamp],
    skipped: list[Skipped],
    notes: list[FileNote],
    ranking: Ranking = Ranking.EXACT,
) -> None:
    """Write the index to `directory` as a new generation and switch to it atomically."""
    check_location(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "text_blob": collection.text_blob,
        "text_offsets": collection.text_offsets,
        "passage_doc": collection.passage_doc,
        "passage_paragraph": collection.passage_paragraph,
        "span_ptr": collection.span_ptr,
        "spans": collection.spans,
        "vocabulary_blob": index.vocabulary.blob,
        "vocabulary_offsets": index.vocabulary.offsets,
        "vocabulary_keys": index.vocabulary.keys,
        "indptr": index.indptr,
        "indices": index.indices,
        "weights": index.weights,
        "idf": index.idf_values,
        "general_blob": general.vocabulary.blob,
        "general_offsets": general.vocabulary.offsets,
        "general_keys": general.vocabulary.keys,
        "general_values": general.values,
    }
    token = secrets.token_hex(8)
    staging = directory / f"{_STAGING_PREFIX}{token}"
    staging.mkdir()
    # Held while writing: a staging folder whose lock can be taken belongs to a dead writer.
    writing = _Lock(staging / LOCK)
    try:
        sizes, checksums = {}, {}
        for name, array in arrays.items():
            path = staging / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            sizes[name] = path.stat().st_size
            checksums[name] = _crc32(path)
        manifest = {
            "program": PROGRAM,
            "format": FORMAT_VERSION,
            "analyzer": analyzer.fingerprint,
            "k1": K1,
            "b": B,
            "ranking": str(ranking),  # an index serves only the scorer it was built for
            "passages": len(collection),
            "terms": len(index.vocabulary),
            "documents": [r.to_json() for r in collection.records],
            "files": [asdict(s) for s in stamps],
            "skipped": [asdict(s) for s in skipped],
            "notes": [asdict(n) for n in notes],
            "array_bytes": sizes,
            "array_crc32": checksums,
            "general_median": general.median,
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False).encode("utf-8")
        (staging / MANIFEST).write_bytes(manifest_bytes)
        (staging / LOCK).unlink()
        generation = f"g-{token}"
        with _Lock(directory / LOCK):
            os.rename(staging, directory / generation)
            pointer = {
                "program": PROGRAM,
                "format": FORMAT_VERSION,
                "generation": generation,
                "manifest_blake2": hashlib.blake2b(manifest_bytes, digest_size=16).hexdigest(),
            }
            temporary = directory / f"{CURRENT}.{token}"
            temporary.write_text(json.dumps(pointer), "utf-8")
            os.replace(temporary, directory / CURRENT)
            _clean(directory, keep=generation)
    except BaseException:
        writing.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    writing.close()


def _clean(directory: Path, keep: str) -> None:
    """Remove old generations, staging folders of dead writers, and a previous format's files."""
    for name in os.listdir(directory):
        path = directory / name
        if _GENERATION.match(name) and name != keep:
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(_STAGING_PREFIX):
            try:
                lock = _Lock(path / LOCK, blocking=False)
            except FileNotFoundError:
                continue  # being renamed, or already removed
            except OSError:
                continue  # its writer is alive
            lock.close()
            shutil.rmtree(path, ignore_errors=True)
        elif name in _LEGACY_FILES:
            path.unlink(missing_ok=True)


def remove(directory: Path) -> bool:
    """Delete a saved index; only a folder that holds nothing but this program's index. True if removed."""
    if not directory.is_dir():
        return False
    check_location(directory)
    shutil.rmtree(directory)
    return True


# -- reading ------------------------------------------------------------------------


@dataclass
class LoadedIndex:
    collection: Collection
    index: LocalIndex
    general: GeneralIdf
    stamps: list[FileStamp]
    skipped: list[Skipped]
    notes: list[FileNote]


def read_manifest(directory: Path) -> tuple[dict, Path]:
    """The checked manifest of the current generation and that generation's folder."""
    pointer = _pointer(directory)
    if pointer is None:
        if (directory / MANIFEST).is_file():
            raise IndexVersionError(f"{display_name(str(directory))} 的索引由旧版本的程序建立,需要重建。")
        if (directory / CURRENT).exists():
            raise IndexFileError(f"索引目录 {display_name(str(directory))} 的 {CURRENT} 文件已损坏,需要重建。")
        raise IndexFileError(f"{display_name(str(directory))} 中没有索引。")
    generation = pointer.get("generation")
    if pointer.get("format") != FORMAT_VERSION:
        raise IndexVersionError(f"{display_name(str(directory))} 的索引由另一版本的程序建立,需要重建。")
    if not isinstance(generation, str) or not _GENERATION.match(generation):
        raise IndexFileError(f"索引目录 {display_name(str(directory))} 的 {CURRENT} 文件已损坏,需要重建。")
    folder = directory / generation
    data = (folder / MANIFEST).read_bytes()  # FileNotFoundError: a writer replaced it meanwhile
    if hashlib.blake2b(data, digest_size=16).hexdigest() != pointer.get("manifest_blake2"):
        raise IndexFileError(f"索引清单 {display_name(str(folder / MANIFEST))} 校验和不符(已损坏),需要重建。")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise IndexFileError(f"索引清单 {display_name(str(folder / MANIFEST))} 已损坏: {error}。") from error
    if not isinstance(manifest, dict):
        raise IndexFileError(f"索引清单 {display_name(str(folder / MANIFEST))} 已损坏。")
    return manifest, folder


def load(directory: Path, analyzer: Analyzer, ranking: Ranking = Ranking.EXACT) -> LoadedIndex:
    """Open a saved index (memory-mapped). Raises IndexFileError when it is damaged or of another version,
    IndexRankingError (an IndexVersionError) when it was built for another `ranking`.

    A writer may switch generations while this reads: a file gone missing
    midway means "read CURRENT again", never "damaged".
    """
    for attempt in range(_LOAD_ATTEMPTS):
        try:
            return _load_generation(directory, analyzer, ranking)
        except FileNotFoundError:
            if attempt == _LOAD_ATTEMPTS - 1:
                break
    raise IndexFileError(f"{display_name(str(directory))} 的索引文件不完整,需要重建。")


def _load_generation(directory: Path, analyzer: Analyzer, ranking: Ranking) -> LoadedIndex:
    manifest, folder = read_manifest(directory)
    if manifest.get("analyzer") != analyzer.fingerprint:
        raise IndexVersionError(f"{display_name(str(directory))} 的索引由另一版本的分析器建立,需要重建。")
    if manifest.get("k1") != K1 or manifest.get("b") != B:
        raise IndexVersionError(f"{display_name(str(directory))} 的索引使用了不同的 BM25 参数,需要重建。")
    built_for = manifest.get("ranking", Ranking.EXACT)  # indexes saved before the modes existed are exact
    if built_for != ranking:
        raise IndexRankingError(
            f"{display_name(str(directory))} 的索引按 {built_for} 方式评分建立,现在要求 {ranking},需要重建。"
        )
    arrays = {}
    try:
        for name in _ARRAYS:
            path = folder / f"{name}.npy"
            if path.stat().st_size != manifest["array_bytes"][name]:
                raise IndexFileError(f"索引文件 {path} 大小不符(可能被截断),需要重建。")
            if _crc32(path) != manifest["array_crc32"][name]:
                raise IndexFileError(f"索引文件 {path} 校验和不符(已损坏),需要重建。")
            arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        records = [DocumentRecord(**d) for d in manifest["documents"]]
        stamps = [FileStamp(**s) for s in manifest["files"]]
        skipped = [Skipped(**s) for s in manifest["skipped"]]
        notes = [FileNote(**n) for n in manifest["notes"]]
        passages, terms = int(manifest["passages"]), int(manifest["terms"])
        general_median = float(manifest["general_median"])
    except (IndexFileError, FileNotFoundError):
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IndexFileError(f"{display_name(str(directory))} 的索引已损坏: {error}。") from error
    _check_shapes(directory, arrays, len(records), passages, terms)
    collection = Collection(
        records,
        arrays["text_blob"],
        arrays["text_offsets"],
        arrays["passage_doc"],
        arrays["passage_paragraph"],
        arrays["span_ptr"],
        arrays["spans"],
    )
    vocabulary = Vocabulary(arrays["vocabulary_blob"], arrays["vocabulary_offsets"], arrays["vocabulary_keys"])
    scorer = scorer_class(ranking)
    index = scorer(vocabulary, arrays["indptr"], arrays["indices"], arrays["weights"], arrays["idf"], passages)
    general = GeneralIdf(
        Vocabulary(arrays["general_blob"], arrays["general_offsets"], arrays["general_keys"]),
        arrays["general_values"],
        general_median,
    )
    return LoadedIndex(collection, index, general, stamps, skipped, notes)


def _check_shapes(directory: Path, a: dict[str, np.ndarray], documents: int, passages: int, terms: int) -> None:
    nnz = len(a["indices"])
    checks = [
        len(a["text_offsets"]) == documents + 1 and int(a["text_offsets"][-1]) == len(a["text_blob"]),
        len(a["passage_doc"]) == passages == len(a["passage_paragraph"]),
        len(a["span_ptr"]) == passages + 1 and int(a["span_ptr"][-1]) == len(a["spans"]),
        len(a["vocabulary_offsets"]) == terms + 1 and int(a["vocabulary_offsets"][-1]) == len(a["vocabulary_blob"]),
        len(a["vocabulary_keys"]) == terms and len(a["general_keys"]) == len(a["general_values"]),
        len(a["indptr"]) == terms + 1 and int(a["indptr"][-1]) == nnz == len(a["weights"]),
        len(a["idf"]) == terms,
        len(a["general_offsets"]) == len(a["general_values"]) + 1
        and int(a["general_offsets"][-1]) == len(a["general_blob"]),
        a["spans"].ndim == 2 and (a["spans"].shape[1] == 2 if a["spans"].size else True),
    ]
    if not all(checks):
        raise IndexFileError(f"{display_name(str(directory))} 的索引文件彼此不一致(已损坏),需要重建。")
    if passages and nnz and (int(a["indices"].max()) >= passages or int(a["indices"].min()) < 0):
        raise IndexFileError(f"{display_name(str(directory))} 的索引引用了不存在的段落(已损坏),需要重建。")


def is_fresh(loaded: LoadedIndex, folder: Path, follow_links: bool = False) -> bool:
    """True when the folder's documents and catalog are the ones the index was built from."""
    return not changed_files(loaded, folder, follow_links)


def changed_files(loaded: LoadedIndex, folder: Path, follow_links: bool = False) -> tuple[str, ...]:
    """The documents (and catalog) added, removed or changed since the index was built, sorted."""
    known = {s.name: s for s in loaded.stamps}
    now = {s.name: s for s in folder_stamps(folder, known, follow_links)}
    return tuple(sorted(name for name in known.keys() | now.keys() if known.get(name) != now.get(name)))


# -- the lifecycle ------------------------------------------------------------------


@dataclass
class OpenedIndex:
    """A collection and its ranking, ready to answer from, and where they came from.

    This is what a Retriever answers from: a folder's saved or built index, or
    (retrieval.opensearch_backend) a cluster's search and the passages it returns.
    """

    collection: PassageSource
    index: Scorer
    general: GeneralIdf
    skipped: list[Skipped]
    notes: list[FileNote]
    status: IndexStatus
    ranking: Ranking = Ranking.EXACT


def build_from_sources(
    sources: list[SourceText],
    analyzer: Analyzer,
    catalog: dict | None = None,
    skipped: list[Skipped] | None = None,
    notes: list[FileNote] | None = None,
    workers: int | None = None,
    progress: bool = False,
    status: IndexStatus = IndexStatus.BUILT,
    ranking: Ranking = Ranking.EXACT,
) -> OpenedIndex:
    """Build the index of decoded texts (nothing saved)."""
    built, all_skipped = _build(sources, analyzer, catalog, skipped, workers, progress, ranking)
    return OpenedIndex(
        built.collection, built.index, general_idf.from_jieba(), all_skipped, notes or [], status, ranking
    )


def _build(
    sources: list[SourceText],
    analyzer: Analyzer,
    catalog: dict | None,
    skipped: list[Skipped] | None,
    workers: int | None,
    progress: bool,
    ranking: Ranking,
) -> tuple[BuiltIndex, list[Skipped]]:
    built = build_index(sources, analyzer, catalog or {}, workers=workers, progress=progress, ranking=ranking)
    if len(built.collection) == 0:
        raise CorpusError("文档中没有可检索的正文(清理掉页面杂项后为空)。")
    return built, sorted((skipped or []) + built.empty, key=lambda s: s.doc_id)


def open_folder(
    folder: Path,
    analyzer: Analyzer,
    index_dir: Path | None = None,
    *,
    workers: int | None = None,
    progress: bool = False,
    follow_links: bool = False,
    force: bool = False,
    on_rebuild: Callable[[Rebuild], None] | None = None,
    ranking: Ranking = Ranking.EXACT,
) -> OpenedIndex:
    """The index of `folder` for `ranking`: loaded from `index_dir` when fresh, else built (and saved there).

    `on_rebuild` is called before a build with why it happens (and, for a saved
    index gone stale, which files changed), so an adapter can say so.
    """
    status = IndexStatus.BUILT
    changed: tuple[str, ...] = ()
    if index_dir is not None:
        check_folder(folder)
        check_location(index_dir, folder)
        if not force and ((index_dir / CURRENT).exists() or (index_dir / MANIFEST).exists()):
            loaded, status, changed = _try_load(index_dir, folder, analyzer, follow_links, ranking)
            if loaded is not None:
                return OpenedIndex(
                    loaded.collection,
                    loaded.index,
                    loaded.general,
                    loaded.skipped,
                    loaded.notes,
                    IndexStatus.LOADED,
                    ranking,
                )
    if on_rebuild is not None:
        on_rebuild(Rebuild(status, changed))
    texts = read_folder(folder, follow_links, stamped=index_dir is not None)
    catalog = read_catalog(folder)
    notes = texts.notes + catalog_notes(catalog, texts.texts, texts.skipped)
    built, skipped = _build(texts.texts, analyzer, catalog, texts.skipped, workers, progress, ranking)
    general = general_idf.from_jieba()
    if index_dir is not None:
        try:
            save(index_dir, built.collection, built.index, general, analyzer, texts.stamps, skipped, notes, ranking)
        except IndexLocationError:
            raise
        except OSError as error:
            log.warning("索引无法保存到 %s: %s", display_name(str(index_dir)), error.strerror or error)
    return OpenedIndex(built.collection, built.index, general, skipped, notes, status, ranking)


def catalog_notes(
    catalog: dict[str, Metadata], texts: list[SourceText], skipped: list[Skipped]
) -> list[FileNote]:
    """A note for each catalog entry that names no document of the folder (a typo, a moved file)."""
    present = {t.doc_id for t in texts} | {s.doc_id for s in skipped}
    return [
        FileNote(
            CATALOG_NAME, f"[\"{doc_id}\"] 对应的文件不存在,这一条没有用上。请检查文件名(相对于文档目录,用 / 分隔)。"
        )
        for doc_id in sorted(catalog)
        if doc_id not in present
    ]


def _try_load(
    index_dir: Path, folder: Path, analyzer: Analyzer, follow_links: bool, ranking: Ranking
) -> tuple[LoadedIndex | None, IndexStatus, tuple[str, ...]]:
    try:
        loaded = load(index_dir, analyzer, ranking)
    except IndexRankingError as error:
        log.info("%s", error)
        return None, IndexStatus.REBUILT_RANKING, ()
    except IndexVersionError as error:
        log.info("%s", error)  # expected after an upgrade: no cause for alarm
        return None, IndexStatus.REBUILT_ANALYZER, ()
    except IndexFileError as error:
        log.warning("%s 正在重建索引。", error)
        return None, IndexStatus.REBUILT_DAMAGED, ()
    except OSError as error:
        log.warning("索引 %s 无法读取(%s),正在重建。", display_name(str(index_dir)), error.strerror or error)
        return None, IndexStatus.REBUILT_DAMAGED, ()
    if not folder.is_dir():
        return None, IndexStatus.REBUILT_CHANGED, ()
    changed = changed_files(loaded, folder, follow_links)
    if changed:
        return None, IndexStatus.REBUILT_CHANGED, changed
    return loaded, IndexStatus.LOADED, ()
