"""Where saved indexes and jieba's dictionary cache live, for the command-line edges."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import platformdirs

from retrieval.analysis import Analyzer

APP_NAME = "zhdocqa"
CACHE_ENV = "ZHDOCQA_CACHE_DIR"


def cache_root(environ: Mapping[str, str]) -> Path:
    """$ZHDOCQA_CACHE_DIR, else the user's cache folder (~/.cache/zhdocqa on Linux)."""
    return Path(environ.get(CACHE_ENV) or platformdirs.user_cache_dir(APP_NAME))


def cached_analyzer(root: Path) -> Analyzer:
    """An analyzer that keeps jieba's dictionary cache under `root` rather than the shared /tmp."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Analyzer()  # jieba falls back to the system temporary folder
    return Analyzer(dictionary_cache=root)
