"""Where saved indexes and jieba's dictionary cache live, for the command-line edges."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import jieba
import platformdirs

APP_NAME = "zhdocqa"
CACHE_ENV = "ZHDOCQA_CACHE_DIR"


def cache_root(environ: Mapping[str, str]) -> Path:
    """$ZHDOCQA_CACHE_DIR, else the user's cache folder (~/.cache/zhdocqa on Linux)."""
    return Path(environ.get(CACHE_ENV) or platformdirs.user_cache_dir(APP_NAME))


def use_jieba_cache(root: Path) -> None:
    """Keep jieba's dictionary cache under `root` rather than the shared /tmp."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # jieba falls back to the system temporary folder
    jieba.dt.tmp_dir = str(root)
