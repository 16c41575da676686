"""Opening the collection for an adapter: the folder, its saved index in the user's cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from retrieval import Retriever, store
from retrieval.cache import APP_NAME, cache_root, use_jieba_cache
from retrieval.seeds import seeds_folder


def open_retriever(corpus: str | None, opensearch: str | None = None, index: str = "zhdocqa") -> Retriever:
    """The retriever over `corpus` (or the seeds), reusing its saved index when fresh;
    with `opensearch`, the collection pushed to that cluster under the alias `index` (issue 14)."""
    root = cache_root(os.environ)
    use_jieba_cache(root)
    if opensearch:
        return Retriever.from_opensearch(opensearch, index=index)
    folder = Path(corpus).expanduser() if corpus else seeds_folder()
    return Retriever(folder, index_dir=store.default_index_dir(root, folder), progress=sys.stderr.isatty())


def history_file() -> Path:
    """Where the REPL keeps its history across runs."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "history"
