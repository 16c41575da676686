"""Cleaning: page furniture dropped by general rules, repeats returned once."""

from __future__ import annotations

import re

import pytest

from retrieval.cleaning import Line, clean, is_boilerplate
from retrieval.documents import _is_dateline
from retrieval.text import normalize

BOILERPLATE_MARKERS = [
    "当前位置",
    "Copyright",
    "ICP备",
    "免责声明",
    "鄭重聲明",
    "熱點資訊",
    "分享到:",
    "相關文章:",
    "给大家分享",
    "就介绍到这",
    "仅提供信息存储服务",
    "放大字体",
    "收藏本頁",
    "太糧集團",  # one of 002's unrelated headlines
]


def _line(text: str) -> Line:
    return Line(0, len(text), text, normalize(text))


@pytest.mark.parametrize(
    "text",
    [
        "当前位置: 首页 » 科技 » 正文",
        "分享到:",
        "相关阅读:",
        "上一篇:某某公司发布新品",
        "Copyright © www.example.com 示例网 All Rights Reserved",
        "京ICP备12345678号-1",
        "本文仅代表作者个人观点,与本站立场无关。",
        "(责任编辑:张三)",
        "•",
    ],
)
def test_page_furniture_is_boilerplate(text):
    assert is_boilerplate(_line(text))


@pytest.mark.parametrize(
    "text",
    [
        "阿里发声明称已暂时停止与微信相关的应用在服务市场的订购。",
        "关闭了第三方页面一键分享的功能后,微信的平台运作方式与微博存在巨大差异。",
        "上线之初,支付宝红包仅支持分享到支付宝好友、来往和微博平台。",
    ],
)
def test_article_sentences_are_kept(text):
    assert not is_boilerplate(_line(text))


def test_no_seed_passage_carries_boilerplate(seeds):
    for index in range(len(seeds)):
        text = seeds.passage_text(index)
        for marker in BOILERPLATE_MARKERS:
            assert marker not in text, (marker, text[:80])


def test_boilerplate_is_never_returned(seeds):
    for question in ["版权所有 转载 侵权", "当前位置 首页 正文", "ICP备案号", "分享到 相关文章", "热点资讯 周排行"]:
        for hit in seeds.search(question, k=10):
            for marker in BOILERPLATE_MARKERS:
                assert marker not in hit.text


def test_repeated_title_is_returned_once(seeds):
    title = "除了电商,阿里还需要一款真正的社交软件"
    texts = [seeds.passage_text(i) for i in range(len(seeds))]
    assert sum(t.count(title) for t in texts) == 1
    hits = seeds.search(title, k=10)
    assert sum(hit.text.count(title) for hit in hits) == 1


def test_repeated_quote_is_returned_once_in_its_body_place(seeds):
    quote = "推产品其实需要庞大资源去支撑"
    hits = [h for h in seeds.search(quote, k=10) if quote in h.text]
    assert len(hits) == 1
    # The teaser copy above the dateline goes; the body copy stays.
    assert hits[0].citation.paragraph > 1


def test_truncated_teaser_of_a_paragraph_is_dropped():
    lead = "在移动互联网时代,阿里要想取得电商业务的破局,更需关注人与人的连接,构建社交平台,另一方面"
    text = f"标题\n发布日期:2016-06-15\n导读\n{lead}\n\n{lead}也是阿里在社交上的尝试。\n"
    cleaned = clean(text, _is_dateline)
    bodies = [line.text for line in cleaned.content if "阿里要想" in line.text]
    assert bodies == [f"{lead}也是阿里在社交上的尝试。"]


def test_headline_list_at_the_end_is_dropped():
    text = "正文第一段,讲的是一件事情。\n- 热点资讯\n- 某公司发布新品\n- 另一则无关新闻\n-\n- 第三则无关新闻\n"
    cleaned = clean(text, _is_dateline)
    assert [line.text for line in cleaned.content] == ["正文第一段,讲的是一件事情。"]


def test_pinyin_noise_is_hidden_from_readers(seeds):
    hits = seeds.search("微博 商業生態 廣告電商", k=5)
    noisy = [h for h in hits if "(yè)" in h.text or "(tài)" in h.text]
    assert noisy, "the traditional article's passages keep the file's characters"
    for hit in noisy:
        assert not re.search(r"\((?:yè|fā|tài|zhàn)\)", hit.display_text)
        # Nothing but the noise was taken out: every other character of the file is shown.
        hidden = sum(end - start for start, end in hit.hidden)
        assert hidden > 0 and len(hit.display_text) == len(hit.text) - hidden
    assert any("電商行業在移動社交時代的新生態," in hit.display_text for hit in noisy)
