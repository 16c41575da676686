"""Opening the collection for an adapter: the folder, its saved index in the user's cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from retrieval import Retriever
from retrieval.cache import APP_NAME, cache_root, cached_analyzer
from retrieval.seeds import seeds_folder
from retrieval.store import default_index_dir


def open_retriever(
    corpus: str | None, follow_links: bool = False, opensearch: str | None = None, opensearch_index: str = "zhdocqa"
) -> Retriever:
    """The retriever over `corpus` (or the seeds), reusing its saved index when fresh;
    with `opensearch`, the collection pushed to that cluster under the alias `opensearch_index`."""
    root = cache_root(os.environ)
    if opensearch:
        return Retriever.from_opensearch(opensearch, index=opensearch_index, analyzer=cached_analyzer(root))
    folder = Path(corpus).expanduser() if corpus else seeds_folder()
    return Retriever(
        folder,
        index_dir=default_index_dir(root, folder),
        progress=sys.stderr.isatty(),
        follow_links=follow_links,
        analyzer=cached_analyzer(root),
    )


def history_file() -> Path:
    """Where the REPL keeps its history across runs."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "history"
