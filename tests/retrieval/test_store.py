"""Saved indexes: reused while fresh, rebuilt when stale or damaged, never wrong."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from retrieval import Retriever, store
from retrieval.seeds import seeds_folder

QUESTION = "腾讯模仿泡泡堂做了哪个游戏?"


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(seeds_folder(), folder)
    return folder


def _generation(index_dir):
    """The folder of the index's current generation."""
    return index_dir / json.loads((index_dir / store.CURRENT).read_text("utf-8"))["generation"]


def _rewrite_manifest(index_dir, change):
    """Change the manifest and re-sign it, as a bug (not damage) would: the deeper checks must catch it."""
    import hashlib

    path = _generation(index_dir) / store.MANIFEST
    manifest = json.loads(path.read_text("utf-8"))
    change(manifest)
    data = json.dumps(manifest, ensure_ascii=False).encode("utf-8")
    path.write_bytes(data)
    pointer = json.loads((index_dir / store.CURRENT).read_text("utf-8"))
    pointer["manifest_blake2"] = hashlib.blake2b(data, digest_size=16).hexdigest()
    (index_dir / store.CURRENT).write_text(json.dumps(pointer), "utf-8")


def _ranking(retriever):
    return [(h.citation.doc_id, h.citation.paragraph, h.score, h.text) for h in retriever.search(QUESTION, k=5)]


def test_saved_index_is_reused_with_the_same_answers(corpus, tmp_path, seeds):
    index_dir = tmp_path / "index"
    built = Retriever(corpus, index_dir=index_dir)
    assert built.index_status == "built"
    loaded = Retriever(corpus, index_dir=index_dir)
    assert loaded.index_status == "loaded"
    assert _ranking(loaded) == _ranking(built) == _ranking(seeds)
    assert loaded.documents == built.documents
    assert isinstance(loaded._index.weights.base, np.memmap)  # memory-mapped, not read in


def test_changed_added_or_removed_document_rebuilds(corpus, tmp_path):
    index_dir = tmp_path / "index"
    Retriever(corpus, index_dir=index_dir)
    (corpus / "new.txt").write_text("新文章:拼多多是一家社交电商公司,靠拼团起家。", "utf-8")
    retriever = Retriever(corpus, index_dir=index_dir)
    assert retriever.index_status == "rebuilt: documents changed"
    assert retriever.search("拼多多靠什么起家", k=1)[0].citation.doc_id == "new.txt"
    (corpus / "new.txt").unlink()
    assert Retriever(corpus, index_dir=index_dir).index_status == "rebuilt: documents changed"
    # Same size, same time, other bytes: the digest tells.
    path = corpus / "004_2879f3147d2cb423.txt"
    Retriever(corpus, index_dir=index_dir)
    data = path.read_bytes()
    stat = path.stat()
    path.write_bytes(data.replace("泡泡堂".encode(), "连连看".encode()))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    retriever = Retriever(corpus, index_dir=index_dir)
    assert retriever.index_status == "rebuilt: documents changed"
    assert "连连看" in retriever.search("腾讯模仿连连看", k=1)[0].text


@pytest.mark.parametrize("damage", ["truncate", "manifest", "garbage", "flipped", "shape", "analyzer"])
def test_damaged_index_is_rebuilt_not_used(corpus, tmp_path, caplog, damage):
    index_dir = tmp_path / "index"
    expected = _ranking(Retriever(corpus, index_dir=index_dir))
    generation = _generation(index_dir)
    if damage == "truncate":
        path = generation / "weights.npy"
        path.write_bytes(path.read_bytes()[:-40])
    elif damage == "manifest":
        (generation / "manifest.json").write_text("{not json", "utf-8")
    elif damage == "garbage":
        path = generation / "indices.npy"
        path.write_bytes(b"\x00" * path.stat().st_size)
    elif damage == "flipped":
        # Same size, valid header, one weight changed: only the checksum tells.
        path = generation / "weights.npy"
        data = bytearray(path.read_bytes())
        data[-3] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "shape":
        _rewrite_manifest(index_dir, lambda m: m.update(passages=m["passages"] + 1))
    else:
        _rewrite_manifest(index_dir, lambda m: m.update(analyzer="0"))
    retriever = Retriever(corpus, index_dir=index_dir)
    if damage == "analyzer":
        assert retriever.index_status == "rebuilt: analyzer changed"
    else:
        assert retriever.index_status == "rebuilt: damaged"
        assert "正在重建" in caplog.text
    assert _ranking(retriever) == expected
    assert Retriever(corpus, index_dir=index_dir).index_status == "loaded"


def test_index_command_builds_then_reuses(corpus, tmp_path):
    env = {"ZHDOCQA_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "retrieval", "index", str(corpus)]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "已建立索引: 5 篇文档" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert "已复用索引" in second.stdout
    info = subprocess.run([sys.executable, "-m", "retrieval", "info", str(corpus)], capture_output=True, text=True, env=env)
    assert "最新" in info.stdout


def test_index_command_on_a_missing_folder_says_so(tmp_path):
    env = {"ZHDOCQA_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "retrieval", "index", str(tmp_path / "nope")], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert "不存在" in result.stderr
    assert "Traceback" not in result.stderr


def test_parallel_build_gives_the_same_index(corpus):
    one = Retriever(corpus, workers=1)
    two = Retriever(corpus, workers=2)
    assert two.documents == one.documents
    assert np.array_equal(np.asarray(two._index.weights), np.asarray(one._index.weights))
    assert np.array_equal(np.asarray(two._index.indices), np.asarray(one._index.indices))
    assert _ranking(two) == _ranking(one)


def test_the_seeds_index_is_kept_in_the_user_cache_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # where platformdirs puts the user cache
    first = Retriever()
    assert first.index_status == "built"
    assert list((tmp_path / "cache" / "zhdocqa" / "indexes").iterdir())
    second = Retriever()
    assert second.index_status == "loaded"
    assert [h.citation for h in second.search(QUESTION)] == [h.citation for h in first.search(QUESTION)]


def test_on_rebuild_is_told_which_files_changed(corpus, tmp_path):
    index_dir = tmp_path / "index"
    Retriever(corpus, index_dir=index_dir)
    (corpus / "001_6343723039a13da3.txt").write_text("新的内容:腾讯发布了新的微信版本。", "utf-8")
    (corpus / "new.md").write_text("# 新文档\n\n拼多多靠拼团起家。", "utf-8")
    (corpus / "004_2879f3147d2cb423.txt").unlink()
    told = []
    retriever = Retriever(corpus, index_dir=index_dir, on_rebuild=told.append)
    assert retriever.index_status == "rebuilt: documents changed"
    assert [(r.status, r.changed) for r in told] == [
        ("rebuilt: documents changed", ("001_6343723039a13da3.txt", "004_2879f3147d2cb423.txt", "new.md"))
    ]
    Retriever(corpus, index_dir=index_dir, on_rebuild=told.append)
    assert len(told) == 1  # a fresh index is loaded without a word


def test_the_progress_bar_counts_bytes_and_moves_within_one_large_file(capsys, monkeypatch):
    from retrieval import indexing
    from retrieval.analysis import default_analyzer
    from retrieval.loading import SourceText

    monkeypatch.setattr(indexing, "PROGRESS_DELAY_SECONDS", 0)
    text = "\n\n".join(f"第{i}段:腾讯发布了新的微信版本,增加了红包功能。" for i in range(400))
    sources = [SourceText("big.txt", seeds_folder(), text, "utf-8")]
    updates = []
    real = indexing._progress_bar

    def recording(items):
        bar = real(items)
        original = bar.update
        bar.update = lambda n=1: (updates.append(n), original(n))[1]
        return bar

    monkeypatch.setattr(indexing, "_progress_bar", recording)
    indexing.build_index(sources, default_analyzer(), progress=True, workers=1)
    assert sum(updates) == len(text.encode("utf-8"))
    assert len(updates) > 100  # passage by passage, not once for the file
    assert "建立索引" in capsys.readouterr().err
