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

from rich.console import Console

from bot import render
from bot.opening import history_file, open_retriever
from bot.repl import Session, is_interactive, run_batch, run_interactive
from retrieval import QuestionError, RetrievalError, Retriever

DEFAULT_K = 5
PIPE_WIDTH = 100_000


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", metavar="DIR", help="文档目录(默认: 内置的示例文章)")
    common.add_argument("--k", type=int, default=argparse.SUPPRESS, help=f"每次显示的段落数(默认 {DEFAULT_K})")
    # issue 14: answer from a collection pushed to OpenSearch (python -m retrieval push) instead of a folder
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
    commands.add_parser("repl", parents=[common], help="交互式问答(默认)")
    try:
        from bot import telegram_cli
    except ImportError:
        telegram_cli = None
    if telegram_cli is not None:
        telegram_cli.add_parser(commands, common)
    args = parser.parse_args(argv)
    args.k = getattr(args, "k", DEFAULT_K)
    args.opensearch = getattr(args, "opensearch", None)
    args.opensearch_index = getattr(args, "opensearch_index", "zhdocqa")
    if args.opensearch and args.corpus:
        parser.error("--corpus 和 --opensearch 只能选一个")
    if not 1 <= args.k <= 20:
        parser.error(f"--k 应为 1 到 20 之间的整数,收到 {args.k}")
    return args


def make_console() -> Console:
    """Colour on a terminal; no escape codes at all in a pipe or under NO_COLOR."""
    if not sys.stdout.isatty():
        # A pipe or a file: no escape codes and no wrapping, lines as they are.
        return Console(
            file=_TrailingSpaceStripper(sys.stdout), color_system=None, width=PIPE_WIDTH, highlight=False, emoji=False
        )
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
        retriever = open_retriever(args.corpus, args.opensearch, args.opensearch_index)
    except RetrievalError as error:
        print(f"错误: {error}", file=sys.stderr)
        return 2
    for skipped in retriever.skipped:
        print(f"已跳过 {skipped.doc_id}: {skipped.reason}", file=sys.stderr)
    if args.command == "ask":
        return ask_once(retriever, args.question, args.k, args.json)
    session = Session(retriever, make_console(), k=args.k)
    if is_interactive():
        return run_interactive(session, history_file())
    return run_batch(session, sys.stdin)


def ask_once(retriever: Retriever, question: str, k: int, as_json: bool) -> int:
    try:
        answer = retriever.ask(question, k=k)
    except QuestionError as error:
        print(f"错误: {error}", file=sys.stderr)
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
