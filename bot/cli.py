"""Ask Chinese documents questions from a terminal (and, with `telegram`, from Telegram).

    python -m bot                        the REPL over the bundled seeds
    echo 问题 | python -m bot             answer each piped line, then exit
    python -m bot ask "问题" [--json]     one question, one answer
    python -m bot --corpus DIR           any command, over your own folder
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import IO, cast

from rich.console import Console

from bot import render
from bot.opening import history_file, open_retriever
from bot.repl import MAX_K, Session, is_interactive, run_batch, run_interactive
from retrieval import DEFAULT_K, BackendError, CorpusError, IndexStatus, QuestionError, RetrievalError, Retriever
from retrieval.loading import ESCAPING_LINK
from retrieval.text import terminal_safe

PIPE_WIDTH = 100_000


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", metavar="DIR", help="文档目录(默认: 内置的示例文章)")
    common.add_argument(
        "--follow-links", action="store_true", default=argparse.SUPPRESS, help="跟随指向文档目录之外的链接"
    )
    common.add_argument("--k", type=int, default=argparse.SUPPRESS, help=f"每次显示的段落数(默认 {DEFAULT_K})")
    # Answer from a collection pushed to OpenSearch (python -m retrieval push) instead of a folder.
    common.add_argument("--opensearch", metavar="URL", default=argparse.SUPPRESS, help="从 OpenSearch 集群检索")
    common.add_argument(
        "--opensearch-index", metavar="NAME", default=argparse.SUPPRESS, help="OpenSearch 中的别名(默认 zhdocqa)"
    )
    return common


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="用中文向一组文档提问,得到带出处的答案。", parents=[common]
    )
    commands = parser.add_subparsers(dest="command")
    ask = commands.add_parser("ask", parents=[common], help="回答一个问题后退出")
    ask.add_argument("question", help="问题")
    ask.add_argument("--json", action="store_true", help="输出 JSON(格式见 README)")
    repl = commands.add_parser("repl", parents=[common], help="交互式问答(默认)")
    for command_parser in (parser, repl):
        command_parser.add_argument(
            "--conversation", action="store_true", default=argparse.SUPPRESS,
            help="管道输入时也把每行当作前面问题的追问(交互式时默认如此)",
        )
    from bot import telegram_cli

    telegram_cli.add_parser(commands, common)
    args = parser.parse_args(argv)
    args.k = getattr(args, "k", DEFAULT_K)
    args.follow_links = getattr(args, "follow_links", False)
    args.conversation = getattr(args, "conversation", False)
    args.opensearch = getattr(args, "opensearch", None)
    args.opensearch_index = getattr(args, "opensearch_index", "zhdocqa")
    if args.opensearch and args.corpus:
        parser.error("--corpus 和 --opensearch 只能选一个")
    if not 1 <= args.k <= MAX_K:
        parser.error(f"--k 应为 1 到 {MAX_K} 之间的整数,收到 {args.k}")
    return args


def make_console() -> Console:
    """Colour on a terminal; no escape codes at all in a pipe or under NO_COLOR."""
    if not sys.stdout.isatty():
        # A pipe or a file: no escape codes and no wrapping, lines as they are.
        stream = cast(IO[str], _TrailingSpaceStripper(sys.stdout))
        return Console(file=stream, color_system=None, width=PIPE_WIDTH, highlight=False, emoji=False)
    if "NO_COLOR" in os.environ:
        return Console(color_system=None, highlight=False, emoji=False)
    return Console(highlight=False, emoji=False)


class _TrailingSpaceStripper:
    """A text stream that drops the spaces rich pads lines with: pipes get clean lines."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._stream.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "telegram":
        from bot import telegram_cli

        return telegram_cli.run(args)
    try:
        retriever = open_retriever(
            args.corpus, follow_links=args.follow_links, opensearch=args.opensearch,
            opensearch_index=args.opensearch_index,
        )
    except CorpusError as error:
        print(terminal_safe(f"错误: {error}") + "(用 --corpus DIR 指定文档目录)", file=sys.stderr)
        return 2
    except RetrievalError as error:
        print(terminal_safe(f"错误: {error}"), file=sys.stderr)
        return 2
    report_files(retriever)
    if args.command == "ask":
        return ask_once(retriever, args.question, args.k, args.json)
    session = Session(retriever, make_console(), k=args.k)
    if is_interactive() or args.conversation:
        # Follow-ups in the REPL by default; a piped batch treats each line alone unless asked.
        session.conversation = retriever.conversation()
    if is_interactive():
        return run_interactive(session, history_file())
    # A byte that is not UTF-8 in a piped line must not end the batch.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    return run_batch(session, sys.stdin)


def report_files(retriever: Retriever) -> None:
    """Skipped and repaired files, one line each, once per build (a reused index says nothing new)."""
    if retriever.index_status == IndexStatus.LOADED:
        return
    for skipped in retriever.skipped:
        print(terminal_safe(f"已跳过 {skipped.doc_id}: {skipped.reason}", keep_newlines=False), file=sys.stderr)
    for note in retriever.notes:
        print(terminal_safe(f"注意 {note.doc_id}: {note.message}", keep_newlines=False), file=sys.stderr)
    if any(s.reason == ESCAPING_LINK for s in retriever.skipped):
        print("提示: 要跟随指向目录之外的链接,请加 --follow-links。", file=sys.stderr)


def ask_once(retriever: Retriever, question: str, k: int, as_json: bool) -> int:
    try:
        answer = retriever.ask(question, k=k)
    except (QuestionError, BackendError) as error:  # BackendError: a cluster (--opensearch) failed
        print(terminal_safe(f"错误: {error}"), file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(render.answer_json(answer), ensure_ascii=False, indent=2))
    else:
        make_console().print(render.rich_answer(answer))
    return 0


def entry() -> int:
    """The process entry point: Ctrl-C outside the REPL ends quietly with 130."""
    try:
        return main()
    except KeyboardInterrupt:
        return 130
