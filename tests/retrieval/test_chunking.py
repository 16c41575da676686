"""Chunking: headings join their paragraph, broken lines rejoin, long ones split."""

from __future__ import annotations

from retrieval import Retriever
from retrieval.chunking import MAX_PASSAGE
from retrieval.seeds import seeds_folder


def _passages(text: str) -> list[str]:
    retriever = Retriever.from_texts([text])
    return [retriever.passage_text(i) for i in range(len(retriever))]


def test_heading_joins_the_paragraph_below():
    text = "第一节 背景\n\n这是第一段正文,介绍了事件的来龙去脉和各方的反应。\n\n这是第二段正文,讲的是后来的发展。"
    assert _passages(text) == [
        "第一节 背景\n这是第一段正文,介绍了事件的来龙去脉和各方的反应。",
        "这是第二段正文,讲的是后来的发展。",
    ]


def test_paragraph_broken_mid_sentence_is_joined():
    text = "另外一个纠结的话题在于互联网公司可能过度夸大了线下中小商家对于互联网渠道的流量需求\n,按照他的经验判断,线上流量能占一成就已经很高了。"
    passages = _passages(text)
    assert len(passages) == 1
    assert "流量需求\n,按照" in passages[0]


def test_long_paragraph_is_split_at_sentence_ends():
    sentence = "这是一个用来测试切分的句子,它有一些长度但并不算太长。"
    text = sentence * 40
    passages = _passages(text)
    assert len(passages) > 1
    assert all(len(p) <= MAX_PASSAGE + len(sentence) for p in passages)
    assert all(p.endswith("。") for p in passages)
    assert "".join(passages) == text


def test_ascii_question_marks_end_sentences():
    text = ("为什么会这样?因为市场变了!" * 30)
    passages = _passages(text)
    assert len(passages) > 1
    assert all(p[-1] in "?!" for p in passages)


def test_passages_know_their_offsets_and_paragraph(seeds):
    hit = seeds.search("腾讯模仿泡泡堂推出QQ堂", k=1)[0]
    assert hit.citation.doc_id == "004_2879f3147d2cb423.txt"
    text = (seeds_folder() / hit.citation.doc_id).read_text("utf-8")
    # The passage is the file's own characters, at the offsets it reports.
    assert text[hit.start : hit.end].startswith(hit.text.split("\n")[0])
    assert hit.text.split("\n")[-1] in text[hit.start : hit.end]
    assert hit.citation.paragraph == 2


def test_seed_passages_are_paragraph_sized(seeds):
    lengths = [len(seeds.passage_text(i)) for i in range(len(seeds))]
    assert max(lengths) < 2 * MAX_PASSAGE
    assert sum(lengths) / len(lengths) > 80
