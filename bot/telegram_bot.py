"""The Telegram bot: handlers that parse a message, ask the retrieval core, and reply.

Run it with `python -m bot telegram` (see bot/telegram_cli.py and the README).
The handlers hold no retrieval logic: they call `Retriever.ask`, `search` and
`context` off the event loop and render through bot/render.py.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot import render
from retrieval import Answer, Hit, QuestionError, Retriever

log = logging.getLogger(__name__)

EXAMPLES = (
    "阿里巴巴花了多少钱入股新浪微博?",
    "腾讯模仿泡泡堂做了哪个游戏?",
    "微博和淘宝电影合作预售,4天卖了多少张票?",
)
COMMANDS = (
    ("ask", "提问(群组里用 /ask 问题)"),
    ("sources", "查看文档列表"),
    ("source", "查看某篇文档: /source 编号"),
    ("help", "使用说明和示例问题"),
    ("start", "开始使用"),
)
START_DOCUMENTS = 10
NOT_ALLOWED = "抱歉,这个机器人只为授权的用户和群组服务。"
STALE_BUTTON = "这个按钮已经过期(机器人重启过或回答太久以前),请重新提问。"
APOLOGY = "抱歉,处理你的消息时出错了,请稍后再试。"
TEXT_ONLY = "我只能回答文字问题:请用中文打字提问,例如「{example}」。"


@dataclass(frozen=True)
class BotSettings:
    """What the bot needs besides the retriever: read from flags and environment at the edge."""

    k: int = 5
    allowed_ids: frozenset[int] | None = None  # chat or user ids; None lets everyone in
    questions_per_minute: int = 20
    remembered_answers: int = 2000  # answers whose buttons still work
    network_retries: int = 4
    retry_backoff_seconds: float = 0.5


class RetryingRateLimiter(AIORateLimiter):
    """Telegram's flood limits for messages (AIORateLimiter: at most 30 a second, 20 a
    minute in a group, and a wait and retry on RetryAfter), plus retries with
    exponential backoff when a request fails on the network or with a 5xx.

    getUpdates is left to the updater, which has its own retry loop.
    """

    def __init__(self, network_retries: int, backoff_seconds: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self._network_retries = network_retries
        self._backoff = backoff_seconds

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint == "getUpdates":
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        # Flood limits count messages; a typing indicator or a button acknowledgement is not one.
        limited = endpoint.startswith(("send", "edit", "copy", "forward")) and endpoint != "sendChatAction"
        for attempt in range(self._network_retries + 1):
            try:
                if not limited:
                    return await callback(*args, **kwargs)
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except RetryAfter as error:
                if limited or attempt == self._network_retries:
                    raise  # the limiter already waited and retried
                await asyncio.sleep(_seconds(error.retry_after) + 0.1)
            except BadRequest:
                raise
            except NetworkError as error:
                if attempt == self._network_retries:
                    raise
                delay = self._backoff * 2**attempt
                log.warning("%s failed (%s); retrying in %.1f s", endpoint, error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def _seconds(value) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


@dataclass
class ShownAnswer:
    """An answer whose buttons may still be pressed."""

    question: str
    hits: list[Hit]  # every passage shown so far for this question, numbered from 1


class AnswerMemory:
    """Short ids for answers, so buttons carry a few bytes and never the question."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._answers: OrderedDict[str, ShownAnswer] = OrderedDict()

    def remember(self, shown: ShownAnswer) -> str:
        key = secrets.token_urlsafe(6)  # 8 characters
        self._answers[key] = shown
        while len(self._answers) > self._capacity:
            self._answers.popitem(last=False)
        return key

    def get(self, key: str) -> ShownAnswer | None:
        shown = self._answers.get(key)
        if shown is not None:
            self._answers.move_to_end(key)
        return shown


@dataclass
class QuestionLimiter:
    """At most `per_minute` questions a user in any sliding minute."""

    per_minute: int
    _times: dict[int, deque] = field(default_factory=dict)

    def allow(self, user_id: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        times = self._times.setdefault(user_id, deque())
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        return True


class TelegramBot:
    """The handlers, bound to one retriever and its settings."""

    def __init__(self, retriever: Retriever, settings: BotSettings) -> None:
        self.retriever = retriever
        self.settings = settings
        self.memory = AnswerMemory(settings.remembered_answers)
        self.limiter = QuestionLimiter(settings.questions_per_minute)

    # -- wiring ----------------------------------------------------------------

    def install(self, application: Application) -> None:
        application.add_handler(CommandHandler(["start", "help"], self.start), group=0)
        application.add_handler(CommandHandler("sources", self.sources))
        application.add_handler(CommandHandler("source", self.source))
        application.add_handler(CommandHandler("ask", self.ask_command))
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.text))
        application.add_handler(MessageHandler(~filters.TEXT & ~filters.StatusUpdate.ALL, self.not_text))
        application.add_error_handler(self.error)

    async def post_init(self, application: Application) -> None:
        """Register the commands with their Chinese descriptions."""
        await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])

    # -- gates -------------------------------------------------------------------

    def _allowed(self, update: Update) -> bool:
        allowed = self.settings.allowed_ids
        if allowed is None:
            return True
        chat = update.effective_chat.id if update.effective_chat else None
        user = update.effective_user.id if update.effective_user else None
        return chat in allowed or user in allowed

    async def _refuse_if_not_allowed(self, update: Update) -> bool:
        if self._allowed(update):
            return False
        if update.callback_query:
            await update.callback_query.answer(NOT_ALLOWED, show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_text(NOT_ALLOWED)
        return True

    # -- handlers ------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help: what the bot knows, example questions, the commands."""
        if await self._refuse_if_not_allowed(update):
            return
        documents = self.retriever.documents
        listed = [f"{d.number}. {html.escape(render.document_line(d))}" for d in documents[:START_DOCUMENTS]]
        if len(documents) > START_DOCUMENTS:
            listed.append(f"…共 {len(documents)} 篇,/sources 查看全部")
        lines = [
            f"我可以回答关于这 {len(documents)} 篇文档的问题,每个回答都附出处(标题 · 来源 · 日期 · 段落)。",
            "",
            *listed,
            "",
            "<b>试试这些问题:</b>",
            *(f"• {html.escape(q)}" for q in EXAMPLES),
            "",
            "<b>命令:</b>",
            *(f"/{name} — {html.escape(text)}" for name, text in COMMANDS),
            "",
            "私聊时直接发问题即可;在群组里请用 /ask 问题、@我,或回复我的消息。",
        ]
        await update.effective_message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: the documents, numbered."""
        if await self._refuse_if_not_allowed(update):
            return
        lines = ["<b>文档列表</b>(/source 编号 查看详情)"]
        for document in self.retriever.documents:
            lines.append(f"{document.number}. {html.escape(render.document_line(document))}")
        await _send_long(update.effective_message, "\n".join(lines))

    async def source(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/source N: one document's details."""
        if await self._refuse_if_not_allowed(update):
            return
        documents = self.retriever.documents
        argument = context.args[0] if context.args else ""
        if not argument.isdigit() or not 1 <= int(argument) <= len(documents):
            await update.effective_message.reply_text(f"用法: /source 编号,编号为 1 到 {len(documents)}。先用 /sources 查看列表。")
            return
        await update.effective_message.reply_text(
            render.html_document(documents[int(argument) - 1]), parse_mode=ParseMode.HTML, disable_web_page_preview=True
        )

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ask 问题: a question, in any chat."""
        question = " ".join(context.args or [])
        if not question.strip():
            if not await self._refuse_if_not_allowed(update):
                await update.effective_message.reply_text("用法: /ask 问题,例如 /ask " + EXAMPLES[0])
            return
        await self._answer(update, context, question)

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: a question in a private chat; in groups only when meant for the bot."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        if message.chat.type == ChatType.PRIVATE:
            await self._answer(update, context, message.text)
            return
        username = context.bot.username
        mentioned = any(
            entity.type == MessageEntityType.MENTION
            and message.parse_entity(entity).lower() == f"@{username}".lower()
            for entity in message.entities
        )
        replied = bool(message.reply_to_message and message.reply_to_message.from_user
                       and message.reply_to_message.from_user.id == context.bot.id)
        if mentioned or replied:
            await self._answer(update, context, strip_mention(message.text, username))

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice...: say that the bot answers text."""
        message = update.effective_message
        if message is None or (message.chat.type != ChatType.PRIVATE):
            return
        if await self._refuse_if_not_allowed(update):
            return
        await message.reply_text(TEXT_ONLY.format(example=EXAMPLES[0]))

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """更多 and 全文 buttons."""
        query = update.callback_query
        if await self._refuse_if_not_allowed(update):
            return
        kind, _, rest = (query.data or "").partition(":")
        key, _, number = rest.partition(":")
        shown = self.memory.get(key)
        if shown is None or kind not in ("m", "f"):
            await query.answer(STALE_BUTTON, show_alert=True)
            await query.message.reply_text(STALE_BUTTON)
            return
        await query.answer()
        if kind == "m":
            await self._more(query.message, key, shown)
        elif number.isdigit() and 1 <= int(number) <= len(shown.hits):
            context_ = await asyncio.to_thread(self.retriever.context, shown.hits[int(number) - 1])
            await query.message.reply_text(render.html_context(context_), parse_mode=ParseMode.HTML)
        else:
            await query.message.reply_text(STALE_BUTTON)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure; tell the person, briefly, rather than leave them in silence."""
        log.error("handling an update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            try:
                await update.effective_message.reply_text(APOLOGY)
            except TelegramError as error:
                log.error("could not send the apology either: %s", error)

    # -- answering ------------------------------------------------------------------

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
        if await self._refuse_if_not_allowed(update):
            return
        message = update.effective_message
        user = update.effective_user.id if update.effective_user else message.chat.id
        if not self.limiter.allow(user):
            await message.reply_text(
                f"提问太快了:每分钟最多 {self.settings.questions_per_minute} 个问题,请稍等一会儿再问。"
            )
            return
        await context.bot.send_chat_action(message.chat.id, ChatAction.TYPING)
        try:
            answer: Answer = await asyncio.to_thread(self.retriever.ask, question, self.settings.k)
        except QuestionError as error:
            await message.reply_text(str(error))
            return
        if answer.abstained:
            await message.reply_text(render.html_answer(answer), parse_mode=ParseMode.HTML)
            return
        shown = ShownAnswer(answer.question, list(answer.hits))
        key = self.memory.remember(shown)
        await message.reply_text(
            render.html_answer(answer), parse_mode=ParseMode.HTML, reply_markup=_buttons(key, 1, len(answer.hits))
        )

    async def _more(self, message: Message, key: str, shown: ShownAnswer) -> None:
        k = self.settings.k
        hits = await asyncio.to_thread(self.retriever.search, shown.question, len(shown.hits) + k)
        new = hits[len(shown.hits) :]
        if not new:
            await message.reply_text("没有更多相关段落了。")
            return
        first = len(shown.hits) + 1
        shown.hits.extend(new)
        answer = Answer(shown.question, tuple(new), False, None, None)
        await message.reply_text(
            render.html_answer(answer, hits=new, first_number=first),
            parse_mode=ParseMode.HTML,
            reply_markup=_buttons(key, first, len(new)),
        )


def _buttons(key: str, first: int, count: int) -> InlineKeyboardMarkup:
    """更多, and a 全文 button per passage shown; callback data stays far under 64 bytes."""
    full = [InlineKeyboardButton(f"全文 {n}", callback_data=f"f:{key}:{n}") for n in range(first, first + count)]
    rows = [full[i : i + 5] for i in range(0, len(full), 5)]
    rows.append([InlineKeyboardButton("更多", callback_data=f"m:{key}")])
    return InlineKeyboardMarkup(rows)


def strip_mention(text: str, username: str | None) -> str:
    """The question without "@botname"."""
    if not username:
        return text.strip()
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


async def _send_long(message: Message, text: str) -> None:
    """Send HTML text in as many messages as Telegram's 4,096-character limit needs."""
    chunk: list[str] = []
    size = 0
    for line in text.split("\n"):
        if size + len(line) + 1 > render.TELEGRAM_LIMIT and chunk:
            await message.reply_text("\n".join(chunk), parse_mode=ParseMode.HTML)
            chunk, size = [], 0
        chunk.append(line[: render.TELEGRAM_LIMIT])
        size += len(line) + 1
    if chunk:
        await message.reply_text("\n".join(chunk), parse_mode=ParseMode.HTML)


def build_application(
    token: str, retriever: Retriever, settings: BotSettings, base_url: str | None = None, **builder_options
) -> Application:
    """The Application, wired with the handlers, flood-limit and retry handling, and concurrency."""
    telegram_bot = TelegramBot(retriever, settings)
    builder: ApplicationBuilder = (
        Application.builder()
        .token(token)
        .concurrent_updates(True)
        # Quote the question in every reply: with many questions in flight, each answer says which it answers.
        .defaults(Defaults(do_quote=True))
        .rate_limiter(RetryingRateLimiter(settings.network_retries, settings.retry_backoff_seconds, max_retries=5))
        .post_init(telegram_bot.post_init)
    )
    if base_url:
        builder = builder.base_url(base_url.rstrip("/") + "/bot").base_file_url(base_url.rstrip("/") + "/file/bot")
    for name, value in builder_options.items():
        builder = getattr(builder, name)(value)
    application = builder.build()
    telegram_bot.install(application)
    application.bot_data["telegram_bot"] = telegram_bot
    return application
