"""Text primitives: one normalization for documents and questions, safe display."""

from __future__ import annotations

import random
import unicodedata

import opencc

from retrieval.text import (
    NOISE,
    normalize,
    normalize_with_offsets,
    question_readings,
    replace_surrogates,
    terminal_safe,
)

T2S = opencc.OpenCC("t2s")


def whole_text_normalization(text: str) -> str:
    """The definition: noise out, NFKC and case folding of the whole text, then OpenCC."""
    folded = unicodedata.normalize("NFKC", NOISE.sub("", replace_surrogates(text))).casefold()
    return T2S.convert(folded)


def test_width_case_script_and_noise_are_normalized():
    assert normalize("ＡＰＩ") == "api"
    assert normalize("ApI") == normalize("API")
    assert normalize("產業(yè)發(fā)展") == "产业发展"
    assert normalize("微博月活躍用戶") == "微博月活跃用户"


def test_the_fast_normalization_equals_normalizing_the_whole_text_even_where_characters_compose():
    # Characters that compose or reorder with a neighbour (combining marks in and out of canonical
    # order, Hangul jamo and compatibility jamo, ideographic tone marks), compatibility forms, capitals,
    # traditional characters, conversion noise and surrogates, mixed at random.
    alphabet = (
        list("阿里巴巴產業發展臺灣ＡＰＩａｂApI，。！？（）(yè)　 \n\t①㎞ﬁẞİΣσς")
        + ["\u0301", "\u0308", "\u0323", "\u302a", "\u302e", "\u3099", "\u309a", "e", "か", "ｶ", "ﾞ"]
        + ["\u1100", "\u1161", "\u11a8", "\u3131", "\u314f", "가", "\uffa1", "\ud800", "\u00a8", "\u0344"]
    )
    rng = random.Random(15)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert normalize(text) == whole_text_normalization(text), repr(text)
    for code in [*range(0x3400), *range(0xA000, 0xD800), *range(0xF900, 0x10000)]:  # the BMP but ideographs
        char = chr(code)
        for text in (char, "a" + char + "\u0301", "\u1100" + char, "가" + char):
            assert normalize(text) == whole_text_normalization(text), repr(text)


def test_offsets_point_into_the_original():
    original = "產業(yè)發(fā)展 ＡＰＩ"
    normalized, offsets = normalize_with_offsets(original)
    assert normalized == normalize(original)
    assert original[offsets[normalized.index("发")]] == "發"
    assert original[offsets[normalized.index("a")]] == "Ａ"


def test_lone_surrogates_are_replaced_not_raised():
    assert replace_surrogates("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert normalize("\ud800阿里") == "\ufffd阿里"
    normalized, offsets = normalize_with_offsets("\udcff微博")
    assert normalized == "\ufffd微博" and offsets == [0, 1, 2]


def test_every_kind_of_escape_sequence_is_removed_for_the_terminal():
    attacks = {
        "osc52 clipboard": "\x1b]52;c;ZWNobyBoaQ==\x07",
        "osc52 with ST": "\x1b]52;c;ZWNobw==\x1b\\",
        "clear screen": "\x1b[2J\x1b[H",
        "osc8 link": "\x1b]8;;http://evil.example\x1b\\点我\x1b]8;;\x1b\\",
        "colour": "\x1b[31m红\x1b[0m",
        "c1 csi": "\x9b2J",
        "dcs": "\x1bPq#0;2;0;0;0\x1b\\",
        "bell and backspace": "\x07\x08",
        "bidi override": "\u202eabc",
        "carriage return spoof": "真的\r假的",
    }
    for name, attack in attacks.items():
        cleaned = terminal_safe(f"前{attack}后")
        assert "\x1b" not in cleaned and "\x9b" not in cleaned, name
        assert not any(ord(c) < 32 and c != "\n" for c in cleaned), name
        assert "\u202e" not in cleaned, name
        assert cleaned.startswith("前") and cleaned.endswith("后"), name
    assert terminal_safe("第一行\n第二行") == "第一行\n第二行"
    assert terminal_safe("第一行\n第二行", keep_newlines=False) == "第一行第二行"


def test_mainland_reading_only_of_taiwan_words_in_traditional_script():
    assert question_readings("圖書館的無線網路叫什麼名字?") == ("图书馆的无线网路叫什么名字?", "图书馆的无线网络叫什么名字?")
    assert question_readings("電商的使用者") == ("电商的使用者", "电商的用户")
    # Traditional script in the mainland's words: nothing to read differently.
    assert question_readings("微博用戶") == ("微博用户",)
    # Simplified text is never rewritten, though the phrase table would (核心 → 内核, 建立 → 创建).
    assert question_readings("系统核心是怎么建立的?") == ("系统核心是怎么建立的?",)
    assert question_readings("") == ("",)
