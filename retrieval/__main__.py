"""Build and check saved indexes.

    python -m retrieval index DIR             build (or refresh) the index of a folder
    python -m retrieval index DIR --force     rebuild even when nothing changed
    python -m retrieval info DIR              say whether the saved index is fresh
    python -m retrieval index DIR --ranking lucene
                                              the index for Lucene's scores (as OpenSearch ranks)
    python -m retrieval push DIR --opensearch URL --index NAME
                                              load the folder into OpenSearch, behind the alias NAME
    python -m retrieval push --bulk FILE... --opensearch URL --index NAME
                                              load bulk files made by bench/spark_bulk.py
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from retrieval import IndexStatus, Ranking, RetrievalError, Retriever, store
from retrieval.analysis import Analyzer
from retrieval.cache import cache_root, cached_analyzer
from retrieval.loading import ESCAPING_LINK, display_name
from retrieval.text import terminal_safe

LISTED_NAMES = 20


def _index_dir(args: argparse.Namespace) -> Path:
    if args.index_dir:
        return Path(args.index_dir)
    return store.default_index_dir(cache_root(os.environ), Path(args.folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval", description="建立和检查文档目录的检索索引。")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("index", help="为目录建立索引(文档未变时直接复用)")
    build.add_argument("folder", help="文档目录(.txt / .md)")
    build.add_argument("--index-dir", help="索引存放位置(默认在用户缓存目录)")
    build.add_argument("--workers", type=int, help="分词进程数(默认: 大目录用全部核心)")
    build.add_argument("--force", action="store_true", help="即使文档未变也重建(建好后才替换旧索引)")
    build.add_argument("--follow-links", action="store_true", help="跟随指向文档目录之外的链接")
    info = commands.add_parser("info", help="显示索引位置和是否需要重建")
    info.add_argument("folder")
    info.add_argument("--index-dir")
    for command in (build, info):
        command.add_argument(
            "--ranking", choices=[r.value for r in Ranking], default=Ranking.EXACT.value,
            help="评分方式: exact(默认)或 lucene(与 Lucene/OpenSearch 的分数相同)",
        )
    load = commands.add_parser("push", help="把目录载入 OpenSearch(建新索引,完成后切换别名)")
    load.add_argument("folder", nargs="?", help="文档目录(与 --bulk 二选一)")
    load.add_argument("--bulk", nargs="+", type=Path, metavar="FILE", help="已生成的批量文件(NDJSON)")
    load.add_argument("--opensearch", metavar="URL", help="集群地址(默认取环境变量 ZHDOCQA_OPENSEARCH_URL)")
    load.add_argument("--index", required=True, metavar="NAME", help="别名:检索时用这个名字")
    load.add_argument("--shards", type=int, default=1, help="主分片数(默认 1)")
    load.add_argument("--replicas", type=int, default=1, help="副本数(默认 1)")
    load.add_argument("--keep-previous", action="store_true", help="保留别名原来指向的索引(便于回滚)")
    load.add_argument("--workers", type=int, help="分词进程数")
    load.add_argument("--follow-links", action="store_true", help="跟随指向文档目录之外的链接")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    analyzer = cached_analyzer(cache_root(os.environ))
    if args.command == "push":
        return _push(parser, args, analyzer)
    index_dir = _index_dir(args)
    try:
        if args.command == "info":
            return _info(Path(args.folder), index_dir, analyzer, Ranking(args.ranking))
        started = time.perf_counter()
        retriever = Retriever(
            args.folder,
            index_dir=index_dir,
            workers=args.workers,
            progress=sys.stderr.isatty(),
            follow_links=args.follow_links,
            analyzer=analyzer,
            rebuild=args.force,
            ranking=args.ranking,
        )
        seconds = time.perf_counter() - started
    except RetrievalError as error:
        print(terminal_safe(f"错误: {error}"), file=sys.stderr)
        return 1
    changes = retriever.changes
    if retriever.index_status == IndexStatus.LOADED:
        verb = "已复用"
    elif changes:
        verb = "已更新"
    else:
        verb = "已建立"
    print(f"{verb}索引: {len(retriever.documents)} 篇文档, {len(retriever)} 个段落, 用时 {seconds:.1f} 秒")
    if changes:
        for label, names in (("新增", changes.added), ("修改", changes.changed), ("删除", changes.removed)):
            if names:
                shown = ", ".join(names[:LISTED_NAMES]) + (" ..." if len(names) > LISTED_NAMES else "")
                print(terminal_safe(f"{label} {len(names)} 个: {shown}"))
        print(f"重新分词 {changes.analysed} 篇, 其余文档的分析结果直接复用")
    print(terminal_safe(f"索引位置: {display_name(str(index_dir))}"))
    if retriever.index_status != IndexStatus.LOADED:
        for skipped in retriever.skipped:
            print(terminal_safe(f"已跳过 {skipped.doc_id}: {skipped.reason}"), file=sys.stderr)
        for note in retriever.notes:
            print(terminal_safe(f"注意 {note.doc_id}: {note.message}"), file=sys.stderr)
        if any(s.reason == ESCAPING_LINK for s in retriever.skipped):
            print("提示: 要跟随指向目录之外的链接,请加 --follow-links。", file=sys.stderr)
    return 0


def _push(parser: argparse.ArgumentParser, args: argparse.Namespace, analyzer: Analyzer) -> int:
    from retrieval.opensearch_client import connect, shown_url
    from retrieval.opensearch_push import bulk_file_items, folder_items, push

    url = args.opensearch or os.environ.get("ZHDOCQA_OPENSEARCH_URL")
    if not url:
        parser.error("需要 --opensearch URL(或环境变量 ZHDOCQA_OPENSEARCH_URL)")
    if (args.folder is None) == (args.bulk is None):
        parser.error("请给出文档目录或 --bulk 文件,二者选一")
    if args.shards < 1 or args.replicas < 0:
        parser.error("--shards 至少为 1,--replicas 不能为负")
    started = time.perf_counter()
    try:
        if args.folder is not None:
            items = folder_items(Path(args.folder), analyzer, args.workers, args.follow_links)
        else:
            items = bulk_file_items(args.bulk)
        report = push(
            connect(url), url, items, args.index, analyzer, shards=args.shards, replicas=args.replicas,
            keep_previous=args.keep_previous, progress=sys.stderr.isatty(),
        )
    except RetrievalError as error:
        print(terminal_safe(f"错误: {error}"), file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    print(f"已载入 {shown_url(url)}: {report.documents} 篇文档, {report.passages} 个段落, 用时 {seconds:.1f} 秒")
    print(f"别名 {report.alias} → {report.index}")
    if report.deleted:
        print(f"已删除旧索引: {', '.join(report.deleted)}")
    elif report.previous:
        print(f"旧索引仍保留: {', '.join(report.previous)}")
    return 0


def _info(folder: Path, index_dir: Path, analyzer: Analyzer, ranking: Ranking) -> int:
    print(terminal_safe(f"索引位置: {display_name(str(index_dir))}"))
    try:
        loaded = store.load(index_dir, analyzer, ranking)
        loaded.verification.wait()  # info reports a damaged array, never "fresh"
    except RetrievalError as error:
        print(terminal_safe(f"状态: 不可用 ({error})"))
        return 1
    fresh = folder.is_dir() and store.is_fresh(loaded, folder)
    print(f"文档: {len(loaded.collection.records)} 篇, 段落: {len(loaded.collection)} 个")
    print("状态: " + ("最新" if fresh else "文档已变化,下次使用时会重建"))
    return 0 if fresh else 3


if __name__ == "__main__":
    sys.exit(main())
