"""The terminal adapter in subprocesses: batch mode, ask, JSON, plain output, bad input."""

from __future__ import annotations

import json

QUESTION = "腾讯模仿泡泡堂做了哪个游戏?"
TRAD_DOC_QUESTION = "微博和淘宝电影合作预售,4天卖了多少张票?"


def test_ask_prints_the_best_sentence_and_cited_passages(run_bot):
    result = run_bot("ask", QUESTION, "--k", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("答: ") and "模仿泡泡堂推出QQ堂" in lines[0]
    assert "[1] 《除了电商,阿里还需要一款真正的社交软件》 · ¶2" in result.stdout
    assert "[2] " in result.stdout and "[3] " not in result.stdout
    assert "\x1b" not in result.stdout  # not a terminal: no escape codes
    assert all(line == line.rstrip() for line in lines)


def test_ask_json_is_a_stable_document(run_bot):
    result = run_bot("ask", TRAD_DOC_QUESTION, "--json", "--k", "3")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {
        "question", "abstained", "reason", "missing_words", "best_sentence", "outcome", "confidence", "hits"
    }
    assert document["question"] == TRAD_DOC_QUESTION
    assert document["abstained"] is False and document["reason"] is None
    assert document["outcome"] == "answered" and 0 < document["confidence"] <= 1
    assert "60多萬張影票" in document["best_sentence"]
    assert len(document["hits"]) == 3
    top = document["hits"][0]
    assert set(top) == {"rank", "score", "text", "display_text", "highlights", "start", "end", "citation"}
    assert top["rank"] == 1 and top["score"] > 0
    assert top["citation"] == {
        "doc_id": "002_57e5c7049564172a.txt",
        "title": "微博月活躍用戶達1.98億 其中86%來自移動端",
        "source": "中國產業發展研究網",
        "date": "2015-07-10",
        "url": None,
        "paragraph": top["citation"]["paragraph"],
    }
    assert "賣出60多萬張影票" in top["text"]
    for start, end in top["highlights"]:
        assert 0 <= start < end <= len(top["text"])
    assert "預售" in [top["text"][s:e] for s, e in top["highlights"]]
    # The model's order, which can differ from the BM25 scores'.
    assert [hit["rank"] for hit in document["hits"]] == [1, 2, 3]


def test_ask_json_for_an_unanswerable_question(run_bot):
    document = json.loads(run_bot("ask", "北京今天的空气质量怎么样?", "--json").stdout)
    assert document["abstained"] is True
    assert document["outcome"] == "no_answer"
    assert document["best_sentence"] is None
    assert "空气质量" in document["missing_words"]


def test_batch_mode_answers_each_line_and_exits(run_bot):
    result = run_bot(input=f"{QUESTION}\n\n{TRAD_DOC_QUESTION}\n:sources\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("问> ") == 3  # the blank line is skipped
    assert "模仿泡泡堂推出QQ堂" in result.stdout
    assert "賣出60多萬張影票" in result.stdout
    assert "5. 《除了电商,阿里还需要一款真正的社交软件》 · 17 段" in result.stdout
    assert "\x1b" not in result.stdout


def test_no_answer_says_so_and_points_to_sources(run_bot):
    result = run_bot("ask", "iPhone的电池怎么换?")
    assert result.stdout.startswith("没有答案")
    assert ":sources" in result.stdout


def test_no_color_on_a_terminal_has_no_escape_codes(bot_env):
    import sys

    import pexpect

    output, status = pexpect.run(
        f"{sys.executable} -m bot ask {QUESTION}",
        env={**bot_env, "NO_COLOR": "1"},
        withexitstatus=True,
        timeout=120,
        encoding="utf-8",
    )
    assert status == 0
    assert "模仿泡泡堂推出QQ堂" in output
    assert "\x1b" not in output
    colored, _ = pexpect.run(
        f"{sys.executable} -m bot ask {QUESTION}", env=bot_env, withexitstatus=True, timeout=120, encoding="utf-8"
    )
    assert "\x1b[" in colored  # the same on a terminal without NO_COLOR is coloured


def test_corpus_flag_uses_another_folder(run_bot, tmp_path):
    (tmp_path / "pdd.txt").write_text("拼多多发布财报\n\n拼多多是一家以拼团起家的社交电商公司,用户可以邀请好友一起拼单购买。", "utf-8")
    (tmp_path / "other.md").write_text("# 天气\n\n今天北京晴,空气质量良好。", "utf-8")
    result = run_bot("ask", "拼多多靠什么起家?", "--corpus", str(tmp_path), "--json")
    document = json.loads(result.stdout)
    assert document["hits"][0]["citation"]["doc_id"] == "pdd.txt"
    assert document["hits"][0]["citation"]["title"] == "拼多多发布财报"
    batch = run_bot("--corpus", str(tmp_path), input=":sources\n")
    assert "1. 《天气》" in batch.stdout or "《天气》" in batch.stdout
    assert "《拼多多发布财报》" in batch.stdout


def test_bad_input_gets_one_clear_line_and_the_session_goes_on(run_bot):
    paste = "微信" * 5000
    lines = ["😀🎉", paste, "\x1b[31m\x07" + QUESTION, "   ", ":k 99", ":full 7", QUESTION]
    result = run_bot(input="\n".join(lines) + "\n")
    assert result.returncode == 0
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    assert "问题里没有可以检索的词语" in out
    assert "问题太长(10000 字)" in out
    assert out.count("模仿泡泡堂推出QQ堂") >= 2  # the control characters were dropped
    assert "用法: :k N" in out
    assert "用法: :full N" in out


def test_unreadable_corpus_folder_is_one_clear_line(run_bot, tmp_path):
    missing = run_bot("ask", QUESTION, "--corpus", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0
    assert "不存在" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "bad.txt").write_bytes(bytes(range(256)) * 8)
    unreadable = run_bot("--corpus", str(tmp_path), input=QUESTION + "\n")
    assert unreadable.returncode == 2
    assert "bad.txt" in unreadable.stderr and "Traceback" not in unreadable.stderr


def test_bad_k_flag_is_refused(run_bot):
    result = run_bot("ask", QUESTION, "--k", "0")
    assert result.returncode == 2
    assert "--k" in result.stderr
