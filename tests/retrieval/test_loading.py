"""Files to text: encodings, skipped files, missing and empty folders."""

from __future__ import annotations

import pytest

from retrieval import CorpusError, Retriever
from retrieval.loading import read_folder

ARTICLE = "阿里巴巴宣布以5.86亿美元买入新浪微博18%股份。双方将在用户账户互通、数据交换等领域进行深入合作。"
TRADITIONAL = "微博月活躍用戶達到1.98億,其中86%來自移動端。這是無論商家還是電商平臺都無法忽略的。"


def test_reads_utf8_with_and_without_bom_gb18030_and_big5(tmp_path):
    (tmp_path / "plain.txt").write_bytes(ARTICLE.encode("utf-8"))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + ARTICLE.encode("utf-8"))
    (tmp_path / "gb.txt").write_bytes(ARTICLE.encode("gb18030"))
    (tmp_path / "big5.md").write_bytes(TRADITIONAL.encode("big5"))
    folder = read_folder(tmp_path)
    by_id = {t.doc_id: t for t in folder.texts}
    assert folder.skipped == [] and folder.notes == []
    assert by_id["plain.txt"].text == ARTICLE
    assert by_id["bom.txt"].text == ARTICLE  # the BOM is not part of the text
    assert by_id["gb.txt"].text == ARTICLE
    assert by_id["big5.md"].text == TRADITIONAL


def test_gb18030_document_is_searchable(tmp_path):
    (tmp_path / "gb.txt").write_bytes(ARTICLE.encode("gb18030"))
    (tmp_path / "other.txt").write_text("腾讯发布了新的微信版本,增加了红包功能。", "utf-8")
    hits = Retriever.from_directory(tmp_path).search("阿里巴巴买入新浪微博多少股份?", k=1)
    assert hits[0].citation.doc_id == "gb.txt"
    assert "18%股份" in hits[0].text


def test_undecodable_file_is_named_and_skipped(tmp_path):
    (tmp_path / "good.txt").write_text(ARTICLE, "utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    retriever = Retriever.from_directory(tmp_path)
    assert [s.doc_id for s in retriever.skipped] == ["binary.txt"]
    assert "编码" in retriever.skipped[0].reason
    assert [d.doc_id for d in retriever.documents] == ["good.txt"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="不存在"):
        Retriever.from_directory(tmp_path / "nowhere")


def test_folder_without_documents_is_a_clear_error(tmp_path):
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match=r"没有 \.txt 或 \.md"):
        Retriever.from_directory(tmp_path)


def test_folder_of_unreadable_files_names_them(tmp_path):
    (tmp_path / "a.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty.txt").write_text("  \n", "utf-8")
    with pytest.raises(CorpusError, match="a.txt") as error:
        Retriever.from_directory(tmp_path)
    assert "empty.txt" in str(error.value)


def test_subfolders_are_read_and_hidden_files_left_out(tmp_path):
    (tmp_path / "2013").mkdir()
    (tmp_path / "2013" / "deal.txt").write_text(ARTICLE, "utf-8")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "old.txt").write_text(TRADITIONAL, "utf-8")
    retriever = Retriever.from_directory(tmp_path)
    assert [d.doc_id for d in retriever.documents] == ["2013/deal.txt"]


def test_from_texts_ids_and_errors():
    retriever = Retriever.from_texts([ARTICLE, TRADITIONAL], ids=["deal", "weibo"])
    assert [d.doc_id for d in retriever.documents] == ["deal", "weibo"]
    assert [d.doc_id for d in Retriever.from_texts([ARTICLE]).documents] == ["0"]
    with pytest.raises(CorpusError, match="数量"):
        Retriever.from_texts([ARTICLE], ids=["a", "b"])
    with pytest.raises(CorpusError):
        Retriever.from_texts(["", "   "])
