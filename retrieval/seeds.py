"""Where the bundled seed articles are: in a checkout, or inside the installed wheel."""

from __future__ import annotations

from pathlib import Path

from retrieval.errors import CorpusError

_PACKAGE = Path(__file__).resolve().parent


def seeds_folder() -> Path:
    """The folder of the bundled seed articles."""
    # The wheel carries them as retrieval/_seeds; a checkout has seeds/ beside the package.
    for candidate in (_PACKAGE / "_seeds", _PACKAGE.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    raise CorpusError("找不到内置的示例文档(seeds)。请重新安装本软件,或指定另一个文档目录。")
