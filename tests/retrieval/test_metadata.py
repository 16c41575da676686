"""Metadata: the seeds' citations, detection rules, and the catalog override."""

from __future__ import annotations

import pytest

from retrieval import CatalogError, Retriever

ARTICLE = (
    "首页 » 新闻 » 正文\n"
    "某公司发布年度财报\n"
    "2020年3月5日 10:00 来源:示例日报\n"
    "某公司今天发布了年度财报,营收同比增长百分之二十。分析师认为增长主要来自海外市场。\n"
    "原文链接:https://news.example.com/2020/03/05/report.html\n"
)


def test_seed_citations(seeds):
    docs = {d.doc_id[:3]: d for d in seeds.documents}
    assert docs["000"].title == "阿Q之战:阿里掐断微信淘宝数据接口 与新浪微博账号打通"
    assert (docs["000"].source, docs["000"].date) == ("凤凰科技", "2013-08-01")
    assert docs["001"].title == "阿里新浪共缔微电商"
    assert docs["002"].title == "微博月活躍用戶達1.98億 其中86%來自移動端"
    assert (docs["002"].source, docs["002"].date) == ("中國產業發展研究網", "2015-07-10")
    assert docs["003"].title == "红包大战背后的阿里社交的尝试和经验积累"
    assert (docs["003"].source, docs["003"].date) == ("易商讯", "2016-06-15")
    assert docs["003"].url == "http://www.esxun.cn/dianshang/856.html"
    assert docs["004"].title == "除了电商,阿里还需要一款真正的社交软件"


def test_hit_citation_carries_the_document_metadata(seeds):
    hit = seeds.search("支付宝红包 红包大战 发布日期", k=1)[0]
    assert hit.citation.doc_id == "003_679c830559632711.txt"
    assert hit.citation.source == "易商讯"
    assert hit.citation.date == "2016-06-15"
    assert hit.citation.url == "http://www.esxun.cn/dianshang/856.html"
    assert hit.citation.paragraph >= 1


def test_metadata_detected_in_another_article(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE, "utf-8")
    doc = Retriever.from_directory(tmp_path).documents[0]
    assert doc.title == "某公司发布年度财报"
    assert doc.source == "示例日报"
    assert doc.date == "2020-03-05"
    assert doc.url == "https://news.example.com/2020/03/05/report.html"


def test_date_in_a_body_sentence_is_not_the_publication_date(tmp_path):
    text = "一篇评论\n\n" + "陌陌在2014年12月12日登陆了纳斯达克,这是社交领域的一件大事。" * 3
    (tmp_path / "a.txt").write_text(text, "utf-8")
    doc = Retriever.from_directory(tmp_path).documents[0]
    assert doc.date is None
    assert doc.title == "一篇评论"


def test_no_title_falls_back_to_the_file_name(tmp_path):
    (tmp_path / "notes.txt").write_text("这是一段没有标题的正文,它只有一句话而且很长很长很长很长很长很长很长很长。", "utf-8")
    assert Retriever.from_directory(tmp_path).documents[0].title == "notes"


def test_catalog_overrides_detected_fields(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE, "utf-8")
    (tmp_path / "catalog.toml").write_text('["a.txt"]\ntitle = "人工标题"\nsource = "人工来源"\n', "utf-8")
    doc = Retriever.from_directory(tmp_path).documents[0]
    assert (doc.title, doc.source, doc.date) == ("人工标题", "人工来源", "2020-03-05")


@pytest.mark.parametrize(
    "content, message",
    [
        ('["a.txt"\ntitle = 1', "无法解析"),
        ('["a.txt"]\nauthor = "x"\n', "未知字段"),
        ('["a.txt"]\ndate = "2020-13-45"\n', r'\["a.txt"\] date = \'2020-13-45\' 不是有效日期'),
        ('["a.txt"]\ndate = "2020-02-30"\n', "不是有效日期"),
        ('["a.txt"]\ndate = 2020\n', "应为日期"),
        ('["a.txt"]\ntitle = 3\n', r'\["a.txt"\] title 应为文本'),
        ('["a.txt"]\nurl = "example.com/a"\n', "不是网址"),
    ],
)
def test_bad_catalog_is_a_clear_error(tmp_path, content, message):
    (tmp_path / "a.txt").write_text(ARTICLE, "utf-8")
    (tmp_path / "catalog.toml").write_text(content, "utf-8")
    with pytest.raises(CatalogError, match=message):
        Retriever.from_directory(tmp_path)


def test_catalog_dates_may_be_toml_dates_and_are_kept_iso(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE, "utf-8")
    (tmp_path / "catalog.toml").write_text('["a.txt"]\ndate = 2019-01-02\n', "utf-8")
    assert Retriever.from_directory(tmp_path).documents[0].date == "2019-01-02"


def test_catalog_entry_for_a_missing_file_is_reported_with_its_key(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE, "utf-8")
    (tmp_path / "catalog.toml").write_text('["a.txt"]\ntitle = "甲"\n["b.txt"]\ntitle = "乙"\n', "utf-8")
    retriever = Retriever.from_directory(tmp_path)
    assert retriever.documents[0].title == "甲"
    notes = [(n.doc_id, n.message) for n in retriever.notes]
    assert len(notes) == 1
    assert notes[0][0] == "catalog.toml" and '["b.txt"]' in notes[0][1] and "不存在" in notes[0][1]


def test_markdown_heading_marks_are_not_part_of_the_title(tmp_path):
    (tmp_path / "a.md").write_text("# 拼多多的崛起\n\n拼多多是一家以拼团起家的社交电商公司,用户可以邀请好友一起拼单购买。", "utf-8")
    assert Retriever.from_directory(tmp_path).documents[0].title == "拼多多的崛起"
