"""Loading a collection into OpenSearch: a new index per load, served only once complete.

    python -m retrieval push DIR --opensearch URL --index NAME

NAME is an alias. Each push creates a fresh index (NAME-<UTC time>), bulk-loads
it with no replicas and no refresh, restores replicas and refresh, checks that
every passage is searchable, then moves the alias to it in one atomic
request; the index the alias pointed to is deleted afterwards (kept with
--keep-previous, for a rollback). A failed load deletes its own half-built
index and leaves the alias where it was, so searches never see a partial
collection.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from retrieval.analysis import Analyzer
from retrieval.bulk_export import DOCUMENT, PASSAGE, BulkItem, index_body, loaded_settings, read_ndjson, records
from retrieval.errors import BackendError, CorpusError
from retrieval.indexing import analysed_documents
from retrieval.loading import SourceText, display_name, read_folder
from retrieval.metadata import Metadata, read_catalog
from retrieval.opensearch_client import call
from retrieval.text import terminal_safe

CHUNK_DOCUMENTS = 500
CHUNK_BYTES = 10 * 1024 * 1024
ITEM_RETRIES = 5  # for items the cluster rejects with 429 (its write queue is full)
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,200}$")


@dataclass
class Counts:
    passages: int = 0
    documents: int = 0


@dataclass
class PushReport:
    """What a push did."""

    index: str
    alias: str
    passages: int
    documents: int
    previous: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def folder_items(
    folder: Path, analyzer: Analyzer, workers: int | None = None, follow_links: bool = False
) -> Iterator[BulkItem]:
    """The OpenSearch documents of a folder, read and analysed as the local index reads and analyses it.

    Raises CorpusError when the folder is missing or holds no readable document.
    """
    read = read_folder(folder, follow_links, stamped=False)
    for item in read.skipped:
        print(terminal_safe(f"已跳过 {display_name(item.doc_id)}: {item.reason}"), file=sys.stderr)
    for note in read.notes:
        print(terminal_safe(f"注意 {display_name(note.doc_id)}: {note.message}"), file=sys.stderr)
    return _items(read.texts, analyzer, read_catalog(folder), workers)


def _items(
    sources: Sequence[SourceText], analyzer: Analyzer, catalog: dict[str, Metadata], workers: int | None
) -> Iterator[BulkItem]:
    first_passage = 0
    for doc, document in enumerate(analysed_documents(sources, analyzer, catalog, workers)):
        yield from records(document, doc, first_passage)
        first_passage += len(document.passages)


def bulk_file_items(paths: Iterable[Path]) -> Iterator[BulkItem]:
    """The documents of bulk files written by `bulk_export.ndjson` (e.g. by bench/spark_bulk.py)."""
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            try:
                yield from read_ndjson(handle)
            except ValueError as error:
                raise CorpusError(f"批量文件 {path} 格式不对: {error}。") from None


def check_alias(alias: str) -> str:
    if not _INDEX_NAME.match(alias):
        raise CorpusError(f"索引名 {alias!r} 不可用:只能用小写字母、数字和 . _ -,且以字母或数字开头。")
    return alias


def push(
    client: Any,
    url: str,
    items: Iterable[BulkItem],
    alias: str,
    analyzer: Analyzer,
    *,
    shards: int = 1,
    replicas: int = 1,
    keep_previous: bool = False,
    progress: bool = False,
    backoff: int = 2,
    chunk_documents: int = CHUNK_DOCUMENTS,
) -> PushReport:
    """Load `items` into a new index and point `alias` at it once every passage is searchable."""
    from opensearchpy.helpers import streaming_bulk

    check_alias(alias)
    previous = _alias_targets(client, url, alias)
    index = f"{alias}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    if index in previous:
        index += "-2"
    body = index_body(shards, replicas, analyzer)
    call(url, f"创建索引 {index}", lambda: client.indices.create(index=index, body=body))
    counts = Counts()
    try:
        stream = streaming_bulk(
            client,
            _counted(items, counts),
            index=index,
            chunk_size=chunk_documents,
            max_chunk_bytes=CHUNK_BYTES,
            expand_action_callback=_action,
            max_retries=ITEM_RETRIES,
            initial_backoff=backoff,
            max_backoff=60,
            raise_on_error=False,
            raise_on_exception=True,
            yield_ok=True,
        )
        failures = _failures(url, stream, progress)
        if failures:
            first = failures[0]
            raise BackendError(
                f"有 {len(failures)} 个文档未能写入 {index}(重试 {ITEM_RETRIES} 次后),例如 {first[0]}: {first[1]}。"
                f"别名 {alias} 未改动;请检查集群状态后重新 push。"
            )
        settings = loaded_settings(replicas)
        call(url, "恢复副本和刷新设置", lambda: client.indices.put_settings(index=index, body=settings))
        call(url, "刷新索引", lambda: client.indices.refresh(index=index))
        body = {"query": {"term": {"kind": PASSAGE}}}
        searchable = int(call(url, "核对段落数", lambda: client.count(index=index, body=body))["count"])
        if searchable != counts.passages:
            raise BackendError(
                f"{index} 中可检索的段落有 {searchable} 个,应为 {counts.passages} 个。别名 {alias} 未改动;请重新 push。"
            )
        actions = [{"remove": {"index": old, "alias": alias}} for old in previous]
        actions.append({"add": {"index": index, "alias": alias}})
        call(url, f"把别名 {alias} 指向 {index}", lambda: client.indices.update_aliases(body={"actions": actions}))
    except BaseException:
        from opensearchpy import exceptions

        try:
            client.indices.delete(index=index, ignore_unavailable=True)
        except exceptions.OpenSearchException as error:  # the original failure is the one to report
            print(f"另外,未能删除未完成的索引 {index}: {type(error).__name__};请手动删除。", file=sys.stderr)
        raise
    deleted = []
    if not keep_previous:
        for old in previous:
            call(url, f"删除旧索引 {old}", partial(client.indices.delete, index=old))
            deleted.append(old)
    return PushReport(index, alias, counts.passages, counts.documents, previous, deleted)


def _alias_targets(client: Any, url: str, alias: str) -> list[str]:
    """The indices `alias` points to now (none for a first push)."""
    from opensearchpy import exceptions

    def request() -> dict:
        try:
            return client.indices.get_alias(name=alias)
        except exceptions.NotFoundError:
            return {}

    return sorted(call(url, f"查询别名 {alias}", request))


def _counted(items: Iterable[BulkItem], counts: Counts) -> Iterator[BulkItem]:
    for item in items:
        if item.source.get("kind") == PASSAGE:
            counts.passages += 1
        elif item.source.get("kind") == DOCUMENT:
            counts.documents += 1
        yield item


def _action(item: BulkItem) -> tuple[dict, dict]:
    return {"index": {"_id": item.id}}, item.source


def _failures(url: str, stream: Iterator, progress: bool) -> list[tuple[str, str]]:
    """Run the bulk stream to its end, with a progress bar; the items the cluster refused."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit="条", desc="写入 OpenSearch", file=sys.stderr, leave=False)
    failures: list[tuple[str, str]] = []
    results = iter(stream)
    try:
        while True:
            try:
                ok, result = call(url, "批量写入", lambda: next(results))
            except StopIteration:
                return failures
            if bar is not None:
                bar.update(1)
            if not ok:
                detail = result.get("index", result)
                failures.append((str(detail.get("_id")), str(detail.get("error", detail.get("status")))))
    finally:
        if bar is not None:
            bar.close()
