"""A small fake Telegram Bot API server on 127.0.0.1, for end-to-end tests of the bot.

It speaks just enough of the Bot API for python-telegram-bot's real HTTP stack:
getMe, deleteWebhook, setWebhook, getUpdates (long polling from a queue, honouring the
offset), sendMessage, editMessageText, answerCallbackQuery, answerInlineQuery,
setMyCommands, sendChatAction, leaveChat, getChatMember (everyone is a "member" of a
chat until `member_status(chat, user, status)` says otherwise); `inline_query(...)`
queues an inline query, and answerInlineQuery is refused with 400, as Telegram would,
when its results break the Bot API's rules (at most 50, ids of 1-64 bytes, unique,
message text of 1-4096 characters, a title). It records every call (`calls`) and every
message it accepted (`delivered`), and injects the faults real Telegram produces:

- `fail_next(method, kinds...)`: the next calls fail with "429" (retry_after 1), "400",
  "500", "409", "drop" (connection closed before the request is processed) or "drop-after"
  (processed, then the connection closed: the client cannot know it arrived);
- `slow(method, seconds)`: every reply of `method` comes `seconds` late (already processed);
- `flood(chat_id, times, retry_after)`: 429 for the next sends to one chat only;
- `block(chat_id)`: 403 "bot was blocked by the user" for sends to that chat;
- `user_message(..., deleted=True)`: the question is deleted before the bot replies; a reply
  to it gets 400 "message to be replied not found" unless allow_sending_without_reply;
- `edit(message, text)`, `channel_post(...)`, `push(update)` with a reused update_id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

BOT_ID = 777000111
BOT_USERNAME = "zhdocqa_test_bot"
# The fields a ChatMemberAdministrator must have besides status and user (Bot API "ChatMemberAdministrator").
_ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
    "can_manage_video_chats": True, "can_restrict_members": True, "can_promote_members": False,
    "can_change_info": True, "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
    "can_delete_stories": False, "can_pin_messages": True,
}
MEMBER_STATUSES = ("creator", "administrator", "member", "left")


@dataclass
class Call:
    method: str
    params: dict
    at: float = field(default_factory=time.monotonic)
    result: dict | None = None  # what the server answered, for calls that took effect


class FakeBotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.failures: dict[str, list[str]] = {}
        self.delays: dict[str, float] = {}
        self.floods: dict[int, list[float]] = {}  # chat id -> retry_after of each coming 429
        self.blocked: set[int] = set()
        self.deleted: set[int] = set()
        self.statuses: dict[tuple[int, int], str] = {}  # (chat id, user id) -> getChatMember's status
        self.delivered: list[Call] = []  # sendMessage and editMessageText calls that took effect
        self._updates: list[dict] = []
        self._condition = threading.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self.enqueued_at: dict[int, float] = {}  # user message id -> when it was queued
        self.bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "文档问答", "username": BOT_USERNAME}
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                api._handle(self)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            with self._condition:
                self._condition.notify_all()
            self._server.shutdown()
            self._server.server_close()

    # -- what the tests do ----------------------------------------------------------

    def fail_next(self, method: str, *kinds: str) -> None:
        """Fail the next calls of `method`: "429", "400", "500", "409", "drop" or "drop-after" each."""
        with self._condition:
            self.failures.setdefault(method, []).extend(kinds)

    def slow(self, method: str, seconds: float) -> None:
        """Reply to every call of `method` `seconds` late, after doing what it asks."""
        with self._condition:
            self.delays[method] = seconds

    def flood(self, chat_id: int, times: int = 1, retry_after: float = 1) -> None:
        """Answer the next `times` sends to `chat_id` with 429 and this retry_after; other chats are served."""
        with self._condition:
            self.floods.setdefault(chat_id, []).extend([retry_after] * times)

    def member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember says of this user in this chat: "creator" (the owner), "administrator",
        "member" (everyone's until set) or "left"."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}; one of {MEMBER_STATUSES}")
        with self._condition:
            self.statuses[(chat_id, user_id)] = status

    def block(self, chat_id: int) -> None:
        with self._condition:
            self.blocked.add(chat_id)

    def push(self, update: dict, update_id: int | None = None) -> dict:
        """Queue an update for getUpdates; a given `update_id` redelivers one (as Telegram may)."""
        with self._condition:
            update["update_id"] = update_id if update_id is not None else next(self._update_ids)
            self._updates.append(update)
            message = update.get("message") or update.get("edited_message")
            if message:
                self.enqueued_at.setdefault(message["message_id"], time.monotonic())
            self._condition.notify_all()
        return update

    def edit(self, message: dict, text: str) -> dict:
        """The user edits an earlier message."""
        edited = dict(message, text=text, edit_date=int(time.time()))
        edited.pop("entities", None)
        entities = _entities(text)
        if entities:
            edited["entities"] = entities
        return self.push({"edited_message": edited})["edited_message"]

    def channel_post(self, chat_id: int, text: str) -> dict:
        post = {
            "message_id": next(self._message_ids), "date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": "channel", "title": "频道"}, "sender_chat": {"id": chat_id, "type": "channel", "title": "频道"},
        }
        entities = _entities(text)
        if entities:
            post["entities"] = entities
        return self.push({"channel_post": post})["channel_post"]

    def user_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        reply_to: dict | None = None,
        extra: dict | None = None,
        deleted: bool = False,
    ) -> dict:
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "用户"}
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "用户"
        else:
            chat["title"] = "测试群"
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": user}
        if text is not None:
            message["text"] = text
            entities = _entities(text)
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(extra or {})
        with self._condition:
            if deleted:
                self.deleted.add(message["message_id"])
            return self.push({"message": message})["message"]

    def press(self, chat_id: int, bot_message: dict, data: str, user_id: int | None = None) -> dict:
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "用户"}
        return self.push(
            {
                "callback_query": {
                    "id": f"cq{next(self._update_ids)}",
                    "from": user,
                    "chat_instance": "ci",
                    "data": data,
                    "message": bot_message,
                }
            }
        )

    def inline_query(self, user_id: int, query: str, chat_type: str = "private") -> dict:
        """The user types "@bot query" in a chat (`chat_type`: the kind of chat they type in)."""
        user = {"id": user_id, "is_bot": False, "first_name": "用户"}
        return self.push(
            {"inline_query": {"id": f"iq{next(self._update_ids)}", "from": user, "query": query, "offset": "",
                              "chat_type": chat_type}}
        )["inline_query"]

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[dict]:
        with self._condition:
            calls = [c for c in self.calls if c.method == method]
        return [c.params for c in calls if chat_id is None or int(c.params.get("chat_id", 0)) == chat_id]

    def called(self, method: str) -> list[dict]:
        with self._condition:
            return [c.params for c in self.calls if c.method == method]

    def answers(self, chat_id: int | None = None, method: str = "sendMessage") -> list[dict]:
        """What the chat shows: the messages the server accepted (failed attempts left out)."""
        with self._condition:
            calls = [c for c in self.delivered if c.method == method]
        return [c.params for c in calls if chat_id is None or int(c.params.get("chat_id", 0)) == chat_id]

    def delivered_calls(self, method: str = "sendMessage") -> list[Call]:
        with self._condition:
            return [c for c in self.delivered if c.method == method]

    async def wait_for(self, predicate, timeout: float = 20.0):  # noqa: ASYNC109 (polls state other threads change)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for the bot")

    async def settle(self, seconds: float = 0.6) -> None:
        """Let the bot work a moment with nothing new (to check that it sends nothing more)."""
        await asyncio.sleep(seconds)

    # -- the server -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = handler.path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return self._reply(handler, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = parts[0][3:], parts[1]
        if token != self.token:
            return self._reply(handler, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        params = _parse(body, handler.headers.get("Content-Type", ""))
        chat_id = _int(params.get("chat_id"))
        with self._condition:
            failure = self.failures.get(method, []).pop(0) if self.failures.get(method) else None
            if failure is None and method == "sendMessage" and self.floods.get(chat_id):
                failure = f"429:{self.floods[chat_id].pop(0)}"
            self.calls.append(Call(method, params))
            delay = self.delays.get(method, 0.0)
        if failure is not None and failure.startswith("429"):
            retry_after = float(failure.partition(":")[2] or 1)
            retry_after = int(retry_after) if retry_after == int(retry_after) else retry_after
            return self._reply(
                handler, 429,
                {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}},
            )
        if failure == "400":
            return self._reply(handler, 400, {"ok": False, "error_code": 400, "description": "Bad Request: injected fault"})
        if failure == "500":
            return self._reply(handler, 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
        if failure == "409":
            return self._reply(handler, 409, {"ok": False, "error_code": 409, "description":
                               "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"})
        if failure == "drop":
            return self._drop(handler)
        if method in ("sendMessage", "editMessageText", "sendChatAction") and chat_id in self.blocked:
            return self._reply(handler, 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
        reply_to = params.get("reply_parameters") or {}
        if (method == "sendMessage" and reply_to.get("message_id") in self.deleted
                and not reply_to.get("allow_sending_without_reply")):
            return self._reply(handler, 400, {"ok": False, "error_code": 400, "description": "Bad Request: message to be replied not found"})
        problem = _inline_answer_problem(params) if method == "answerInlineQuery" else None
        if problem is not None:
            return self._reply(handler, 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {problem}"})
        result = getattr(self, f"_api_{method}", None)
        if result is None:
            return self._reply(handler, 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})
        value = result(params)
        if method in ("sendMessage", "editMessageText"):
            with self._condition:
                self.delivered.append(Call(method, params, result=value))
                self._condition.notify_all()
        if delay:
            time.sleep(delay)
        if failure == "drop-after":
            return self._drop(handler)
        return self._reply(handler, 200, {"ok": True, "result": value})

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        handler.connection.close()

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- methods ----------------------------------------------------------------------------

    def _api_getMe(self, params: dict) -> dict:
        return self.bot_user

    def _api_deleteWebhook(self, params: dict) -> bool:
        return True

    def _api_setWebhook(self, params: dict) -> bool:
        return True

    def _api_setMyCommands(self, params: dict) -> bool:
        return True

    def _api_sendChatAction(self, params: dict) -> bool:
        return True

    def _api_answerCallbackQuery(self, params: dict) -> bool:
        return True

    def _api_leaveChat(self, params: dict) -> bool:
        return True

    def _api_answerInlineQuery(self, params: dict) -> bool:
        return True

    def _api_getChatMember(self, params: dict) -> dict:
        """A ChatMember of the kind its status names, with the fields the Bot API gives that kind."""
        chat_id, user_id = _int(params.get("chat_id")), _int(params.get("user_id"))
        with self._condition:
            status = self.statuses.get((chat_id, user_id), "member")
        member: dict = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "用户"}}
        if status == "administrator":
            member.update(_ADMIN_RIGHTS)
        elif status == "creator":
            member["is_anonymous"] = False
        return member

    def _api_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._condition:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._condition.wait(timeout=max(0.0, deadline - time.monotonic()))
            return list(self._updates[: int(params.get("limit") or 100)])

    def _message(self, params: dict) -> dict:
        chat_id = int(params["chat_id"])
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id > 0:
            chat["first_name"] = "用户"
        else:
            chat["title"] = "测试群"
        message = {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            "text": params.get("text", ""),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _api_sendMessage(self, params: dict) -> dict:
        return self._message(params)

    def _api_editMessageText(self, params: dict) -> dict:
        return self._message(params)


def _parse(body: bytes, content_type: str) -> dict:
    if not body:
        return {}
    if "json" in content_type:
        return json.loads(body)
    fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    for key in ("reply_markup", "reply_parameters", "commands", "allowed_updates", "link_preview_options", "entities",
                "results"):
        if key in fields:
            try:
                fields[key] = json.loads(fields[key])
            except json.JSONDecodeError:
                pass
    return fields


def _inline_answer_problem(params: dict) -> str | None:
    """Why Telegram would refuse this answerInlineQuery, or None (the Bot API's documented limits)."""
    results = params.get("results")
    if not isinstance(results, list):
        return "results must be a JSON array"
    if len(results) > 50:
        return f"too many inline query results ({len(results)} > 50)"
    ids = [str(r.get("id", "")) for r in results]
    if len(set(ids)) != len(ids):
        return "duplicate result id"
    for result in results:
        if not 1 <= len(str(result.get("id", "")).encode()) <= 64:
            return "RESULT_ID_INVALID"
        if not result.get("title"):
            return "inline query result title must be non-empty"
        content = result.get("input_message_content") or {}
        if not 1 <= len(content.get("message_text", "")) <= 4096:
            return "MESSAGE_TOO_LONG" if content.get("message_text") else "message text is empty"
    return None


def _entities(text: str) -> list[dict]:
    entities = []
    if text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(text.split()[0])})
    mention = f"@{BOT_USERNAME}"
    if mention in text and not text.startswith("/"):
        entities.append({"type": "mention", "offset": _utf16_len(text[: text.index(mention)]), "length": len(mention)})
    return entities


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
