"""`python -m bot telegram`: settings from flags and the environment, then run the bot.

    TELEGRAM_BOT_TOKEN=... python -m bot telegram [--corpus DIR]
    python -m bot telegram --token ... --base-url http://127.0.0.1:8081
    python -m bot telegram --webhook-url https://example.com/hook --port 8443
    python -m bot telegram --metrics-port 9108     /healthz and /metrics for monitoring
    python -m bot telegram --opensearch URL        answer from a collection pushed to OpenSearch
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bot.telegram_settings import DEFAULT_QUESTIONS_PER_MINUTE
from retrieval import RetrievalError


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("telegram", parents=[common], help="运行 Telegram 机器人")
    parser.add_argument("--token", help="机器人令牌(默认读取环境变量 TELEGRAM_BOT_TOKEN)")
    parser.add_argument("--base-url", help="Bot API 服务器地址(默认 https://api.telegram.org;也可用 TELEGRAM_BASE_URL)")
    parser.add_argument("--webhook-url", help="以 webhook 方式运行:Telegram 推送更新的公开地址")
    parser.add_argument("--port", type=int, default=8443, help="webhook 监听端口(默认 8443)")
    parser.add_argument("--listen", default="0.0.0.0", help="webhook 监听地址(默认 0.0.0.0)")
    parser.add_argument(
        "--webhook-secret", help="webhook 密钥:Telegram 在每个请求头中带上它(也可用 TELEGRAM_WEBHOOK_SECRET)"
    )
    parser.add_argument(
        "--allow", help="只为这些聊天或用户 id 服务,逗号分隔(也可用 TELEGRAM_ALLOWED_IDS);默认不限"
    )
    # -v/--verbose (full tracebacks in the log) comes with the shared options.
    parser.add_argument(
        "--rate-limit",
        type=int,
        help=f"每个用户每分钟最多提问数(默认 {DEFAULT_QUESTIONS_PER_MINUTE};也可用 TELEGRAM_RATE_LIMIT)",
    )
    parser.add_argument("--log-questions", action="store_true", help="在日志中记录问题原文(默认不记录)")
    parser.add_argument("--metrics-port", type=int, help="在此端口提供 /healthz 和 /metrics(Prometheus 格式);默认不开")
    parser.add_argument("--metrics-listen", default="127.0.0.1", help="/metrics 的监听地址(默认 127.0.0.1)")
    parser.add_argument(
        "--state",
        help="保存各聊天的设置、筛选条件、对话和按钮的 SQLite 文件(默认在用户数据目录;也可用 TELEGRAM_STATE_FILE)",
    )
    parser.add_argument("--no-state", action="store_true", help="不保存状态:重启后设置、筛选条件和按钮都会失效")


class RedactingFormatter(logging.Formatter):
    """Formats log records with every occurrence of the secret replaced: no token in any log line.

    Exceptions are summed up in one line ("NetworkError: ...") unless `tracebacks`.
    """

    def __init__(self, secret: str, fmt: str, tracebacks: bool = False) -> None:
        super().__init__(fmt)
        self._secret = secret
        self._tracebacks = tracebacks

    def formatException(self, exc_info) -> str:
        if self._tracebacks:
            return super().formatException(exc_info)
        error = exc_info[1]
        return f"  ({type(error).__name__}: {error})"

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # formatted anew by this formatter, never by another's cache
        text = super().format(record)
        return text.replace(self._secret, "[TOKEN]") if self._secret else text


def configure_logging(token: str, tracebacks: bool = False) -> None:
    """Log lines to stderr, the token redacted; httpx (which logs request URLs) kept quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(token, "%(asctime)s %(levelname)s %(name)s: %(message)s", tracebacks=tracebacks)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def parse_ids(text: str | None) -> frozenset[int] | None:
    if not text:
        return None
    ids = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if part:
            ids.add(int(part))
    return frozenset(ids)


def run(args: argparse.Namespace) -> int:
    # python-telegram-bot is imported here, not at the top: the terminal commands never pay for it.
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from bot.opening import open_retriever, telegram_state_file
    from bot.reloading import watch
    from bot.telegram_bot import ALLOWED_UPDATES, build_application
    from bot.telegram_settings import BotSettings

    token = (args.token or os.environ.get("TELEGRAM_BOT_TOKEN") or "").strip()
    if not token:
        print(
            "错误: 没有机器人令牌。请设置环境变量 TELEGRAM_BOT_TOKEN,或用 --token 指定(向 @BotFather 申请)。",
            file=sys.stderr,
        )
        return 2
    configure_logging(token, tracebacks=args.verbose)
    try:
        allowed = parse_ids(args.allow or os.environ.get("TELEGRAM_ALLOWED_IDS"))
        rate = args.rate_limit or int(os.environ.get("TELEGRAM_RATE_LIMIT") or DEFAULT_QUESTIONS_PER_MINUTE)
    except ValueError:
        print("错误: --allow / TELEGRAM_ALLOWED_IDS 应为逗号分隔的整数 id,--rate-limit 应为整数。", file=sys.stderr)
        return 2
    if rate < 1:
        print("错误: --rate-limit 至少为 1。", file=sys.stderr)
        return 2
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        print(f"错误: --metrics-port 应为 0 到 65535 之间的端口号,收到 {args.metrics_port}。", file=sys.stderr)
        return 2
    try:
        retriever = open_retriever(args.corpus, opensearch=args.opensearch, opensearch_index=args.opensearch_index)
    except RetrievalError as error:
        print(f"错误: {error}", file=sys.stderr)
        return 2
    state_file = Path(args.state or os.environ.get("TELEGRAM_STATE_FILE") or telegram_state_file()).expanduser()
    settings = BotSettings(
        k=args.k,
        allowed_ids=allowed,
        questions_per_minute=rate,
        log_questions=args.log_questions,
        metrics_port=args.metrics_port,
        metrics_listen=args.metrics_listen,
        state_path=None if args.no_state else state_file,
    )
    base_url = args.base_url or os.environ.get("TELEGRAM_BASE_URL")
    try:
        application = build_application(token, retriever, settings, base_url=base_url)
    except OSError as error:  # the state file cannot be opened
        print(f"错误: {error}", file=sys.stderr)
        return 2
    reloader = watch(retriever, args.reload_interval)  # new documents are answered from without a restart
    try:
        if args.webhook_url:
            path = urlsplit(args.webhook_url).path.strip("/") or "telegram"
            application.run_webhook(
                listen=args.listen,
                port=args.port,
                url_path=path,
                webhook_url=args.webhook_url,
                secret_token=args.webhook_secret or os.environ.get("TELEGRAM_WEBHOOK_SECRET") or None,
                allowed_updates=list(ALLOWED_UPDATES),
                close_loop=False,
            )
        else:
            application.run_polling(allowed_updates=list(ALLOWED_UPDATES), close_loop=False)
    except InvalidToken:
        print(
            "错误: Telegram 拒绝了这个令牌。请检查 TELEGRAM_BOT_TOKEN 或 --token(可向 @BotFather 重新获取)。",
            file=sys.stderr,
        )
        return 1
    except NetworkError as error:
        print(f"错误: 无法连接 Telegram ({_redact(str(error), token)})。请检查网络或 --base-url。", file=sys.stderr)
        return 1
    except TelegramError as error:
        print(f"错误: Telegram 返回错误: {_redact(str(error), token)}", file=sys.stderr)
        return 1
    except (TypeError, KeyError, ValueError) as error:
        # At start-up these come from a reply python-telegram-bot cannot read (getMe without `is_bot`, ...):
        # the server is not a Bot API server, or not a compatible one.
        if args.verbose:
            logging.getLogger(__name__).error("start-up failed", exc_info=error)
        print(
            f"错误: Telegram 服务器的回复无法识别({type(error).__name__}: {_redact(str(error), token)})。"
            "请检查 --base-url 是否指向 Bot API 服务器;--verbose 可查看详情。",
            file=sys.stderr,
        )
        return 1
    finally:
        reloader.stop()
    return 0


def _redact(text: str, token: str) -> str:
    return text.replace(token, "[TOKEN]")
