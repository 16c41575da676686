"""Opening the collection for an adapter: the folder, its saved index in the user's cache."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import platformdirs

from retrieval import Rebuild, Retriever
from retrieval.cache import APP_NAME, cache_root, cached_analyzer
from retrieval.seeds import seeds_folder
from retrieval.store import default_index_dir


def corpus_folder(corpus: str | None) -> Path:
    return Path(corpus).expanduser() if corpus else seeds_folder()


def index_location(corpus: str | None) -> Path:
    """Where the saved index of `corpus` (or the seeds) lives: $ZHDOCQA_CACHE_DIR or the user's cache."""
    return default_index_dir(cache_root(os.environ), corpus_folder(corpus))


def open_retriever(
    corpus: str | None,
    follow_links: bool = False,
    opensearch: str | None = None,
    opensearch_index: str = "zhdocqa",
    *,
    progress: bool | None = None,
    on_rebuild: Callable[[Rebuild], None] | None = None,
    workers: int | None = None,
    rebuild: bool = False,
) -> Retriever:
    """The retriever over `corpus` (or the seeds), reusing its saved index when fresh;
    with `opensearch`, the collection pushed to that cluster under the alias `opensearch_index`."""
    root = cache_root(os.environ)
    if opensearch:
        return Retriever.from_opensearch(opensearch, index=opensearch_index, analyzer=cached_analyzer(root))
    return Retriever(
        corpus_folder(corpus),
        index_dir=index_location(corpus),
        progress=sys.stderr.isatty() if progress is None else progress,
        follow_links=follow_links,
        analyzer=cached_analyzer(root),
        on_rebuild=on_rebuild,
        workers=workers,
        rebuild=rebuild,
    )


def history_file() -> Path:
    """Where the REPL keeps its history across runs."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "history"


def telegram_state_file() -> Path:
    """Where the Telegram bot keeps each chat's settings, filters, conversations and buttons."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "telegram-state.sqlite3"
