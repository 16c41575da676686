"""A growing folder: updates analyse only what changed and equal a full rebuild, array for array."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from retrieval import Retriever, store
from retrieval.analysis import Analyzer, PassageTerms
from retrieval.seeds import seeds_folder

COLLECTION_ARRAYS = ("text_blob", "text_offsets", "passage_doc", "passage_paragraph", "span_ptr", "spans",
                     "single_ptr", "singles", "passage_bytes", "passage_simplified")
INDEX_ARRAYS = ("indptr", "indices", "weights", "idf_values", "counts", "lengths")
VOCABULARY_ARRAYS = ("blob", "offsets", "keys")

NEW_ARTICLE = """星河量子在杭州成立

2021-03-02 · 测试日报

星河量子公司于2021年在杭州成立,创始人是李明远,主要研发超导量子芯片。

公司的第一款芯片名为"天枢",拥有七十二个量子比特。
"""


class CountingAnalyzer(Analyzer):
    """An analyzer that counts the passages it segments."""

    def __init__(self) -> None:
        super().__init__()
        self.segmented = 0

    def passage_terms(self, text: str) -> PassageTerms:
        self.segmented += 1
        return super().passage_terms(text)


def assert_same_index(updated: Retriever, full: Retriever) -> None:
    a, b = updated._state.opened, full._state.opened
    for name in COLLECTION_ARRAYS:
        x, y = np.asarray(getattr(a.collection, name)), np.asarray(getattr(b.collection, name))
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    for name in INDEX_ARRAYS:
        x, y = np.asarray(getattr(a.index, name)), np.asarray(getattr(b.index, name))
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    for name in VOCABULARY_ARRAYS:
        x, y = np.asarray(getattr(a.index.vocabulary, name)), np.asarray(getattr(b.index.vocabulary, name))
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    assert a.collection.records == b.collection.records
    assert a.skipped == b.skipped and a.notes == b.notes


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(seeds_folder(), folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "notice.txt").write_text("首页 > 新闻\n\n版权所有 © 2020\n", "utf-8")  # empty once cleaned
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00\xd8" * 50)  # in no encoding we read
    return folder


@pytest.mark.parametrize("ranking", ["exact", "lucene"])
def test_adding_changing_removing_and_a_catalog_entry_equal_a_full_rebuild(folder, tmp_path, ranking):
    index_dir = tmp_path / "index"
    Retriever(folder, index_dir=index_dir, ranking=ranking)
    files = sorted(folder.glob("0*.txt"))
    (folder / "005_new.txt").write_text(NEW_ARTICLE, "utf-8")
    files[1].write_text(files[1].read_text("utf-8") + "\n\n阿里巴巴还宣布了一项新的合作计划。\n", "utf-8")
    files[3].unlink()
    (folder / "catalog.toml").write_text(f'["{files[0].name}"]\ntitle = "改过的标题"\n', "utf-8")
    analyzer = CountingAnalyzer()
    updated = Retriever(folder, index_dir=index_dir, analyzer=analyzer, ranking=ranking)
    assert updated.index_status == "rebuilt: documents changed"
    assert updated.ranking_mode == ranking
    changes = updated._state.opened.changes
    assert changes.added == ("005_new.txt",)
    assert set(changes.changed) == {files[1].name, "catalog.toml"}
    assert changes.removed == (files[3].name,)
    # The new file, the changed one and the one whose catalog entry changed; nothing else.
    assert changes.analysed == 3
    analysed = {"005_new.txt", files[1].name, files[0].name}
    assert analyzer.segmented == sum(d.passages for d in updated.documents if d.doc_id in analysed)
    assert analyzer.segmented < len(updated)
    assert_same_index(updated, Retriever(folder, ranking=ranking))
    assert updated.documents[0].title == "改过的标题"
    assert updated.search("星河量子的创始人是谁", k=1)[0].citation.doc_id == "005_new.txt"
    # Saved: the next start loads it as it is.
    again = Retriever(folder, index_dir=index_dir, ranking=ranking)
    assert again.index_status == "loaded"
    assert_same_index(again, Retriever(folder, ranking=ranking))


def test_a_touched_file_is_not_analysed_again(folder, tmp_path):
    index_dir = tmp_path / "index"
    Retriever(folder, index_dir=index_dir)
    target = sorted(folder.glob("0*.txt"))[2]
    target.write_bytes(target.read_bytes())  # new time, same bytes
    analyzer = CountingAnalyzer()
    retriever = Retriever(folder, index_dir=index_dir, analyzer=analyzer)
    assert analyzer.segmented == 0
    assert_same_index(retriever, Retriever(folder))


def test_reload_swaps_while_questions_are_answered(folder, tmp_path):
    retriever = Retriever(folder, index_dir=tmp_path / "index")
    assert not retriever.changed() and not retriever.reload()
    errors: list[BaseException] = []
    answered = []
    stop = threading.Event()

    def ask_until_stopped() -> None:
        while not stop.is_set():
            try:
                answer = retriever.ask("阿里巴巴花了多少钱入股新浪微博?", k=3)
                answered.append(answer.hits[0].citation.doc_id)
            except BaseException as error:  # noqa: BLE001 - any failure is the test's business
                errors.append(error)

    threads = [threading.Thread(target=ask_until_stopped) for _ in range(2)]
    for thread in threads:
        thread.start()
    (folder / "005_new.txt").write_text(NEW_ARTICLE, "utf-8")
    assert retriever.changed()
    changes = retriever.reload()
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert answered and set(answered) == {"001_6343723039a13da3.txt"}
    assert changes.added == ("005_new.txt",) and changes.analysed == 1
    assert "005_new.txt" in {d.doc_id for d in retriever.documents}
    assert retriever.ask("星河量子公司的创始人是谁?").hits[0].citation.doc_id == "005_new.txt"
    assert not retriever.changed()


def test_a_damaged_large_index_is_found_before_the_first_answer(folder, tmp_path, monkeypatch, caplog):
    index_dir = tmp_path / "index"
    expected = Retriever(folder, index_dir=index_dir).ask("阿里巴巴花了多少钱入股新浪微博?").best_sentence
    pointer = json.loads((index_dir / store.CURRENT).read_text("utf-8"))
    weights = index_dir / pointer["generation"] / "weights.npy"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x10
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(store, "EAGER_VERIFY_BYTES", 0)  # verify in the background, as for a large index
    retriever = Retriever(folder, index_dir=index_dir)
    assert retriever.index_status == "loaded"  # loaded at once; the checksums are still being read
    answer = retriever.ask("阿里巴巴花了多少钱入股新浪微博?")
    assert retriever.index_status == "rebuilt: damaged"
    assert "校验和不符" in caplog.text
    assert answer.best_sentence == expected


def test_a_sound_large_index_is_verified_in_the_background(folder, tmp_path, monkeypatch):
    index_dir = tmp_path / "index"
    Retriever(folder, index_dir=index_dir)
    monkeypatch.setattr(store, "EAGER_VERIFY_BYTES", 0)
    retriever = Retriever(folder, index_dir=index_dir)
    assert retriever._state.opened.verification is not None
    assert retriever.ask("阿里巴巴花了多少钱入股新浪微博?").hits
    assert retriever._state.opened.verification is None and retriever.index_status == "loaded"


@pytest.mark.e2e
def test_index_command_reports_what_changed(folder, tmp_path):
    env = {"ZHDOCQA_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "retrieval", "index", str(folder)]
    cwd = Path(__file__).resolve().parents[2]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=cwd)
    assert first.returncode == 0, first.stderr
    (folder / "005_new.txt").write_text(NEW_ARTICLE, "utf-8")
    next(iter(sorted(folder.glob("000_*.txt")))).unlink()
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=cwd)
    assert second.returncode == 0, second.stderr
    assert "已更新索引" in second.stdout
    assert "新增 1 个: 005_new.txt" in second.stdout
    assert "删除 1 个: 000_439763a88c0ed7a9.txt" in second.stdout
    assert "重新分词 1 篇" in second.stdout


def test_a_passage_decoded_from_its_own_bytes_is_the_documents_text(seeds):
    mixed = Retriever.from_texts(
        ["ASCII only paragraph one.\n\nASCII paragraph two, longer than the first one.",
         "表情😀与汉字混排的一段。\n\n第二段有𠀀这样的扩展字和 English words。\n\n第三段。"],
        ids=["a", "b"],
    )
    for retriever in (seeds, mixed):
        collection = retriever._state.opened.collection
        for index in range(len(collection)):
            assert collection.passage_text(index) == collection.text_of(collection.passage(index)), index
