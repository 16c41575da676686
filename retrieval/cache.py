"""Where saved indexes and jieba's dictionary cache live, for the command-line edges."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import platformdirs

from retrieval.analysis import Analyzer

APP_NAME = "zhdocqa"
CACHE_ENV = "ZHDOCQA_CACHE_DIR"


def user_cache_root(app_name: str = APP_NAME) -> Path:
    """The user's cache folder for this program (~/.cache/zhdocqa on Linux), by platformdirs."""
    return Path(platformdirs.user_cache_dir(app_name))


def cache_root(environ: Mapping[str, str]) -> Path:
    """$ZHDOCQA_CACHE_DIR, else the user's cache folder (~/.cache/zhdocqa on Linux)."""
    return Path(environ.get(CACHE_ENV) or user_cache_root())


def cached_analyzer(root: Path) -> Analyzer:
    """An analyzer that keeps jieba's dictionary cache under `root` rather than the shared /tmp."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Analyzer()  # jieba falls back to the system temporary folder
    return Analyzer(dictionary_cache=root)
