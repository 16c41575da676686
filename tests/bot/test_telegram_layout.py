"""The Telegram modules import one way: each only from the ones before it in this list."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

ORDER = (
    "bot.telegram_settings",
    "bot.telegram_metrics",
    "bot.telegram_limiter",
    "bot.telegram_memory",
    "bot.telegram_chats",
    "bot.render",
    "bot.telegram_transport",
    "bot.telegram_scheduler",
    "bot.telegram_handlers",
    "bot.telegram_persistence",
    "bot.telegram_bot",
    "bot.opening",  # the shared "open the collection" helper (not Telegram), used by the CLI
    "bot.reloading",  # live reload, shared with the REPL (not Telegram)
    "bot.telegram_cli",
)


def _imports(module: str) -> set[str]:
    path = Path(bot.__file__).parent / f"{module.split('.')[1]}.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("bot.") and name.count(".") == 1 or name == "bot"}


def test_each_telegram_module_imports_only_the_ones_before_it():
    for position, module in enumerate(ORDER):
        if module == "bot.opening":
            continue
        imported = {name for name in _imports(module) if name != "bot"}
        later = imported - set(ORDER[:position])
        assert not later, f"{module} imports {sorted(later)}, which come after it (or are not Telegram modules)"
