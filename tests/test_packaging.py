"""The wheel a user installs: the `zhdocqa` command, py.typed, and a typed API that `mypy --strict` accepts."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent

USER_SCRIPT = '''
"""A user's script over the documented API."""

from pathlib import Path

from retrieval import Answer, Citation, Filter, Hit, Reason, Retriever


def cited(hit: Hit) -> str:
    citation: Citation = hit.citation
    first, last = citation.lines
    return f"{citation.path}:{first}-{last} {citation.title} {citation.url or ''}"


def main(folder: Path) -> int:
    retriever = Retriever.from_texts(["拼多多是一家以拼团起家的社交电商公司。", "腾讯增加了红包功能。"], ids=["a.txt", "b.txt"])
    answer: Answer = retriever.ask("拼多多靠什么起家?", k=2, filters=Filter(docs=("a.txt",)))
    lines = [cited(hit) for hit in answer.hits]
    hits: list[Hit] = retriever.search("红包", k=1, filters=Filter(sources=(), since="2015", until=None))
    texts: list[str] = [hit.file_text for hit in hits]
    if answer.reason is Reason.FILTERED_OUT:
        return 1
    other = Retriever.from_directory(folder)
    return len(lines) + len(texts) + len(other.documents)
'''


def test_the_wheel_carries_the_command_and_py_typed_and_passes_mypy_strict(tmp_path):
    pytest.importorskip("hatchling", reason="the wheel is built offline with hatchling (a test extra)")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = dist.glob("zhdocqa-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert {"retrieval/py.typed", "bot/py.typed"} <= names
    assert "zhdocqa = bot.cli:entry" in entry_points

    # A fresh environment holding the wheel; its dependencies come from this one's site-packages.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", purelib, str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    (Path(purelib) / "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n", "utf-8")
    where = subprocess.run(
        [str(python), "-c", "import retrieval; print(retrieval.__file__)"], check=True, capture_output=True, text=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(purelib)

    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(USER_SCRIPT), "utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable", str(python), str(script)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
