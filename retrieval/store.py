"""Saved indexes: a folder of .npy arrays and a JSON manifest, no pickle.

Arrays are memory-mapped on load, so opening a large index reads almost
nothing. The manifest records every document file's size, modification time
and BLAKE2 digest: a file whose size and time still match is taken as
unchanged (as git and make do), any other is hashed, and a changed, added or
removed file, or another analyzer or format version, makes the index stale.
Every array's byte size and CRC-32 are recorded too, and checked at load with
the arrays' shapes, so a truncated or damaged file is reported, never used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import mmap
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.collection import Collection, DocumentRecord
from retrieval.errors import IndexFileError, IndexVersionError
from retrieval.general_idf import GeneralIdf
from retrieval.loading import Skipped, document_paths
from retrieval.metadata import CATALOG_NAME
from retrieval.ranking import K1, B, BM25Index
from retrieval.vocabulary import Vocabulary

FORMAT_VERSION = 3
# Every module whose code decides what a passage is or which terms it has: an
# index built by other code, or other jieba/OpenCC releases, is rebuilt.
_PIPELINE = ("analysis.py", "cleaning.py", "chunking.py", "metadata.py", "documents.py", "loading.py",
             "indexing.py", "ranking.py", "general_idf.py", "stopwords.txt", "answer_model.json")


def _pipeline_version() -> str:
    hasher = hashlib.blake2b(digest_size=8)
    package = Path(__file__).resolve().parent
    for name in _PIPELINE:
        hasher.update((package / name).read_bytes())
    for distribution in ("jieba", "opencc", "rank-bm25"):
        try:
            hasher.update(importlib.metadata.version(distribution).encode())
        except importlib.metadata.PackageNotFoundError:
            hasher.update(b"?")
    return hasher.hexdigest()


ANALYZER_VERSION = _pipeline_version()
MANIFEST = "manifest.json"
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


@dataclass(frozen=True)
class FileStamp:
    """What the index knows of one file of the folder."""

    name: str  # relative path
    size: int
    mtime_ns: int
    digest: str


def _digest(path: Path) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _crc32(path: Path) -> int:
    """CRC-32 of a whole file: about 3 GB/s, cheap enough to check at every load."""
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            return 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return zlib.crc32(mapped)


def folder_stamps(folder: Path, known: dict[str, FileStamp] | None = None) -> list[FileStamp]:
    """Stamps of the documents and catalog of `folder`; digests reused where size and time match."""
    known = known or {}
    paths = document_paths(folder)
    catalog = folder / CATALOG_NAME
    if catalog.is_file():
        paths.append(catalog)
    stamps = []
    for path in paths:
        name = path.relative_to(folder).as_posix()
        info = path.stat()
        previous = known.get(name)
        if previous and previous.size == info.st_size and previous.mtime_ns == info.st_mtime_ns:
            stamps.append(previous)
        else:
            stamps.append(FileStamp(name, info.st_size, info.st_mtime_ns, _digest(path)))
    return stamps


def default_index_dir(cache_root: Path, folder: Path) -> Path:
    """Where the index of `folder` is kept under a cache root: one subfolder per folder path."""
    key = hashlib.blake2b(str(folder.resolve()).encode("utf-8"), digest_size=8).hexdigest()
    return cache_root / "indexes" / key


def save(
    directory: Path,
    collection: Collection,
    index: BM25Index,
    stamps: list[FileStamp],
    skipped: list[Skipped],
    general: GeneralIdf,
) -> None:
    """Write the index to `directory`, replacing what is there only once it is complete."""
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
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".index-", dir=directory.parent))
    try:
        sizes, checksums = {}, {}
        for name, array in arrays.items():
            path = staging / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            sizes[name] = path.stat().st_size
            checksums[name] = _crc32(path)
        manifest = {
            "format": FORMAT_VERSION,
            "analyzer": ANALYZER_VERSION,
            "k1": K1,
            "b": B,
            "passages": len(collection),
            "terms": len(index.vocabulary),
            "documents": [r.to_json() for r in collection.records],
            "files": [s.__dict__ for s in stamps],
            "skipped": [{"doc_id": s.doc_id, "reason": s.reason} for s in skipped],
            "array_bytes": sizes,
            "array_crc32": checksums,
            "general_median": general.median,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        if directory.exists():
            remove(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove(directory: Path) -> None:
    """Delete a saved index."""
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class LoadedIndex:
    collection: Collection
    index: BM25Index
    general: GeneralIdf
    stamps: list[FileStamp]
    skipped: list[Skipped]


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise IndexFileError(f"{directory} 中没有索引(缺少 {MANIFEST})。") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexFileError(f"索引清单 {path} 已损坏: {error}。") from error
    if not isinstance(manifest, dict):
        raise IndexFileError(f"索引清单 {path} 已损坏。")
    return manifest


def load(directory: Path) -> LoadedIndex:
    """Open a saved index (memory-mapped). Raises IndexFileError when it is damaged or of another version."""
    manifest = read_manifest(directory)
    if manifest.get("format") != FORMAT_VERSION or manifest.get("analyzer") != ANALYZER_VERSION:
        raise IndexVersionError(f"{directory} 的索引由另一版本的程序建立,需要重建。")
    if manifest.get("k1") != K1 or manifest.get("b") != B:
        raise IndexVersionError(f"{directory} 的索引使用了不同的 BM25 参数,需要重建。")
    arrays = {}
    try:
        for name in _ARRAYS:
            path = directory / f"{name}.npy"
            if path.stat().st_size != manifest["array_bytes"][name]:
                raise IndexFileError(f"索引文件 {path} 大小不符(可能被截断),需要重建。")
            if _crc32(path) != manifest["array_crc32"][name]:
                raise IndexFileError(f"索引文件 {path} 校验和不符(已损坏),需要重建。")
            arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        records = [DocumentRecord(**d) for d in manifest["documents"]]
        stamps = [FileStamp(**s) for s in manifest["files"]]
        skipped = [Skipped(**s) for s in manifest["skipped"]]
        passages, terms = int(manifest["passages"]), int(manifest["terms"])
        general_median = float(manifest["general_median"])
    except IndexFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IndexFileError(f"{directory} 的索引已损坏: {error}。") from error
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
    index = BM25Index(vocabulary, arrays["indptr"], arrays["indices"], arrays["weights"], arrays["idf"], passages)
    general = GeneralIdf(
        Vocabulary(arrays["general_blob"], arrays["general_offsets"], arrays["general_keys"]),
        arrays["general_values"],
        general_median,
    )
    return LoadedIndex(collection, index, general, stamps, skipped)


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
        raise IndexFileError(f"{directory} 的索引文件彼此不一致(已损坏),需要重建。")
    if passages and nnz and (int(a["indices"].max()) >= passages or int(a["indices"].min()) < 0):
        raise IndexFileError(f"{directory} 的索引引用了不存在的段落(已损坏),需要重建。")


def is_fresh(loaded: LoadedIndex, folder: Path) -> bool:
    """True when the folder's documents and catalog are the ones the index was built from."""
    known = {s.name: s for s in loaded.stamps}
    return folder_stamps(folder, known) == loaded.stamps
