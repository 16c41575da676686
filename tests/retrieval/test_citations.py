"""Citations a reader can check: the file's path and the lines the passage stands on."""

from __future__ import annotations

import pytest

from retrieval import Filter, Retriever
from retrieval.collection import _line_at
from retrieval.seeds import seeds_folder
from retrieval.text import line_range, line_starts


def _all_hits(retriever: Retriever, doc_id: str, title: str):
    """Every passage of one document that shares a term with its title (most of them)."""
    return retriever.search(title, k=1000, filters=Filter(docs=(doc_id,)))


def _check_hit(hit, data: str) -> None:
    """The hit's lines of the file hold its text, and file_text is the file's characters at its offsets."""
    lines = data.splitlines(keepends=True)
    first, last = hit.citation.lines
    assert 1 <= first <= last <= len(lines)
    assert hit.file_text == data[hit.start : hit.end]
    shown = "".join(lines[first - 1 : last])
    for piece in hit.text.split("\n"):
        assert piece in shown, (hit.citation.path, first, last, piece[:20])
    # The range is tight: the first and last lines hold the passage's first and last pieces.
    assert hit.text.split("\n")[0] in lines[first - 1]
    assert hit.text.split("\n")[-1] in lines[last - 1]


@pytest.mark.parametrize("number", range(5))
def test_every_hit_of_every_seed_points_at_lines_that_hold_its_text(seeds, number):
    document = seeds.documents[number]
    data = (seeds_folder() / document.doc_id).read_bytes().decode("utf-8-sig")
    hits = _all_hits(seeds, document.doc_id, document.title)
    assert len(hits) >= document.passages // 2
    for hit in hits:
        assert hit.citation.path == document.doc_id
        _check_hit(hit, data)


def test_the_issue_example_paragraph_17_is_line_25(seeds):
    hit = next(h for h in seeds.search("纳斯达克 新浪", k=50) if h.citation.doc_id.startswith("001"))
    assert hit.citation.paragraph == 17 and hit.citation.lines == (25, 25)


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_numbers_count_crlf_lf_and_cr_as_an_editor_does(tmp_path, newline):
    body = ["这是第一段,讲的是别的事情,和后面的内容没有什么关系。", "", "", "拼多多是一家以拼团起家的社交电商公司,", "用户可以邀请好友一起拼单购买。", "", "第二段讲阿里巴巴入股新浪微博的事情。"]
    data = newline.join(body) + newline
    (tmp_path / "a.txt").write_bytes(data.encode("utf-8"))
    retriever = Retriever.from_directory(tmp_path)
    hit = retriever.search("拼团起家", k=1)[0]
    assert hit.citation.path == "a.txt"
    assert hit.citation.lines == (4, 5)
    assert hit.file_text == data[hit.start : hit.end]
    assert hit.file_text == "拼多多是一家以拼团起家的社交电商公司," + newline + "用户可以邀请好友一起拼单购买。"
    assert hit.text == "拼多多是一家以拼团起家的社交电商公司,\n用户可以邀请好友一起拼单购买。"
    assert retriever.lines(hit) == ((4, "拼多多是一家以拼团起家的社交电商公司,"), (5, "用户可以邀请好友一起拼单购买。"))
    other = retriever.search("新浪微博", k=1)[0]
    assert other.citation.lines == (7, 7)


def test_paths_in_subfolders_use_forward_slashes(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "b.md").write_text("# 标题\n\n腾讯发布了新的微信版本,增加了红包功能。", "utf-8")
    (tmp_path / "c.txt").write_text("无关的内容在这里。", "utf-8")
    hit = Retriever.from_directory(tmp_path).search("微信红包", k=1)[0]
    assert hit.citation.path == "sub/deeper/b.md"
    assert hit.citation.lines == (1, 3)


def test_a_saved_and_reloaded_index_gives_the_same_citations(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes("这是头一段,讲的是别的事情,和后面没有关系。\r\n\r\n腾讯发布了新的微信版本,\r\n增加了红包功能。\r\n".encode())
    built = Retriever(folder, index_dir=tmp_path / "index").search("红包", k=1)[0]
    loaded_retriever = Retriever(folder, index_dir=tmp_path / "index")
    assert loaded_retriever.index_status == "loaded"
    loaded = loaded_retriever.search("红包", k=1)[0]
    assert built.citation == loaded.citation and loaded.citation.lines == (3, 4)
    assert loaded.file_text == "腾讯发布了新的微信版本,\r\n增加了红包功能。"


def test_lines_counted_in_the_passage_bytes_agree_with_the_decoded_file_for_mixed_line_breaks(tmp_path):
    pieces = ["标题行", "第一段讲阿里巴巴,没有句号", "接着讲微博的事情。", "", "第二段 café 与 𠀋字,讲腾讯的红包。", "",
              "第三段很短。", "第四段讲拼多多的拼团玩法,用户邀请好友。", "", "最后一段讲京东的物流。"]
    breaks = ["\r\n", "\r", "\n", "\r\n", "\r\r\n", "\n\r", "\r\n", "\r\n\r\n", "\n", "\r"]
    data = "".join(p + b for p, b in zip(pieces, breaks, strict=True))
    (tmp_path / "mixed.txt").write_bytes(data.encode("utf-8"))
    retriever = Retriever.from_directory(tmp_path)
    collection = retriever._state.opened.collection
    starts = line_starts(data)
    assert len(collection) >= 3
    for index in range(len(collection)):
        passage = collection.passage(index)
        assert collection.file_text(passage) == data[passage.start : passage.end]
        assert collection.lines_of(passage) == line_range(starts, passage.start, passage.end)
    # Every character, including the LF of a CRLF (no passage starts there, but the count must hold anywhere).
    encoded = data.encode("utf-8")
    place = [len(data[:at].encode("utf-8")) for at in range(len(data) + 1)]
    for at in range(len(data) + 1):
        line = line_range(starts, at, at + 1)[0]
        assert _line_at(encoded, place[at]) == line, at
        for since in range(at + 1):  # counted on from an earlier character's line
            assert _line_at(encoded, place[at], place[since], line_range(starts, since, since + 1)[0]) == line
