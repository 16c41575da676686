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
import threading
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
from retrieval.indexing import BuiltIndex, build_index, update_index
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
FORMAT_VERSION = 5
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LOCK = ".lock"
_GENERATION = re.compile(r"^g-[0-9a-f]{16}$")
_STAGING_PREFIX = ".staging-"
_MAX_POINTER_BYTES = 4096
_LOAD_ATTEMPTS = 5
_CRC_CHUNK = 16 << 20
_ARRAYS = (
    "text_blob",
    "text_offsets",
    "passage_doc",
    "passage_paragraph",
    "span_ptr",
    "spans",
    "single_ptr",
    "singles",
    "passage_bytes",
    "passage_simplified",
    "vocabulary_blob",
    "vocabulary_offsets",
    "vocabulary_keys",
    "indptr",
    "indices",
    "weights",
    "idf",
    "counts",
    "lengths",
    "general_blob",
    "general_offsets",
    "general_keys",
    "general_values",
)
# What an index folder of the previous format held (arrays beside the manifest).
_LEGACY_FILES = frozenset({MANIFEST, *(f"{name}.npy" for name in _ARRAYS)})


def _crc32(path: Path) -> int:
    """CRC-32 of a whole file, read a slice at a time: a map of the file would count the whole file,
    up to 800 MB at a million passages, in the writer's resident memory."""
    checksum = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CRC_CHUNK):
            checksum = zlib.crc32(chunk, checksum)
    return checksum


# Below this many bytes of arrays, checksums are verified before the load returns;
# above it, in a background thread (`Verification`) while the program starts.
EAGER_VERIFY_BYTES = 64 << 20


class Verification:
    """The checksums of a loaded index, verified in a background thread.

    Reading every array for its CRC-32 is most of the time a large index takes
    to load (1.7 GB at a million passages). So the load checks the manifest's
    digest, every file's size and the arrays' shapes at once, maps the files,
    and hands the CRC-32s to this thread; whoever is about to trust an answer
    calls `wait()` first, which raises IndexFileError for a damaged array. The
    thread reads the files through maps opened at load, so a writer replacing
    the generation meanwhile changes nothing it reads.
    """

    def __init__(self, directory: Path, maps: dict[str, tuple[Path, mmap.mmap | None]], expected: dict,
                 passages: int, indices: np.ndarray, background: bool) -> None:
        self._directory = directory
        self._maps = maps
        self._expected = expected
        self._passages = passages
        self._indices = indices
        self._error: IndexFileError | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="index-verify", daemon=True)
            self._thread.start()
        else:
            self._run()

    def _run(self) -> None:
        try:
            for name, (path, mapped) in self._maps.items():
                checksum = zlib.crc32(mapped) if mapped is not None else 0
                if checksum != self._expected[name]:
                    raise IndexFileError(f"索引文件 {path} 校验和不符(已损坏),需要重建。")
            indices = self._indices
            if self._passages and len(indices) and (int(indices.max()) >= self._passages or int(indices.min()) < 0):
                shown = display_name(str(self._directory))
                raise IndexFileError(f"{shown} 的索引引用了不存在的段落(已损坏),需要重建。")
        except IndexFileError as error:
            self._error = error
        finally:
            for _, mapped in self._maps.values():
                if mapped is not None:
                    mapped.close()
            self._maps = {}

    def wait(self) -> None:
        """Return once verified; raise IndexFileError when an array is damaged."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error


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
    overrides: list[str | None] | None = None,
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
        "single_ptr": collection.single_ptr,
        "singles": collection.singles,
        "passage_bytes": collection.passage_bytes,
        "passage_simplified": collection.passage_simplified,
        "vocabulary_blob": index.vocabulary.blob,
        "vocabulary_offsets": index.vocabulary.offsets,
        "vocabulary_keys": index.vocabulary.keys,
        "indptr": index.indptr,
        "indices": index.indices,
        "weights": index.weights,
        "idf": index.idf_values,
        "counts": index.counts,
        "lengths": index.lengths,
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
            "overrides": overrides if overrides is not None else [None] * len(collection.records),
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
    verification: Verification
    manifest: dict


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
    maps: dict[str, tuple[Path, mmap.mmap | None]] = {}
    try:
        for name in _ARRAYS:
            path = folder / f"{name}.npy"
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size != manifest["array_bytes"][name]:
                    raise IndexFileError(f"索引文件 {path} 大小不符(可能被截断),需要重建。")
                maps[name] = (path, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else None)
            # A plain ndarray view of the map: still read from the file on demand, without
            # np.memmap's cost on every index or slice (a few per hit of an answer).
            arrays[name] = np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
        records = [DocumentRecord(**d) for d in manifest["documents"]]
        stamps = [FileStamp(**s) for s in manifest["files"]]
        skipped = [Skipped(**s) for s in manifest["skipped"]]
        notes = [FileNote(**n) for n in manifest["notes"]]
        passages, terms = int(manifest["passages"]), int(manifest["terms"])
        general_median = float(manifest["general_median"])
        checksums = {name: int(manifest["array_crc32"][name]) for name in _ARRAYS}
    except (IndexFileError, FileNotFoundError):
        _close(maps)
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        _close(maps)
        raise IndexFileError(f"{display_name(str(directory))} 的索引已损坏: {error}。") from error
    try:
        _check_shapes(directory, arrays, len(records), passages, terms)
    except IndexFileError:
        _close(maps)
        raise
    total = sum(int(size) for size in manifest["array_bytes"].values())
    verification = Verification(
        directory, maps, checksums, passages, arrays["indices"], background=total > EAGER_VERIFY_BYTES
    )
    if total <= EAGER_VERIFY_BYTES:
        verification.wait()  # verified already: raise now
    collection = Collection(
        records,
        arrays["text_blob"],
        arrays["text_offsets"],
        arrays["passage_doc"],
        arrays["passage_paragraph"],
        arrays["span_ptr"],
        arrays["spans"],
        arrays["single_ptr"],
        arrays["singles"],
        arrays["passage_bytes"],
        arrays["passage_simplified"],
    )
    vocabulary = Vocabulary(arrays["vocabulary_blob"], arrays["vocabulary_offsets"], arrays["vocabulary_keys"])
    scorer = scorer_class(ranking)
    index = scorer(
        vocabulary,
        arrays["indptr"],
        arrays["indices"],
        arrays["weights"],
        arrays["idf"],
        passages,
        arrays["counts"],
        arrays["lengths"],
    )
    general = GeneralIdf(
        Vocabulary(arrays["general_blob"], arrays["general_offsets"], arrays["general_keys"]),
        arrays["general_values"],
        general_median,
    )
    return LoadedIndex(collection, index, general, stamps, skipped, notes, verification, manifest)


def _close(maps: dict[str, tuple[Path, mmap.mmap | None]]) -> None:
    for _, mapped in maps.values():
        if mapped is not None:
            mapped.close()


def _check_shapes(directory: Path, a: dict[str, np.ndarray], documents: int, passages: int, terms: int) -> None:
    nnz = len(a["indices"])
    checks = [
        len(a["text_offsets"]) == documents + 1 and int(a["text_offsets"][-1]) == len(a["text_blob"]),
        len(a["passage_doc"]) == passages == len(a["passage_paragraph"]),
        len(a["span_ptr"]) == passages + 1 and int(a["span_ptr"][-1]) == len(a["spans"]),
        len(a["single_ptr"]) == passages + 1 and int(a["single_ptr"][-1]) == len(a["singles"]),
        a["passage_bytes"].shape == (passages, 2),
        a["passage_simplified"].shape == (passages,),
        len(a["vocabulary_offsets"]) == terms + 1 and int(a["vocabulary_offsets"][-1]) == len(a["vocabulary_blob"]),
        len(a["vocabulary_keys"]) == terms and len(a["general_keys"]) == len(a["general_values"]),
        len(a["indptr"]) == terms + 1 and int(a["indptr"][-1]) == nnz == len(a["weights"]) == len(a["counts"]),
        len(a["lengths"]) == passages,
        len(a["idf"]) == terms,
        len(a["general_offsets"]) == len(a["general_values"]) + 1
        and int(a["general_offsets"][-1]) == len(a["general_blob"]),
        a["spans"].ndim == 2 and (a["spans"].shape[1] == 2 if a["spans"].size else True),
    ]
    if not all(checks):
        raise IndexFileError(f"{display_name(str(directory))} 的索引文件彼此不一致(已损坏),需要重建。")


def is_fresh(loaded: LoadedIndex, folder: Path, follow_links: bool = False) -> bool:
    """True when the folder's documents and catalog are the ones the index was built from."""
    return not changed_files(loaded, folder, follow_links)


def changed_files(loaded: LoadedIndex, folder: Path, follow_links: bool = False) -> tuple[str, ...]:
    """The documents (and catalog) added, removed or changed since the index was built, sorted."""
    return _changed_names(loaded.stamps, folder, follow_links)


def _changed_names(stamps: list[FileStamp], folder: Path, follow_links: bool) -> tuple[str, ...]:
    """The names whose stamp differs from `stamps` now (only files whose size or time changed are read)."""
    known = {s.name: s for s in stamps}
    now = {s.name: s for s in folder_stamps(folder, known, follow_links)}
    return tuple(sorted(name for name in known.keys() | now.keys() if known.get(name) != now.get(name)))


# -- the lifecycle ------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """What changed in a folder since its index was built, by document id."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    analysed: int = 0  # documents tokenized for the update (the rest were reused)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


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
    # Checksums still being verified (a loaded large index); None once trusted.
    verification: Verification | None = None
    # What an update needs: the files' stamps and each document's catalog entry.
    stamps: list[FileStamp] | None = None
    overrides: list[str | None] | None = None
    changes: Changes = Changes()


def _override_key(catalog: dict[str, Metadata], doc_id: str) -> str | None:
    override = catalog.get(doc_id)
    return None if override is None else json.dumps(asdict(override), ensure_ascii=False, sort_keys=True)


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
    catalog = catalog or {}
    built, all_skipped = _build(sources, analyzer, catalog, skipped, workers, progress, ranking)
    overrides = [_override_key(catalog, r.doc_id) for r in built.collection.records]
    return OpenedIndex(
        built.collection, built.index, general_idf.from_jieba(), all_skipped, notes or [], status, ranking,
        overrides=overrides,
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


def update_from(
    previous: OpenedIndex,
    folder: Path,
    analyzer: Analyzer,
    *,
    follow_links: bool = False,
    workers: int | None = None,
) -> OpenedIndex:
    """The index of `folder` from a previous one of it: only new and changed files are read and analysed.

    Equal, array for array, to a full build of the folder. The result's
    `changes` says what changed (empty when nothing did: then `previous` is
    returned as it is).
    """
    if previous.stamps is None or previous.overrides is None or not isinstance(previous.collection, Collection):
        raise ValueError("update_from needs an index built from a folder")
    collection, index = previous.collection, previous.index
    if not isinstance(index, LocalIndex):
        raise ValueError("update_from needs a local index")
    known = {s.name: s for s in previous.stamps}
    texts = read_folder(folder, follow_links, stamped=True, known=known)
    catalog = read_catalog(folder)
    changes = _changes(previous.stamps, texts.stamps)
    old_docs = {r.doc_id: i for i, r in enumerate(collection.records)}
    fresh = {t.doc_id: t for t in texts.texts}
    digests = {s.name: s.digest for s in texts.stamps}
    old_skipped: dict[str, list[Skipped]] = {}
    for entry in previous.skipped:
        old_skipped.setdefault(entry.doc_id, []).append(entry)
    old_notes: dict[str, list[FileNote]] = {}
    for note in previous.notes:
        old_notes.setdefault(note.doc_id, []).append(note)
    new_notes: dict[str, list[FileNote]] = {}
    for note in texts.notes:
        new_notes.setdefault(note.doc_id, []).append(note)
    plan: list[int | SourceText] = []
    skipped = list(texts.skipped)
    notes: list[FileNote] = []
    for doc_id in texts.order:
        if doc_id in texts.unchanged:
            notes.extend(old_notes.get(doc_id, []))
            old = old_docs.get(doc_id)
            if old is None:
                skipped.extend(old_skipped.get(doc_id, []))  # still unreadable, empty, or in no encoding we read
            elif previous.overrides[old] == _override_key(catalog, doc_id):
                plan.append(old)
            else:  # only its catalog entry changed: its text is in the index
                text = collection.doc_text(old)
                plan.append(SourceText(doc_id, folder / doc_id, text, "utf-8"))
        else:
            notes.extend(new_notes.get(doc_id, []))
            old = old_docs.get(doc_id)
            same_bytes = doc_id in known and known[doc_id].digest == digests.get(doc_id)
            if old is not None and same_bytes and previous.overrides[old] == _override_key(catalog, doc_id):
                plan.append(old)  # touched, not changed
            elif doc_id in fresh:
                plan.append(fresh[doc_id])
    if not plan:
        raise CorpusError(f"目录 {display_name(str(folder))} 中没有可读取的文档。")
    built = update_index(collection, index, plan, analyzer, catalog, workers=workers, ranking=previous.ranking)
    if len(built.collection) == 0:
        raise CorpusError("文档中没有可检索的正文(清理掉页面杂项后为空)。")
    analysed = sum(1 for item in plan if isinstance(item, SourceText))
    all_skipped = sorted(skipped + built.empty, key=lambda s: s.doc_id)
    return OpenedIndex(
        built.collection,
        built.index,
        previous.general,
        all_skipped,
        notes,
        IndexStatus.REBUILT_CHANGED,
        previous.ranking,
        stamps=texts.stamps,
        overrides=[_override_key(catalog, r.doc_id) for r in built.collection.records],
        changes=Changes(changes.added, changes.changed, changes.removed, analysed),
    )


def _changes(before: list[FileStamp], after: list[FileStamp]) -> Changes:
    old = {s.name: s.digest for s in before}
    new = {s.name: s.digest for s in after}
    return Changes(
        added=tuple(sorted(n for n in new if n not in old)),
        changed=tuple(sorted(n for n in new if n in old and new[n] != old[n])),
        removed=tuple(sorted(n for n in old if n not in new)),
    )


def folder_changed(opened: OpenedIndex, folder: Path, follow_links: bool = False) -> bool:
    """True when the folder's files differ from the ones `opened` was built from (reads only changed files)."""
    return opened.stamps is not None and bool(_changed_names(opened.stamps, folder, follow_links))


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
    """The index of `folder` for `ranking`: loaded from `index_dir` when fresh, updated when files changed, else built.

    An update reads and analyses only the new and changed files (the saved
    index is the cache of every other file's analysis); it is then saved.
    `on_rebuild` is called before a build or an update with why it happens
    (and, for a saved index gone stale, which files changed), so an adapter can say so.
    """
    status = IndexStatus.BUILT
    changed: tuple[str, ...] = ()
    if index_dir is not None:
        check_folder(folder)
        check_location(index_dir, folder)
        if not force and ((index_dir / CURRENT).exists() or (index_dir / MANIFEST).exists()):
            loaded, status = _try_load(index_dir, analyzer, ranking)
            if loaded is not None:
                opened = _opened(loaded, ranking)
                changed = changed_files(loaded, folder, follow_links) if folder.is_dir() else ()
                if not changed:
                    return opened
                if on_rebuild is not None:
                    on_rebuild(Rebuild(IndexStatus.REBUILT_CHANGED, changed))
                try:
                    if opened.verification is not None:
                        opened.verification.wait()
                except IndexFileError as error:
                    log.warning("%s 正在重建索引。", error)
                    status = IndexStatus.REBUILT_DAMAGED
                else:
                    updated = update_from(opened, folder, analyzer, follow_links=follow_links, workers=workers)
                    save_opened(index_dir, updated, analyzer)
                    return updated
    if on_rebuild is not None:
        on_rebuild(Rebuild(status, changed))
    texts = read_folder(folder, follow_links, stamped=True)
    catalog = read_catalog(folder)
    notes = texts.notes + catalog_notes(catalog, texts.texts, texts.skipped)
    opened = build_from_sources(
        texts.texts, analyzer, catalog, texts.skipped, notes, workers=workers, progress=progress, status=status,
        ranking=ranking,
    )
    opened.stamps = texts.stamps
    if index_dir is not None:
        save_opened(index_dir, opened, analyzer)
    return opened


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


def _opened(loaded: LoadedIndex, ranking: Ranking) -> OpenedIndex:
    overrides = loaded.manifest.get("overrides")
    if not isinstance(overrides, list) or len(overrides) != len(loaded.collection.records):
        overrides = None
    return OpenedIndex(
        loaded.collection,
        loaded.index,
        loaded.general,
        loaded.skipped,
        loaded.notes,
        IndexStatus.LOADED,
        ranking,
        loaded.verification,
        stamps=loaded.stamps,
        overrides=overrides,
    )


def save_opened(index_dir: Path, opened: OpenedIndex, analyzer: Analyzer) -> None:
    """Save an opened index (a failure to write is logged: the index in memory still answers)."""
    if not isinstance(opened.collection, Collection) or not isinstance(opened.index, LocalIndex):
        raise ValueError("only a local index can be saved")
    try:
        save(index_dir, opened.collection, opened.index, opened.general, analyzer, opened.stamps or [],
             opened.skipped, opened.notes, opened.ranking, opened.overrides or [])
    except IndexLocationError:
        raise
    except OSError as error:
        log.warning("索引无法保存到 %s: %s", display_name(str(index_dir)), error.strerror or error)


def _try_load(index_dir: Path, analyzer: Analyzer, ranking: Ranking) -> tuple[LoadedIndex | None, IndexStatus]:
    try:
        loaded = load(index_dir, analyzer, ranking)
    except IndexRankingError as error:
        log.info("%s", error)
        return None, IndexStatus.REBUILT_RANKING
    except IndexVersionError as error:
        log.info("%s", error)  # expected after an upgrade: no cause for alarm
        return None, IndexStatus.REBUILT_ANALYZER
    except IndexFileError as error:
        log.warning("%s 正在重建索引。", error)
        return None, IndexStatus.REBUILT_DAMAGED
    except OSError as error:
        log.warning("索引 %s 无法读取(%s),正在重建。", display_name(str(index_dir)), error.strerror or error)
        return None, IndexStatus.REBUILT_DAMAGED
    return loaded, IndexStatus.LOADED
