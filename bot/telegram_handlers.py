"""The Telegram handlers: parse a message, ask the retrieval core off the event loop, reply with rendered text.

They hold no retrieval logic and build no HTML (bot/render.py does); how requests reach
Telegram (flood limits, retries) is bot/telegram_transport.py's business, and which update
runs next is bot/telegram_scheduler.py's.
"""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot import render
from bot.telegram_limiter import QuestionLimiter, Verdict
from bot.telegram_memory import AnswerMemory, AnswerMessages, ShownAnswer
from bot.telegram_metrics import Metrics, MetricsServer, Outcome
from bot.telegram_settings import BotSettings
from bot.telegram_transport import UncertainDelivery, error_kind
from retrieval import Answer, QuestionError, Retriever
from retrieval import Outcome as AnswerOutcome

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
# How a question ended, by what the answer said.
_OUTCOMES = {
    AnswerOutcome.ANSWERED: Outcome.ANSWERED,
    AnswerOutcome.UNSURE: Outcome.UNSURE,
    AnswerOutcome.NO_ANSWER: Outcome.NO_ANSWER,
}
NEW_MESSAGE = filters.UpdateType.MESSAGE
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


class TelegramBot:
    """The handlers, bound to one retriever, its settings and the process's metrics."""

    def __init__(self, retriever: Retriever, settings: BotSettings, metrics: Metrics) -> None:
        self.retriever = retriever
        self.settings = settings
        self.metrics = metrics
        self.memory = AnswerMemory(settings.remembered_answers)
        self.answer_messages = AnswerMessages(settings.remembered_answers)
        self.limiter = QuestionLimiter(settings.questions_per_minute)
        self.metrics_server: MetricsServer | None = None
        self._typing_in_flight = 0

    # -- wiring ----------------------------------------------------------------

    def install(self, application: Application) -> None:
        # Only new messages: channel posts never reach a handler, edits go to `edited`.
        application.add_handler(CommandHandler(["start", "help"], self.start, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("sources", self.sources, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("source", self.source, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("ask", self.ask_command, filters=NEW_MESSAGE))
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_handler(MessageHandler(NEW_MESSAGE & filters.COMMAND, self.unknown_command))
        application.add_handler(MessageHandler(NEW_MESSAGE & filters.TEXT, self.text))
        application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT, self.edited))
        application.add_handler(MessageHandler(NEW_MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.not_text))
        application.add_error_handler(self.error)

    async def post_init(self, application: Application) -> None:
        """Register the commands (best effort: the bot works without them) and start /metrics."""
        try:
            await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
        except TelegramError as error:
            log.warning("could not register the command list with Telegram (%s); the bot works without it", error)
        if self.settings.metrics_port is not None:
            self.metrics_server = MetricsServer(
                self.metrics, self.settings.metrics_listen, self.settings.metrics_port, lambda: application.running
            )
            await self.metrics_server.start()

    async def post_shutdown(self, application: Application) -> None:
        if self.metrics_server is not None:
            await self.metrics_server.stop()

    # -- gates -------------------------------------------------------------------

    def _allowed(self, update: Update) -> bool:
        allowed = self.settings.allowed_ids
        if allowed is None:
            return True
        chat = update.effective_chat.id if update.effective_chat else None
        user = update.effective_user.id if update.effective_user else None
        return chat in allowed or user in allowed

    async def _refused(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Refuse someone not on the allow list; a group is told once, then left."""
        if self._allowed(update):
            return False
        if update.callback_query:
            await update.callback_query.answer(render.NOT_ALLOWED, show_alert=True)
            return True
        message = update.effective_message
        if message is not None:
            await _reply(message, render.NOT_ALLOWED)
            if message.chat.type in GROUPS:
                await context.bot.leave_chat(message.chat_id)
                log.info("left chat %d: not on the allow list", message.chat_id)
        return True

    # -- commands ------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help: what the bot knows, example questions, the commands."""
        if await self._refused(update, context):
            return
        text = render.html_start(self.retriever.documents, EXAMPLES, COMMANDS)
        await _reply(_message_of(update), text, html=True)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: the documents, numbered, a page at a time."""
        if await self._refused(update, context):
            return
        documents = self.retriever.documents
        await _reply(
            _message_of(update),
            render.html_sources_page(documents, 1),
            html=True,
            reply_markup=_page_buttons(1, render.sources_pages(len(documents))),
        )

    async def source(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/source N: one document's details."""
        if await self._refused(update, context):
            return
        documents = self.retriever.documents
        argument = context.args[0] if context.args else ""
        if not argument.isdigit() or not 1 <= int(argument) <= len(documents):
            await _reply(_message_of(update), render.telegram_source_usage(len(documents)))
            return
        await _reply(_message_of(update), render.html_document(documents[int(argument) - 1]), html=True)

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ask 问题: a question, in any chat."""
        await self._answer(update, context, " ".join(context.args or []))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/foo: a one-line hint, when the command is meant for this bot."""
        message = _message_of(update)
        command, _, target = (message.text or "").split()[0].partition("@")
        if target and target.lower() != (context.bot.username or "").lower():
            return  # another bot's command
        if not target and message.chat.type != ChatType.PRIVATE:
            return  # in a group, a bare /foo may be for another bot
        if await self._refused(update, context):
            return
        await _reply(message, render.telegram_unknown_command(command, COMMANDS))

    # -- questions -------------------------------------------------------------------

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: a question in a private chat; in groups only when meant for the bot."""
        question = question_in(_message_of(update), context.bot.username, context.bot.id)
        if question is not None:
            await self._answer(update, context, question)

    async def edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edited question: its earlier answer is edited to answer the new wording."""
        message = _message_of(update)
        question = question_in(message, context.bot.username, context.bot.id, commands=True)
        if question is not None:
            await self._answer(update, context, question)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice...: say that the bot answers text (in private chats)."""
        message = _message_of(update)
        if message.chat.type != ChatType.PRIVATE or await self._refused(update, context):
            return
        await _reply(message, render.telegram_text_only(EXAMPLES[0]))

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
        """Answer a question, then log one line and count it, however it ended."""
        outcome = Outcome.FAILED
        try:
            outcome = await self._reply_to_question(update, context, question)
        except UncertainDelivery as error:
            outcome = Outcome.UNCERTAIN
            log.warning("chat %s update %d: %s", _chat(update), update.update_id, error)
        except Forbidden as error:
            outcome = Outcome.BLOCKED
            log.warning("chat %s update %d: not answered, %s", _chat(update), update.update_id, error)
        finally:
            latency = self.metrics.finished(update.update_id, outcome)
            text = f" question={question!r}" if self.settings.log_questions else ""
            log.info(
                "question chat=%s update=%d outcome=%s latency=%.3fs%s",
                _chat(update), update.update_id, outcome, latency, text,
            )

    async def _reply_to_question(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> Outcome:
        if await self._refused(update, context):
            return Outcome.REFUSED
        message = _message_of(update)
        user = update.effective_user.id if update.effective_user else message.chat_id
        verdict = self.limiter.check(user)
        if verdict is not Verdict.ALLOW:
            if verdict is Verdict.WARN:
                await _reply(message, render.telegram_too_fast(self.settings.questions_per_minute))
            return Outcome.TOO_FAST
        if not question.strip():
            await self._send_or_update(update, render.telegram_ask_usage(EXAMPLES[0], context.bot.username))
            return Outcome.INVALID
        if self._typing_in_flight < self.settings.workers:  # a slow server must not pile them up
            self._typing_in_flight += 1
            context.application.create_task(self._typing(context, message.chat_id), update=None)
        try:
            answer, more = await asyncio.to_thread(self._ask, question)
        except QuestionError as error:
            await self._send_or_update(update, str(error))
            return Outcome.INVALID
        markup = None
        if answer.outcome != AnswerOutcome.NO_ANSWER and answer.hits:
            # Unsure answers show their passages too: 全文/更多 work on them as on an answer.
            key = self.memory.remember(ShownAnswer(answer.question, list(answer.hits)))
            markup = _answer_buttons(key, 1, len(answer.hits), more)
        updated = await self._send_or_update(update, render.html_answer(answer), html=True, reply_markup=markup)
        if updated:
            return Outcome.UPDATED
        return _OUTCOMES[answer.outcome or AnswerOutcome.NO_ANSWER]

    async def _typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        """The typing indicator: best effort, sent once, never holding up the answer."""
        try:
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as error:
            log.debug("typing indicator for chat %d not shown: %s", chat_id, error)
        finally:
            self._typing_in_flight -= 1

    def _ask(self, question: str) -> tuple[Answer, bool]:
        """The answer, and whether 更多 would find more passages (runs in a worker thread)."""
        k = self.settings.k
        answer = self.retriever.ask(question, k)
        more = len(answer.hits) == k and len(self.retriever.search(question, k + 1)) > k
        return answer, more

    async def _send_or_update(
        self, update: Update, text: str, html: bool = False, reply_markup: InlineKeyboardMarkup | None = None
    ) -> bool:
        """Reply to the question; for an edited question whose reply is known, edit that reply instead.
        Returns whether it edited."""
        message = _message_of(update)
        earlier = self.answer_messages.get(message.chat_id, message.message_id) if update.edited_message else None
        if earlier is not None:
            try:
                await message.get_bot().edit_message_text(
                    text, chat_id=message.chat_id, message_id=earlier,
                    parse_mode=ParseMode.HTML if html else None, reply_markup=reply_markup,
                )
            except BadRequest as error:
                if "not modified" not in error.message.lower():
                    raise
            return True
        sent = await _reply(message, text, html=html, reply_markup=reply_markup)
        self.answer_messages.remember(message.chat_id, message.message_id, sent.message_id)
        return False

    # -- buttons ----------------------------------------------------------------------

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """更多, 全文 and the /sources page buttons."""
        query = _query_of(update)
        if await self._refused(update, context):
            return
        if query.message is None:  # a message too old for Telegram to say which
            await query.answer(render.STALE_BUTTON, show_alert=True)
            return
        kind, _, rest = (query.data or "").partition(":")
        if kind == "p":
            await self._sources_page(update, rest)
            return
        key, _, number = rest.partition(":")
        if kind not in ("m", "f"):
            await query.answer(render.INVALID_BUTTON, show_alert=True)
            return
        shown = self.memory.get(key)
        if shown is None:
            await query.answer(render.STALE_BUTTON, show_alert=True)
            return
        if kind == "f" and not (number.isdigit() and 1 <= int(number) <= len(shown.hits)):
            await query.answer(render.INVALID_BUTTON, show_alert=True)
            return
        await query.answer()
        if kind == "m":
            await self._more(_shown(query), key, shown)
        else:
            passage = await asyncio.to_thread(self.retriever.context, shown.hits[int(number) - 1])
            await _reply(_shown(query), render.html_context(passage), html=True)

    async def _sources_page(self, update: Update, page_text: str) -> None:
        query = _query_of(update)
        documents = self.retriever.documents
        pages = render.sources_pages(len(documents))
        if not page_text.isdigit() or not 1 <= int(page_text) <= pages:
            await query.answer(render.INVALID_BUTTON, show_alert=True)
            return
        page = int(page_text)
        await query.answer()
        await query.get_bot().edit_message_text(
            render.html_sources_page(documents, page), chat_id=_shown(query).chat.id,
            message_id=_shown(query).message_id, parse_mode=ParseMode.HTML, reply_markup=_page_buttons(page, pages),
        )

    async def _more(self, message: MaybeInaccessibleMessage, key: str, shown: ShownAnswer) -> None:
        k = self.settings.k
        hits = await asyncio.to_thread(self.retriever.search, shown.question, len(shown.hits) + k + 1)
        # `ask` reorders its candidates, `search` keeps BM25's order: skip what was shown, wherever it ranks.
        seen = {(hit.citation.doc_id, hit.start) for hit in shown.hits}
        unseen = [hit for hit in hits if (hit.citation.doc_id, hit.start) not in seen]
        new = unseen[:k]
        if not new:
            await _reply(message, render.NO_MORE)
            return
        first = len(shown.hits) + 1
        shown.hits.extend(new)
        answer = Answer(
            question=shown.question, hits=tuple(new), abstained=False, best_sentence=None, best_sentence_hit=None
        )
        await _reply(
            message,
            render.html_answer(answer, hits=new, first_number=first),
            html=True,
            reply_markup=_answer_buttons(key, first, len(new), len(unseen) > k),
        )

    # -- failures -----------------------------------------------------------------------

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure in one line with its chat and update; tell the person, unless that cannot help."""
        error = context.error
        if not isinstance(update, Update):
            if isinstance(error, TelegramError):
                self.metrics.telegram_error(error_kind(error))  # getUpdates bypasses the transport
            if isinstance(error, Conflict):
                log.error("getUpdates: another process is polling with this token (409 Conflict); stop the other one")
            elif isinstance(error, NetworkError):
                log.warning("getUpdates failed (%s); polling goes on", error)
            else:
                log.error("background task failed: %s", error, exc_info=error)
            return
        where = f"chat {_chat(update)} update {update.update_id}"
        if isinstance(error, Forbidden):
            log.warning("%s: not answered, %s", where, error)
            return
        if isinstance(error, UncertainDelivery):
            log.warning("%s: %s", where, error)
            return
        log.error("%s: handling failed: %s", where, error, exc_info=error)
        if update.effective_message is not None:
            try:
                await _reply(update.effective_message, render.APOLOGY)
            except TelegramError as second:
                log.error("%s: could not send the apology either: %s", where, second)


# -- helpers -------------------------------------------------------------------------------


async def _reply(
    message: MaybeInaccessibleMessage, text: str, html: bool = False, reply_markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Quote the message we answer (with many questions in flight, each answer says which it answers);
    if that message was deleted meanwhile, the reply is sent anyway."""
    return await message.get_bot().send_message(
        message.chat.id,
        text,
        parse_mode=ParseMode.HTML if html else None,
        reply_markup=reply_markup,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        disable_web_page_preview=True,
    )


def _message_of(update: Update) -> Message:
    """The message of an update the handler's filters let through only with one."""
    message = update.effective_message
    if message is None:
        raise ValueError(f"update {update.update_id} has no message")
    return message


def _query_of(update: Update) -> CallbackQuery:
    if update.callback_query is None:
        raise ValueError(f"update {update.update_id} is not a button press")
    return update.callback_query


def _shown(query: CallbackQuery) -> MaybeInaccessibleMessage:
    """The message whose button was pressed (Telegram leaves it out for messages older than 48 hours)."""
    if query.message is None:
        raise ValueError("the pressed button's message is unknown")
    return query.message


def _chat(update: Update) -> int | None:
    return update.effective_chat.id if update.effective_chat else None


def question_in(message: Message, username: str | None, bot_id: int, commands: bool = False) -> str | None:
    """The question a message asks the bot, or None when it is not meant for the bot.

    In a private chat every text is a question; in a group, one that mentions the bot or
    replies to it. With `commands`, "/ask 问题" counts too (for edited messages, which the
    command handlers do not see).
    """
    text = message.text
    if text is None:
        return None
    if commands and text.startswith("/"):
        command, _, rest = text.partition(" ")
        name, _, target = command[1:].partition("@")
        if name.lower() != "ask" or (target and target.lower() != (username or "").lower()):
            return None
        return rest.strip()
    if message.chat.type == ChatType.PRIVATE:
        return text
    mentioned = any(
        entity.type == MessageEntityType.MENTION and message.parse_entity(entity).lower() == f"@{username}".lower()
        for entity in message.entities
    )
    reply = message.reply_to_message
    replied = bool(reply and reply.from_user and reply.from_user.id == bot_id)
    return strip_mention(text, username) if mentioned or replied else None


def strip_mention(text: str, username: str | None) -> str:
    """The question without "@botname"."""
    if not username:
        return text.strip()
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


def _answer_buttons(key: str, first: int, count: int, more: bool) -> InlineKeyboardMarkup:
    """A 全文 button per passage shown, and 更多 when there is more; callback data stays far under 64 bytes."""
    full = [InlineKeyboardButton(f"全文 {n}", callback_data=f"f:{key}:{n}") for n in range(first, first + count)]
    rows = [full[i : i + 5] for i in range(0, len(full), 5)]
    if more:
        rows.append([InlineKeyboardButton("更多", callback_data=f"m:{key}")])
    return InlineKeyboardMarkup(rows)


def _page_buttons(page: int, pages: int) -> InlineKeyboardMarkup | None:
    if pages <= 1:
        return None
    row = []
    if page > 1:
        row.append(InlineKeyboardButton("« 上一页", callback_data=f"p:{page - 1}"))
    if page < pages:
        row.append(InlineKeyboardButton("下一页 »", callback_data=f"p:{page + 1}"))
    return InlineKeyboardMarkup([row])
