"""The bot's per-chat state in one SQLite file, as JSON: python-telegram-bot's persistence interface.

Why not its PicklePersistence: a pickle holds Python objects by class path, so a renamed
module or class makes an old file unreadable, and loading a pickle runs code (the project
keeps pickle out of its own files for that reason). Here every row is JSON that anyone can
read with `sqlite3`, committed as soon as it is handed over; a damaged row is skipped with a
warning, never a crash at start-up.

Only chat data is kept (settings, filters, conversations' last turns, buttons; see
bot/telegram_chats.py). bot_data holds the running process's objects and user_data is not
used, so neither is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

log = logging.getLogger(__name__)

# Written on this interval and at shutdown; a crash loses at most this many seconds of changes.
UPDATE_SECONDS = 30.0


class SqlitePersistence(BasePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Chat data in the SQLite file `path` (created, with its folder, if missing)."""

    def __init__(self, path: str | Path, update_interval: float = UPDATE_SECONDS) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=True, user_data=False, callback_data=False),
            update_interval=update_interval,
        )
        self.path = Path(path)
        self._lock = asyncio.Lock()  # one write at a time: SQLite takes one writer
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._execute("CREATE TABLE IF NOT EXISTS chat_data (chat_id INTEGER PRIMARY KEY, data TEXT NOT NULL)")
        except sqlite3.DatabaseError as error:
            raise OSError(
                f"{self.path}: 无法作为 SQLite 数据库打开({error})。请换一个 --state 路径,或移走这个文件。"
            ) from error

    def _execute(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        """One statement in its own transaction (committed on success), on a connection closed after."""
        with closing(sqlite3.connect(self.path, timeout=10)) as connection, connection:
            return connection.execute(sql, parameters).fetchall()

    # -- chat data ----------------------------------------------------------------------

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return await asyncio.to_thread(self._read_chat_data)

    def _read_chat_data(self) -> dict[int, dict[Any, Any]]:
        chats: dict[int, dict[Any, Any]] = {}
        for chat_id, text in self._execute("SELECT chat_id, data FROM chat_data"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as error:
                log.warning("%s: chat %d's saved state is not JSON (%s); it starts afresh", self.path, chat_id, error)
                continue
            if isinstance(data, dict):
                chats[int(chat_id)] = data
        log.info("%s: state of %d chats loaded", self.path, len(chats))
        return chats

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Called with the chats that changed, every `update_interval` seconds and at shutdown."""
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        async with self._lock:
            await asyncio.to_thread(
                self._execute,
                "INSERT INTO chat_data (chat_id, data) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET data = excluded.data",
                (chat_id, text),
            )

    async def drop_chat_data(self, chat_id: int) -> None:
        async with self._lock:
            await asyncio.to_thread(self._execute, "DELETE FROM chat_data WHERE chat_id = ?", (chat_id,))

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Nothing to refresh: this process is the file's only writer."""

    async def flush(self) -> None:
        """Nothing is buffered: each update is committed when it is made."""

    # -- not stored (see the module docstring) --------------------------------------------

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def get_conversations(self, name: str) -> dict[Any, Any]:
        return {}

    async def update_conversation(self, name: str, key: Any, new_state: object | None) -> None:
        pass

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        pass

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        pass

    async def update_callback_data(self, data: Any) -> None:
        pass

    async def drop_user_data(self, user_id: int) -> None:
        pass

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        pass

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        pass
