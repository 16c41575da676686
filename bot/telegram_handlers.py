"""The Telegram handlers: parse a message, ask the retrieval core off the event loop, reply with rendered text.

They hold no retrieval logic and build no HTML (bot/render.py does); how requests reach
Telegram (flood limits, retries) is bot/telegram_transport.py's business, and which update
runs next is bot/telegram_scheduler.py's.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from dataclasses import replace

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import render
from bot.telegram_chats import K_CHOICES, MAX_SOURCE_FILTER, AnswerStyle, ChatSettings, ChatState, ShownAnswer, Turn
from bot.telegram_limiter import QuestionLimiter, Verdict
from bot.telegram_memory import AnswerMessages
from bot.telegram_metrics import Metrics, MetricsServer, Outcome
from bot.telegram_settings import BotSettings
from bot.telegram_transport import UncertainDelivery, error_kind
from retrieval import MAX_K, Answer, Context, Filter, Hit, ParameterError, QuestionError, Retriever
from retrieval import Outcome as AnswerOutcome
from retrieval.conversation import Conversation

log = logging.getLogger(__name__)

EXAMPLES = (
    "阿里巴巴花了多少钱入股新浪微博?",
    "腾讯模仿泡泡堂做了哪个游戏?",
    "微博和淘宝电影合作预售,4天卖了多少张票?",
)
COMMANDS = (
    ("ask", "提问(群组里用 /ask 问题)"),
    ("new", "重新开始:下一个问题不接着上一个回答"),
    ("sources", "查看文档列表"),
    ("source", "查看某篇文档: /source 编号;只查某来源: /source 来源名称"),
    ("since", "只查某日期以后的文档: /since 2015"),
    ("filters", "查看当前的筛选条件"),
    ("clear", "清除筛选条件"),
    ("settings", "设置每个回答的段落数、群组回答的详略"),
    ("help", "使用说明和示例问题"),
    ("start", "开始使用"),
)
INLINE_RESULTS = 5  # answers listed under "@bot 问题"
INLINE_CACHE_SECONDS = 60  # Telegram may reuse an inline answer this long (the documents rarely change)
INLINE_QUERIES_PER_QUESTION = 5  # Telegram sends a query as the user types: one question is several queries
# How a question ended, by what the answer said.
_OUTCOMES = {
    AnswerOutcome.ANSWERED: Outcome.ANSWERED,
    AnswerOutcome.UNSURE: Outcome.UNSURE,
    AnswerOutcome.NO_ANSWER: Outcome.NO_ANSWER,
}
NEW_MESSAGE = filters.UpdateType.MESSAGE
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
ADMINS = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


class TelegramBot:
    """The handlers, bound to one retriever, its settings and the process's metrics."""

    def __init__(self, retriever: Retriever, settings: BotSettings, metrics: Metrics) -> None:
        self.retriever = retriever
        self.settings = settings
        self.metrics = metrics
        self.answer_messages = AnswerMessages(settings.remembered_answers)
        # Conversations kept alive, by (chat id, the answer that ended their last turn), least recent first;
        # one evicted (or lost in a restart) is rebuilt from the turn stored in the chat's data.
        self.conversations: OrderedDict[tuple[int, int], tuple[ChatSettings, Conversation]] = OrderedDict()
        self.limiter = QuestionLimiter(settings.questions_per_minute)
        self.inline_limiter = QuestionLimiter(settings.questions_per_minute * INLINE_QUERIES_PER_QUESTION)
        self.metrics_server: MetricsServer | None = None
        self._typing_in_flight = 0

    # -- wiring ----------------------------------------------------------------

    def install(self, application: Application) -> None:
        # Only new messages: channel posts never reach a handler, edits go to `edited`.
        application.add_handler(MessageHandler(NEW_MESSAGE & filters.StatusUpdate.MIGRATE, self.migrate))
        application.add_handler(CommandHandler(["start", "help"], self.start, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("sources", self.sources, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("source", self.source, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("ask", self.ask_command, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("new", self.new, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("settings", self.settings_command, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("since", self.since, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("filters", self.filters_command, filters=NEW_MESSAGE))
        application.add_handler(CommandHandler("clear", self.clear, filters=NEW_MESSAGE))
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_handler(InlineQueryHandler(self.inline))
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
        if update.inline_query:
            await update.inline_query.answer([], cache_time=0, is_personal=True)
            return True
        message = update.effective_message
        if message is not None:
            await _reply(message, render.NOT_ALLOWED)
            if message.chat.type in GROUPS:
                await context.bot.leave_chat(message.chat_id)
                log.info("left chat %d: not on the allow list", message.chat_id)
        return True

    async def _may_change(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Whether the sender may change the chat's settings or filters; if not, they are told why."""
        # A group's settings and filters apply to everyone in it, so only its admins change them;
        # a private chat's belong to its one user.
        chat = update.effective_chat
        if chat is None or chat.type not in GROUPS:
            return True
        sender = update.message.sender_chat if update.message else None
        if sender is not None and sender.id == chat.id:
            return True  # an anonymous admin, writing as the group itself
        refusal = render.ADMINS_ONLY
        user = update.effective_user
        if user is not None:
            try:
                member = await context.bot.get_chat_member(chat.id, user.id)
            except TelegramError as error:
                log.warning("chat %d update %d: could not check whether the sender is an admin (%s); nothing changed",
                            chat.id, update.update_id, error)
                refusal = render.ADMIN_CHECK_FAILED
            else:
                if member.status in ADMINS:
                    return True
        if update.callback_query is not None:
            await update.callback_query.answer(refusal, show_alert=True)
        else:
            await _reply(_message_of(update), refusal)
        return False

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
        argument = " ".join(context.args or [])
        if argument and not argument.isdigit():
            await self._set_source_filter(update, context, argument)
            return
        if not argument.isdigit() or not 1 <= int(argument) <= len(documents):
            await _reply(_message_of(update), render.telegram_source_filter_usage(len(documents)))
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

    async def new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/new: forget the conversation; the next question stands alone."""
        if await self._refused(update, context):
            return
        message = _message_of(update)
        self._state(context).forget_turns()
        self._forget_conversations(message.chat_id)
        await _reply(message, render.NEW_CONVERSATION)

    async def settings_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/settings: passages per answer, and short or full answers in a group, as buttons."""
        if await self._refused(update, context):
            return
        message = _message_of(update)
        text, markup = self._settings_view(self._state(context).settings, message.chat.type in GROUPS)
        await _reply(message, text, html=True, reply_markup=markup)

    def _settings_view(self, chat: ChatSettings, group: bool) -> tuple[str, InlineKeyboardMarkup]:
        k = chat.k or self.settings.k
        text = render.html_settings(k, str(chat.style) if group else None, self.settings.k)
        rows = [[InlineKeyboardButton(f"✓ {n}" if n == k else str(n), callback_data=f"s:k:{n}") for n in K_CHOICES]]
        if group:
            rows.append([
                InlineKeyboardButton(("✓ " if chat.style is style else "") + label, callback_data=f"s:style:{style}")
                for style, label in ((AnswerStyle.SHORT, "简短回答"), (AnswerStyle.FULL, "完整回答"))
            ])
        return text, InlineKeyboardMarkup(rows)

    async def _change_setting(self, update: Update, context: ContextTypes.DEFAULT_TYPE, data: str) -> None:
        """A /settings button: save the choice and show it in the same message."""
        if not await self._may_change(update, context):
            return
        query = _query_of(update)
        state = self._state(context)
        chat = state.settings
        name, _, value = data.partition(":")
        if name == "k" and value.isdigit() and int(value) in K_CHOICES:
            chat = replace(chat, k=int(value))
        elif name == "style" and value in tuple(AnswerStyle):
            chat = replace(chat, style=AnswerStyle(value))
        else:
            await query.answer(render.INVALID_BUTTON, show_alert=True)
            return
        state.settings = chat
        await query.answer(render.SETTINGS_SAVED)
        message = _shown(query)
        text, markup = self._settings_view(chat, message.chat.type in GROUPS)
        try:
            await query.get_bot().edit_message_text(
                text, chat_id=message.chat.id, message_id=message.message_id, parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise

    async def since(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/since 2015: answer only from documents dated then or later."""
        if await self._refused(update, context):
            return
        message = _message_of(update)
        argument = " ".join(context.args or []).strip()
        if not argument:
            await _reply(message, render.telegram_since_usage())
            return
        if not await self._may_change(update, context):
            return
        error = self._date_error(argument)
        if error is not None:
            await _reply(message, render.telegram_since_usage(error))
            return
        state = self._state(context)
        chat = replace(state.settings, since=argument)
        if await self._refused_filters(message, chat):
            return
        state.settings = chat
        await _reply(message, self._filters_text(chat))

    async def _set_source_filter(self, update: Update, context: ContextTypes.DEFAULT_TYPE, name: str) -> None:
        """/source 易商讯: answer only from documents whose source contains the name."""
        if not await self._may_change(update, context):
            return
        message = _message_of(update)
        name = " ".join(name.split())[:MAX_SOURCE_FILTER]
        chat = replace(self._state(context).settings, sources=(name,))
        if self._matching(ChatSettings(sources=(name,))) == 0:
            known = sorted({d.source for d in self.retriever.documents if d.source})
            await _reply(message, render.telegram_unknown_source(name, known))
            return
        if await self._refused_filters(message, chat):
            return
        self._state(context).settings = chat
        await _reply(message, self._filters_text(chat))

    async def filters_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/filters: the chat's filters, and how many documents they leave."""
        if await self._refused(update, context):
            return
        await _reply(_message_of(update), self._filters_text(self._state(context).settings))

    async def clear(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/clear: no more filters."""
        if await self._refused(update, context) or not await self._may_change(update, context):
            return
        state = self._state(context)
        state.settings = state.settings.without_filters()
        await _reply(_message_of(update), render.FILTERS_CLEARED)

    def _filters_text(self, chat: ChatSettings) -> str:
        return render.telegram_filters(chat.since, chat.sources, self._matching(chat), len(self.retriever.documents))

    def _matching(self, chat: ChatSettings) -> int:
        """How many documents the chat's filters leave."""
        limits = filter_of(chat)
        documents = self.retriever.documents
        return len(documents) if limits is None else sum(limits.allows(d) for d in documents)

    @staticmethod
    def _date_error(text: str) -> str | None:
        try:
            Filter(since=text)
        except ParameterError:
            return f"「{text}」不是有效的日期。"
        return None

    async def _refused_filters(self, message: Message, chat: ChatSettings) -> bool:
        """Say so when the retriever cannot filter (an OpenSearch backend); the filters are then not kept."""
        try:
            await asyncio.to_thread(self.retriever.search, EXAMPLES[0], 1, filter_of(chat))
        except ParameterError as error:
            await _reply(message, str(error))
            return True
        return False

    async def migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup, with a new chat id: its settings, filters and buttons move along."""
        message = _message_of(update)
        if message.migrate_to_chat_id is None:
            return  # the same move, announced in the new chat: done once, from the old one
        context.application.migrate_chat_data(message=message)
        self._forget_conversations(message.chat_id)
        log.info("chat %d became chat %d; its state moved with it", message.chat_id, message.migrate_to_chat_id)

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
        state = self._state(context)
        chat = state.settings
        k = chat.k or self.settings.k
        previous = self._previous_turn(update, state, context.bot.id)
        conversation, replay = self._conversation(message.chat_id, previous, chat)
        try:
            answer, more = await asyncio.to_thread(self._ask, conversation, replay, question, k, chat)
        except QuestionError as error:
            await self._send_or_update(update, str(error))
            return Outcome.INVALID
        except ParameterError as error:  # filters kept from a run on local files; this backend has none
            await self._send_or_update(update, f"{error} {render.FILTERS_HINT}")
            return Outcome.INVALID
        answered = answer.outcome == AnswerOutcome.ANSWERED
        short = message.chat.type in GROUPS and chat.style is AnswerStyle.SHORT and answered
        searched = answer.searched or answer.question
        markup = None
        if answer.outcome != AnswerOutcome.NO_ANSWER and answer.hits:
            # Unsure answers show their passages too: 全文/更多 work on them as on an answer.
            shown = ShownAnswer(searched, k, 0 if short else len(answer.hits), chat.only_filters())
            key = state.remember_answer(shown)
            markup = _answer_buttons(key, 1, 0 if short else len(answer.hits), more or short)
        text = render.html_short_answer(answer) if short else render.html_answer(answer)
        answer_id, updated = await self._send_or_update(update, text, html=True, reply_markup=markup)
        state.remember_turn(answer_id, searched, previous.answer_id if previous else None)
        self._keep(message.chat_id, answer_id, chat, conversation)
        if updated:
            return Outcome.UPDATED
        return _OUTCOMES[answer.outcome or AnswerOutcome.NO_ANSWER]

    # -- conversations -------------------------------------------------------------------

    def _state(self, context: ContextTypes.DEFAULT_TYPE) -> ChatState:
        if context.chat_data is None:
            raise ValueError("an update with no chat has no chat state")
        return ChatState(context.chat_data, self.settings.remembered_per_chat)

    def _previous_turn(self, update: Update, state: ChatState, bot_id: int) -> Turn | None:
        """The turn a question follows up: the answer it replies to, or in a private chat the last
        answer if recent. An edited question is asked again after the turn it first followed."""
        message = _message_of(update)
        if update.edited_message:
            earlier = self.answer_messages.get(message.chat_id, message.message_id)
            if earlier is not None:
                return state.turn_before(earlier)
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
            return state.turn(reply.message_id)
        if message.chat.type == ChatType.PRIVATE and not update.edited_message:
            return state.recent_turn()
        return None

    def _conversation(
        self, chat_id: int, previous: Turn | None, chat: ChatSettings
    ) -> tuple[Conversation, Turn | None]:
        """The conversation that continues `previous`, and the turn to replay into it first when it was
        not kept (evicted, asked under other filters, or from before a restart)."""
        if previous is not None:
            kept = self.conversations.pop((chat_id, previous.answer_id), None)
            if kept is not None and kept[0] == chat.only_filters():
                return kept[1], None
        return self.retriever.conversation(filters=filter_of(chat)), previous

    def _keep(self, chat_id: int, answer_id: int, chat: ChatSettings, conversation: Conversation) -> None:
        self.conversations[(chat_id, answer_id)] = (chat.only_filters(), conversation)
        self.conversations.move_to_end((chat_id, answer_id))
        while len(self.conversations) > self.settings.remembered_conversations:
            self.conversations.popitem(last=False)

    def _forget_conversations(self, chat_id: int) -> None:
        for key in [key for key in self.conversations if key[0] == chat_id]:
            del self.conversations[key]

    async def _typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        """The typing indicator: best effort, sent once, never holding up the answer."""
        try:
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as error:
            log.debug("typing indicator for chat %d not shown: %s", chat_id, error)
        finally:
            self._typing_in_flight -= 1

    def _ask(
        self, conversation: Conversation, replay: Turn | None, question: str, k: int, chat: ChatSettings
    ) -> tuple[Answer, bool]:
        """The answer, and whether 更多 would find more passages (runs in a worker thread)."""
        if replay is not None:
            conversation.ask(replay.searched, k)  # a standalone question: asked as it is
        answer = conversation.ask(question, k)
        del conversation.turns[:-1]  # only the last turn is resolved against; keep memory flat
        searched = answer.searched or answer.question
        more = len(answer.hits) == k and len(self._search(searched, k + 1, chat)) > k
        return answer, more

    def _numbered(self, shown: ShownAnswer, count: int) -> list[Hit]:
        """Up to `count` passages of an answer, numbered as shown: the answer's own (the core reorders
        them), then the plain ranking's next ones, as 更多 sends them (in a worker thread)."""
        limits = filter_of(shown.filters)
        first = list(self.retriever.ask(shown.searched, shown.k, filters=limits).hits)
        if count <= len(first):
            return first[:count]
        seen = {(hit.citation.doc_id, hit.start) for hit in first}
        pool = self.retriever.search(shown.searched, min(MAX_K, count + len(first)), filters=limits)
        return first + [hit for hit in pool if (hit.citation.doc_id, hit.start) not in seen][: count - len(first)]

    def _search(self, question: str, k: int, chat: ChatSettings) -> list[Hit]:
        return self.retriever.search(question, k, filters=filter_of(chat))

    async def _send_or_update(
        self, update: Update, text: str, html: bool = False, reply_markup: InlineKeyboardMarkup | None = None
    ) -> tuple[int, bool]:
        """Reply to the question; for an edited question whose reply is known, edit that reply instead.
        Returns the reply's message id and whether it edited."""
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
            return earlier, True
        sent = await _reply(message, text, html=html, reply_markup=reply_markup)
        self.answer_messages.remember(message.chat_id, message.message_id, sent.message_id)
        return sent.message_id, False

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
        if kind == "s":
            await self._change_setting(update, context, rest)
            return
        key, _, number = rest.partition(":")
        if kind not in ("m", "f"):
            await query.answer(render.INVALID_BUTTON, show_alert=True)
            return
        state = self._state(context)
        shown = state.answer(key)
        if shown is None:
            await query.answer(render.STALE_BUTTON, show_alert=True)
            return
        if kind == "f" and not (number.isdigit() and 1 <= int(number) <= shown.shown):
            await query.answer(render.INVALID_BUTTON, show_alert=True)
            return
        await query.answer()
        if kind == "m":
            await self._more(_shown(query), state, key, shown)
        else:
            passage = await asyncio.to_thread(self._passage, shown, int(number))
            sent = await _reply(_shown(query), render.html_context(passage), html=True)
            state.remember_turn(sent.message_id, shown.searched, None)  # a reply to it follows up the same question

    def _passage(self, shown: ShownAnswer, number: int) -> Context:
        """Passage `number` of an answer, found again by its question, and its neighbours (in a worker thread)."""
        hits = self._numbered(shown, number)
        if len(hits) < number:  # the documents changed since: the passage is gone
            raise ValueError(f"passage {number} of {shown.searched!r} no longer found")
        return self.retriever.context(hits[number - 1])

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

    async def _more(self, message: MaybeInaccessibleMessage, state: ChatState, key: str, shown: ShownAnswer) -> None:
        k = state.settings.k or self.settings.k
        hits = await asyncio.to_thread(self._numbered, shown, shown.shown + k + 1)
        new = hits[shown.shown : shown.shown + k]
        if not new:
            await _reply(message, render.NO_MORE)
            return
        first = shown.shown + 1
        numbered = replace(shown, shown=shown.shown + len(new))
        state.update_answer(key, numbered)
        answer = Answer(shown.searched, tuple(new), False, None, None)
        sent = await _reply(
            message,
            render.html_answer(answer, hits=new, first_number=first),
            html=True,
            reply_markup=_answer_buttons(key, first, len(new), len(hits) > numbered.shown),
        )
        state.remember_turn(sent.message_id, shown.searched, None)  # a reply to it follows up the same question

    # -- inline mode ------------------------------------------------------------------------

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """@bot 问题 in any chat: the best passages as results to pick from, each sent as a short answer."""
        query = _inline_of(update)
        if await self._refused(update, context):
            return
        question = query.query.strip()
        if not question:
            await query.answer([], cache_time=INLINE_CACHE_SECONDS)
            return
        outcome = Outcome.FAILED
        try:
            if self.inline_limiter.check(query.from_user.id) is not Verdict.ALLOW:
                outcome = Outcome.TOO_FAST
                await query.answer([], cache_time=0, is_personal=True)
                return
            try:
                answer = await asyncio.to_thread(self.retriever.ask, question, INLINE_RESULTS)
            except QuestionError as error:
                outcome = Outcome.INVALID
                await query.answer([_article("invalid", render.INLINE_INVALID_TITLE, str(error), str(error))],
                                   cache_time=INLINE_CACHE_SECONDS)
                return
            await query.answer(_inline_results(answer), cache_time=INLINE_CACHE_SECONDS)
            outcome = Outcome.NO_ANSWER if answer.abstained else Outcome.ANSWERED
        finally:
            latency = self.metrics.finished(update.update_id, outcome)
            text = f" question={question!r}" if self.settings.log_questions else ""
            log.info("inline query user=%d update=%d outcome=%s latency=%.3fs%s",
                     query.from_user.id, update.update_id, outcome, latency, text)

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


def _inline_of(update: Update) -> InlineQuery:
    if update.inline_query is None:
        raise ValueError(f"update {update.update_id} is not an inline query")
    return update.inline_query


def _article(result_id: str, title: str, description: str, text: str, html: bool = False) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        result_id, title,
        InputTextMessageContent(text, parse_mode=ParseMode.HTML if html else None),
        description=description,
    )


def _inline_results(answer: Answer) -> list[InlineQueryResultArticle]:
    """One result per passage, best first; a single "no answer" result when the documents do not answer."""
    if answer.abstained:
        reason = render.inline_no_answer(answer)
        text = render.html_inline_no_answer(answer)
        return [_article("none", render.INLINE_NO_ANSWER_TITLE, reason, text, html=True)]
    return [
        _article(str(number), render.inline_title(hit), render.inline_description(answer, number),
                 render.html_inline_answer(answer, number), html=True)
        for number, hit in enumerate(answer.hits, start=1)
    ]


def _shown(query: CallbackQuery) -> MaybeInaccessibleMessage:
    """The message whose button was pressed (Telegram leaves it out for messages older than 48 hours)."""
    if query.message is None:
        raise ValueError("the pressed button's message is unknown")
    return query.message


def _chat(update: Update) -> int | None:
    return update.effective_chat.id if update.effective_chat else None


def filter_of(chat: ChatSettings) -> Filter | None:
    """The core's Filter for a chat's filters; None when it has none (all documents answer)."""
    if not chat.filtered:
        return None
    try:
        return Filter(sources=chat.sources, since=chat.since)
    except ParameterError:  # a stored date /since would not have accepted: keep the source alone
        return Filter(sources=chat.sources) if chat.sources else None


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


def _answer_buttons(key: str, first: int, count: int, more: bool) -> InlineKeyboardMarkup | None:
    """A 全文 button per passage shown, and 更多 when there is more; callback data stays far under 64 bytes."""
    full = [InlineKeyboardButton(f"全文 {n}", callback_data=f"f:{key}:{n}") for n in range(first, first + count)]
    rows = [full[i : i + 5] for i in range(0, len(full), 5)]
    if more:
        rows.append([InlineKeyboardButton("更多", callback_data=f"m:{key}")])
    return InlineKeyboardMarkup(rows) if rows else None


def _page_buttons(page: int, pages: int) -> InlineKeyboardMarkup | None:
    if pages <= 1:
        return None
    row = []
    if page > 1:
        row.append(InlineKeyboardButton("« 上一页", callback_data=f"p:{page - 1}"))
    if page < pages:
        row.append(InlineKeyboardButton("下一页 »", callback_data=f"p:{page + 1}"))
    return InlineKeyboardMarkup([row])
