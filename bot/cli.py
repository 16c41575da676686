"""The `zhdocqa` command (also `python -m bot`): parse flags and settings, open the collection, dispatch.

    zhdocqa                              the REPL over the bundled seeds (answers piped lines in a pipe)
    zhdocqa ask "问题" [--json]           one question, one answer
    zhdocqa index | info | telegram | eval
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, NoReturn, cast

from rich.console import Console

from bot import render
from bot.opening import history_file, index_location, open_retriever
from bot.reloading import DEFAULT_INTERVAL_SECONDS, watch
from bot.repl import Session, clean_input, is_interactive, run_batch, run_interactive
from bot.settings import (
    COLOR_ENV,
    CONFIG_ENV,
    CORPUS_ENV,
    K_ENV,
    MAX_K,
    ColorMode,
    ExitCode,
    Settings,
    SettingsError,
    config_path,
    resolve,
)
from retrieval import (
    BackendError,
    CorpusError,
    Filter,
    IndexStatus,
    ParameterError,
    QuestionError,
    Rebuild,
    RetrievalError,
    Retriever,
)
from retrieval.cache import CACHE_ENV, cache_root
from retrieval.loading import ESCAPING_LINK, display_name
from retrieval.text import terminal_safe

PROG = "zhdocqa"
PIPE_WIDTH = 100_000

EPILOG = f"""示例:
  zhdocqa                                   交互式问答(内置示例文章)
  zhdocqa ask "阿里巴巴花了多少钱入股新浪微博?"
  zhdocqa ask "红包" --source 易商讯 --since 2016 --json
  zhdocqa --corpus ~/docs ask "合同什么时候到期?" --doc "合同/*.md"
  printf '问题一\\n问题二\\n' | zhdocqa --json     每行一个问题,每行输出一个 JSON(JSON Lines)
  zhdocqa index ~/docs                      预先建立索引
  zhdocqa info                              文档列表、索引和配置的位置

环境变量:
  {CORPUS_ENV}     默认的文档目录(--corpus)
  {K_ENV}          默认的段落数(--k)
  {COLOR_ENV}      默认的颜色设置(--color)
  NO_COLOR           设置后不输出颜色(--color always 除外)
  {CONFIG_ENV}     配置文件路径(默认: 用户配置目录下的 config.toml)
  {CACHE_ENV}  索引缓存目录(默认: 用户缓存目录)
  TELEGRAM_BOT_TOKEN 等   见 zhdocqa telegram --help

配置文件(TOML): corpus、k、color、follow_links;优先级: 命令行 > 环境变量 > 配置文件 > 默认值。

退出码:
  0  有答案(批量: 每个问题都有答案)
  1  没有答案(批量: 至少一个问题没有答案)
  2  用法、输入或文档目录有误
"""


TELEGRAM_EPILOG = """示例:
  TELEGRAM_BOT_TOKEN='123456789:AA...' zhdocqa telegram
  zhdocqa telegram --corpus ~/docs --allow 12345,-100678
  zhdocqa telegram --webhook-url https://example.com/hook --port 8443

环境变量:
  TELEGRAM_BOT_TOKEN       机器人令牌(--token)
  TELEGRAM_BASE_URL        Bot API 服务器地址(--base-url)
  TELEGRAM_WEBHOOK_SECRET  webhook 密钥(--webhook-secret)
  TELEGRAM_ALLOWED_IDS     允许的聊天或用户 id(--allow)
  TELEGRAM_RATE_LIMIT      每人每分钟提问数(--rate-limit)
  ZHDOCQA_CORPUS、ZHDOCQA_K、ZHDOCQA_CONFIG、ZHDOCQA_CACHE_DIR  同 zhdocqa --help

退出码:
  0  收到 SIGINT 或 SIGTERM 后正常停止
  1  Telegram 拒绝了令牌,或无法连接服务器
  2  用法、设置或文档目录有误(例如没有令牌)
"""


def program_version() -> str:
    try:
        return version("zhdocqa")
    except PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action], groups: Any, prefix: str | None = None):
        return super().add_usage(usage, actions, groups, "用法: " if prefix is None else prefix)


# argparse's own error phrases, in the language of the rest of the program.
_ARGPARSE_MESSAGES = (
    ("the following arguments are required:", "缺少参数:"),
    ("unrecognized arguments:", "无法识别的参数:"),
    ("invalid choice:", "无效的选择:"),
    ("choose from", "可选"),
    ("invalid int value:", "不是整数:"),
    ("expected one argument", "需要一个值"),
    ("argument ", "参数 "),
)


class _Parser(argparse.ArgumentParser):
    """argparse with its headings and errors in Chinese, and usage errors exiting with 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", help="显示帮助后退出")

    def error(self, message: str) -> NoReturn:
        for english, chinese in _ARGPARSE_MESSAGES:
            message = message.replace(english, chinese)
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: 错误: {message}\n提示: 用 {self.prog} --help 查看用法。\n")


def _shared_options(with_filters: bool) -> argparse.ArgumentParser:
    """Flags accepted before or after the subcommand (defaults suppressed so either place counts)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("通用选项")
    s = argparse.SUPPRESS
    group.add_argument("--corpus", metavar="DIR", default=s, help=f"文档目录(默认: ${CORPUS_ENV},或内置的示例文章)")
    group.add_argument("--k", type=int, metavar="N", default=s, help=f"每次显示的段落数,1-{MAX_K}(默认 5)")
    group.add_argument("--follow-links", action="store_true", default=s, help="跟随指向文档目录之外的链接")
    group.add_argument(
        "--color",
        choices=[m.value for m in ColorMode],
        default=s,
        help="颜色: auto(终端且无 NO_COLOR 时)、always、never",
    )
    group.add_argument("-q", "--quiet", action="store_true", default=s, help="不显示警告、重建说明和进度条")
    group.add_argument("-v", "--verbose", action="store_true", default=s, help="显示更多信息(索引来源、日志)")
    if with_filters:
        narrow = common.add_argument_group("筛选(只在符合条件的文档中找答案)")
        narrow.add_argument("--source", action="append", metavar="NAME", default=s, help="来源包含此名称(可重复)")
        narrow.add_argument("--since", metavar="DATE", default=s, help="发布日期不早于: YYYY、YYYY-MM 或 YYYY-MM-DD")
        narrow.add_argument("--until", metavar="DATE", default=s, help="发布日期不晚于(含当天、当月或当年)")
        narrow.add_argument(
            "--doc", action="append", metavar="GLOB", default=s, help="文件路径匹配此模式,如 '*.md'(可重复)"
        )
        narrow.add_argument("--json", action="store_true", default=s, help="输出 JSON;批量时每行一个(JSON Lines)")
    # Answer from a collection pushed to OpenSearch (python -m retrieval push) instead of a folder.
    group.add_argument("--opensearch", metavar="URL", default=s, help="从 OpenSearch 集群检索(不能与 --corpus 同用)")
    group.add_argument("--opensearch-index", metavar="NAME", default=s, help="OpenSearch 中的别名(默认 zhdocqa)")
    group.add_argument(
        "--reload-interval",
        type=float,
        metavar="SECONDS",
        default=s,
        help=f"每隔多少秒检查文档目录的变化并更新索引(默认 {DEFAULT_INTERVAL_SECONDS:g};0 表示只在 SIGHUP 时检查)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    with_filters = _shared_options(True)
    plain = _shared_options(False)
    parser = _Parser(
        prog=PROG,
        description="用中文向一组文档提问,得到带出处(文件、行号)的答案。不写子命令时进入交互式问答。",
        epilog=EPILOG,
        parents=[with_filters],
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {program_version()}", help="显示版本后退出")
    # Typed loosely: argparse's stubs want the parents of a subcommand to be of the subcommand's class.
    commands: Any = parser.add_subparsers(
        dest="command", title="子命令", metavar="{ask,repl,index,info,telegram,eval}", parser_class=_Parser
    )
    ask = commands.add_parser(
        "ask", parents=[with_filters], help="回答一个问题后退出", description="回答一个问题后退出。", epilog=EPILOG
    )
    ask.add_argument("question", help="问题(中文)")
    repl = commands.add_parser(
        "repl",
        parents=[with_filters],
        help="交互式问答(默认);输入来自管道时逐行回答",
        description="交互式问答;标准输入不是终端时,逐行回答后退出。",
        epilog=EPILOG,
    )
    for command_parser in (parser, repl):
        command_parser.add_argument(
            "--conversation",
            action="store_true",
            default=argparse.SUPPRESS,
            help="管道输入时也把每行当作前面问题的追问(交互式时默认如此)",
        )
    index = commands.add_parser(
        "index",
        parents=[plain],
        help="预先建立文档目录的索引",
        description="建立(或刷新)文档目录的索引,存放在缓存目录。",
    )
    index.add_argument("folder", nargs="?", metavar="DIR", help="文档目录(默认: --corpus 或内置示例)")
    index.add_argument("--workers", type=int, metavar="N", help="分词进程数(默认: 大目录用全部核心)")
    index.add_argument("--force", action="store_true", help="即使文档未变也重建")
    info = commands.add_parser(
        "info",
        parents=[plain],
        help="版本、文档列表、索引和配置的位置",
        description="显示版本、文档、索引状态和配置位置。",
    )
    info.add_argument("folder", nargs="?", metavar="DIR", help="文档目录(默认: --corpus 或内置示例)")
    evaluate = commands.add_parser(
        "eval",
        parents=[plain],
        help="评测检索效果(需要 shared 数据)",
        description="输出示例问题集、另一领域的问题集和 CMRC/DRCD 的检索与回答指标。",
    )
    evaluate.add_argument("--shared", metavar="DIR", default="../shared", help="shared 目录(含 eval/ 和 data/)")
    evaluate.add_argument("--only", choices=("seeds", "benchmark", "domain"), help="只运行其中一项")
    evaluate.add_argument("--details", action="store_true", help="逐题列出示例问题和另一领域问题的结果")
    evaluate.add_argument(
        "--taiwan", action="store_true", help="示例问题和另一领域问题改用台湾用语与繁体提问(OpenCC s2twp)"
    )
    from bot import telegram_cli

    telegram_cli.add_parser(commands, plain)
    commands.choices["telegram"].epilog = TELEGRAM_EPILOG
    return parser


def _filter(args: argparse.Namespace) -> Filter | None:
    filters = Filter(
        sources=tuple(getattr(args, "source", ())),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        docs=tuple(getattr(args, "doc", ())),
    )
    return filters if filters.active else None


def make_console(color: ColorMode = ColorMode.AUTO, file: IO[str] | None = None) -> Console:
    """Colour on a terminal (auto) or always; no escape codes at all in a pipe, under NO_COLOR, or never."""
    stream = file or sys.stdout
    tty = stream.isatty()
    colored = color == ColorMode.ALWAYS or (color == ColorMode.AUTO and tty and "NO_COLOR" not in os.environ)
    if not tty:
        # A pipe or a file: no wrapping, and no padding spaces at the ends of lines.
        return Console(
            file=cast(IO[str], _TrailingSpaceStripper(stream)),
            color_system="truecolor" if colored else None,
            force_terminal=colored,
            width=PIPE_WIDTH,
            highlight=False,
            emoji=False,
        )
    if not colored:
        return Console(file=stream, color_system=None, highlight=False, emoji=False)
    return Console(file=stream, highlight=False, emoji=False)


class _TrailingSpaceStripper:
    """A text stream that drops the spaces rich pads lines with: pipes get clean lines."""

    def __init__(self, stream: IO[str]) -> None:
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


def _error(message: str) -> None:
    print(terminal_safe(f"错误: {message}"), file=sys.stderr)


def _configure_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _complete(parser)
    args = parser.parse_args(argv)
    if getattr(args, "corpus", None) and getattr(args, "opensearch", None):
        parser.error("--corpus 和 --opensearch 只能选一个")
    quiet, verbose = bool(getattr(args, "quiet", False)), bool(getattr(args, "verbose", False))
    _configure_logging(quiet, verbose)
    try:
        settings = resolve(vars(args), os.environ)
        filters = _filter(args)
    except (SettingsError, ParameterError) as error:
        _error(str(error))
        return ExitCode.USAGE
    command = args.command or "repl"
    reload_interval = getattr(args, "reload_interval", DEFAULT_INTERVAL_SECONDS)
    if reload_interval < 0:
        _error(f"--reload-interval 不能为负数,收到 {reload_interval:g}")
        return ExitCode.USAGE
    if command == "telegram":
        from bot import telegram_cli

        args.corpus, args.k, args.follow_links = settings.corpus, settings.k, settings.follow_links
        args.verbose = verbose
        args.opensearch = getattr(args, "opensearch", None)
        args.opensearch_index = getattr(args, "opensearch_index", "zhdocqa")
        args.reload_interval = reload_interval
        return telegram_cli.run(args)
    if command == "eval":
        return _evaluate(args)
    folder = getattr(args, "folder", None) or settings.corpus
    if command == "info":
        return _info(folder, settings)
    try:
        retriever = open_retriever(
            folder,
            follow_links=settings.follow_links,
            opensearch=getattr(args, "opensearch", None),
            opensearch_index=getattr(args, "opensearch_index", "zhdocqa"),
            progress=not quiet and sys.stderr.isatty(),
            on_rebuild=None if quiet else _say_rebuild,
            workers=getattr(args, "workers", None),
            rebuild=bool(getattr(args, "force", False)),
        )
    except CorpusError as error:
        hint = "(用 --corpus DIR 或环境变量 ZHDOCQA_CORPUS 指定文档目录)"
        print(terminal_safe(f"错误: {error}") + hint, file=sys.stderr)
        return ExitCode.USAGE
    except RetrievalError as error:
        _error(str(error))
        return ExitCode.USAGE
    if not quiet:
        report_files(retriever)
    if verbose:
        where = display_name(str(index_location(folder)))
        print(terminal_safe(f"索引: {retriever.index_status}({where})"), file=sys.stderr)
    if command == "index":
        print(f"索引就绪: {len(retriever.documents)} 篇文档, {len(retriever)} 个段落。")
        return ExitCode.ANSWERED
    as_json = bool(getattr(args, "json", False))
    if command == "ask":
        return ask_once(retriever, args.question, settings.k, as_json, filters, settings.color)
    if is_interactive() and not as_json:
        session = Session(retriever, make_console(settings.color), k=settings.k, filters=filters)
        # Follow-ups in the REPL by default; a piped batch treats each line alone unless asked.
        session.conversation = retriever.conversation(filters)
        session.reloader = watch(retriever, reload_interval, session.notice_changes)
        try:
            return run_interactive(session, history_file())
        finally:
            session.reloader.stop()
    # A byte that is not UTF-8 in a piped line must not end the batch.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    if as_json:
        return run_json_lines(retriever, sys.stdin, settings.k, filters)
    session = Session(retriever, make_console(settings.color), k=settings.k, filters=filters)
    if getattr(args, "conversation", False):
        session.conversation = retriever.conversation(filters)
    return run_batch(session, sys.stdin)


def _complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion when the optional argcomplete is installed (pip install 'zhdocqa[completion]')."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def _say_rebuild(rebuild: Rebuild) -> None:
    """One line on stderr saying why the index is being built, before the wait."""
    if rebuild.status == IndexStatus.REBUILT_CHANGED and rebuild.changed:
        more = f" 等 {len(rebuild.changed)} 个文件" if len(rebuild.changed) > 3 else ""
        shown = "、".join(rebuild.changed[:3]) + more
        message = f"{shown} 有变化,正在重建索引…"
    elif rebuild.status == IndexStatus.REBUILT_ANALYZER:
        message = "程序已更新,正在重建索引…"
    elif rebuild.status == IndexStatus.REBUILT_DAMAGED:
        message = "保存的索引不可用,正在重建…"
    elif rebuild.status == IndexStatus.REBUILT_CHANGED:
        message = "文档有变化,正在重建索引…"
    elif sys.stderr.isatty():
        message = "首次使用这个目录,正在建立索引…"
    else:
        return
    print(terminal_safe(message, keep_newlines=False), file=sys.stderr)


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


SOURCES_HINT = "zhdocqa info"


def ask_once(
    retriever: Retriever,
    question: str,
    k: int,
    as_json: bool,
    filters: Filter | None = None,
    color: ColorMode = ColorMode.AUTO,
) -> int:
    try:
        answer = retriever.ask(question, k=k, filters=filters)
    except (QuestionError, BackendError, ParameterError) as error:  # BackendError: a cluster (--opensearch) failed
        if as_json:
            print(json.dumps(render.error_json(question, str(error)), ensure_ascii=False, indent=2))
        _error(str(error))
        return ExitCode.USAGE
    if as_json:
        print(json.dumps(render.answer_json(answer), ensure_ascii=False, indent=2))
    else:
        make_console(color).print(render.rich_answer(answer, sources_hint=SOURCES_HINT))
    return ExitCode.NO_ANSWER if answer.abstained else ExitCode.ANSWERED


def run_json_lines(retriever: Retriever, lines: Iterable[str], k: int, filters: Filter | None) -> int:
    """One JSON object per non-empty input line, flushed as each is answered; exit code as for a batch."""
    outcomes: list[int] = []
    for line in lines:
        question = clean_input(line)
        if not question:
            continue
        try:
            answer = retriever.ask(question, k=k, filters=filters)
            document = render.answer_json(answer)
            outcomes.append(ExitCode.NO_ANSWER if answer.abstained else ExitCode.ANSWERED)
        except RetrievalError as error:
            document = render.error_json(question, str(error))
            outcomes.append(ExitCode.USAGE)
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return max(outcomes, default=ExitCode.ANSWERED)


def _info(folder: str | None, settings: Settings) -> int:
    from retrieval import store
    from retrieval.cache import cached_analyzer
    from retrieval.errors import IndexVersionError
    from retrieval.seeds import seeds_folder

    path = Path(folder).expanduser() if folder else seeds_folder()
    location = index_location(folder)
    config = config_path(os.environ)
    print(f"{PROG} {program_version()}")
    print(terminal_safe(f"文档目录: {display_name(str(path))}" + ("" if folder else "(内置示例)")))
    print(terminal_safe(f"配置文件: {display_name(str(config))}" + ("" if config.is_file() else "(不存在,使用默认值)")))
    print(terminal_safe(f"索引位置: {display_name(str(location))}"))
    try:
        loaded = store.load(location, cached_analyzer(cache_root(os.environ)))
    except IndexVersionError:
        print("索引状态: 由另一版本的程序建立,下次使用时重建(或运行 zhdocqa index)")
        return ExitCode.ANSWERED
    except (RetrievalError, OSError):
        print("索引状态: 还没有建立(第一次提问时建立,或运行 zhdocqa index)")
        return ExitCode.ANSWERED
    changed = store.changed_files(loaded, path, settings.follow_links) if path.is_dir() else ("(目录不存在)",)
    state = "最新" if not changed else f"需要重建({'、'.join(changed[:3])} 有变化)"
    print(terminal_safe(f"索引状态: {state}"))
    counts = loaded.collection.passage_counts()
    print(f"文档: {sum(1 for c in counts if c)} 篇, 段落: {len(loaded.collection)} 个")
    number = 0
    for record, count in zip(loaded.collection.records, counts):
        if count:
            number += 1
            line = render.document_line(record) + f" · {record.doc_id} · {int(count)} 段"
            print(terminal_safe(f"{number}. {line}", keep_newlines=False))
    return ExitCode.ANSWERED


def _evaluate(args: argparse.Namespace) -> int:
    from retrieval import evaluate

    argv = ["--shared", args.shared]
    if args.only:
        argv += ["--only", args.only]
    if getattr(args, "k", None):
        argv += ["--k", str(args.k)]
    if args.details:
        argv.append("--verbose")
    if args.taiwan:
        argv.append("--taiwan")
    return evaluate.main(argv)


def entry(main_function: Callable[[], int] = main) -> int:
    """The process entry point: Ctrl-C outside the REPL ends quietly with 130."""
    try:
        return main_function()
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
