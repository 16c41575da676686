"""The terminal adapter in subprocesses: batch mode, ask, JSON, plain output, bad input."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

QUESTION = "腾讯模仿泡泡堂做了哪个游戏?"
TRAD_DOC_QUESTION = "微博和淘宝电影合作预售,4天卖了多少张票?"


def test_ask_prints_the_best_sentence_and_cited_passages(run_bot):
    result = run_bot("ask", QUESTION, "--k", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("答: ") and "模仿泡泡堂推出QQ堂" in lines[0]
    assert "[1] 《除了电商,阿里还需要一款真正的社交软件》 · 004_2879f3147d2cb423.txt:7" in result.stdout
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
    assert set(top) == {"rank", "score", "text", "display_text", "highlights", "start", "end", "file_text", "citation"}
    assert top["rank"] == 1 and top["score"] > 0
    assert top["citation"] == {
        "doc_id": "002_57e5c7049564172a.txt",
        "path": "002_57e5c7049564172a.txt",
        "lines": top["citation"]["lines"],
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
    result = run_bot("ask", "北京今天的空气质量怎么样?", "--json")
    assert result.returncode == 1  # no answer, as grep says "no match"
    document = json.loads(result.stdout)
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
    assert "5. 《除了电商,阿里还需要一款真正的社交软件》 · 004_2879f3147d2cb423.txt · 17 段" in result.stdout
    assert "\x1b" not in result.stdout


def test_no_answer_says_so_and_points_to_a_command_that_lists_the_documents(run_bot):
    result = run_bot("ask", "iPhone的电池怎么换?")
    assert result.returncode == 1
    assert result.stdout.startswith("没有答案")
    assert ":sources" not in result.stdout  # a REPL command means nothing outside the REPL
    assert "zhdocqa info" in result.stdout


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
    assert result.returncode == 2  # the over-long paste could not be asked; the session went on all the same
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


# -- hostile documents and input -----------------------------------------------------------

HOSTILE = (
    "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b]8;;http://evil.example\x1b\\阿里巴巴宣布以5.86亿美元买入新浪微博18%股份"
    "\x1b]8;;\x1b\\,双方将在数据交换等领域合作。\u202e真的\n"
)


def _hostile_corpus(tmp_path):
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "a\x1b[31m.txt").write_text("\x1b]0;spoofed title\x07" + HOSTILE, "utf-8")
    (folder / "b.txt").write_text("腾讯发布了新的微信版本,增加了红包功能。", "utf-8")
    (folder / "bad\x1b]52;c;eA==\x07.txt").write_bytes(bytes(range(256)) * 4)
    return folder


def test_escape_sequences_from_documents_never_reach_the_terminal(run_bot, tmp_path):
    folder = _hostile_corpus(tmp_path)
    for args in (("ask", "阿里巴巴花了多少钱买新浪微博股份?"), ("ask", "阿里巴巴股份", "--k", "3")):
        result = run_bot(*args, "--corpus", str(folder))
        # Answered (0) or unsure (1): the answer model is unsure on a two-document folder; the passages show either way.
        assert result.returncode in (0, 1), result.stderr
        for stream in (result.stdout, result.stderr):
            assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
        assert "5.86亿美元" in result.stdout
    batch = run_bot("--corpus", str(folder), input="阿里巴巴股份\n:full 1\n:sources\n")
    assert "\x1b" not in batch.stdout + batch.stderr and "\x07" not in batch.stdout + batch.stderr
    assert "5.86亿美元" in batch.stdout


def test_skip_warnings_print_once_per_build(run_bot, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("腾讯发布了新的微信版本,增加了红包功能。", "utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    first = run_bot("ask", "微信红包", "--corpus", str(folder))
    assert first.stderr.count("binary.txt") == 1 and "已跳过 binary.txt" in first.stderr
    second = run_bot("ask", "微信红包", "--corpus", str(folder))
    assert "binary.txt" not in second.stderr


def test_batch_answers_every_line_it_can(run_bot):
    data = "腾讯模仿泡泡堂做了哪个游戏?\n\xff\xfe阿里巴巴入股新浪微博\n" + "长" * 600 + "\n微博和淘宝电影合作预售,4天卖了多少张票?\n"
    result = run_bot(input=data.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    assert "Traceback" not in result.stderr
    assert result.returncode == 2  # one line could not be asked
    assert result.stdout.count("答:") >= 2
    assert "问题太长" in result.stdout


def test_batch_survives_bytes_that_are_not_utf8(bot_env):
    import subprocess
    import sys
    from pathlib import Path

    data = "腾讯模仿泡泡堂做了哪个游戏?\n".encode() + b"\xff\xfe\xe9\n" + "微博和淘宝电影合作预售,4天卖了多少张票?\n".encode()
    result = subprocess.run(
        [sys.executable, "-m", "bot"], input=data, capture_output=True, env=bot_env, timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    out = result.stdout.decode("utf-8")
    # The undecodable line became U+FFFD only: nothing to search, so not answered (1), and the batch went on.
    assert result.returncode == 1, result.stderr.decode("utf-8", "replace")
    assert out.count("答:") == 2
    assert "60多萬張影票" in out or "60多万张影票" in out


def test_ask_with_a_lone_surrogate_in_argv(run_bot, bot_env):
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"bot", b"ask", "阿里巴巴花了多少钱".encode() + b"\xff" + "入股新浪微博?".encode()],
        capture_output=True, env=bot_env, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert "答:" in result.stdout.decode("utf-8")



def test_piped_follow_ups_only_with_conversation(run_bot):
    lines = "京东每天的流量有多少?\n那腾讯呢?\n"
    alone = run_bot(input=lines)
    assert "理解为" not in alone.stdout
    followed = run_bot("--conversation", input=lines)
    assert "理解为: 腾讯每天的流量有多少?" in followed.stdout
    assert "300亿" in followed.stdout.split("理解为")[1]
