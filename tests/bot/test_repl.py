"""The REPL driven through a pseudo-terminal, keystroke by keystroke."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.e2e

PROMPT = "问>"  # prompt_toolkit draws the trailing space as a cursor move
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[=>]|\r")


@pytest.fixture
def repl(bot_env):
    child = pexpect.spawn(
        sys.executable, ["-m", "bot"], env={**bot_env, "PROMPT_TOOLKIT_NO_CPR": "1"}, encoding="utf-8", timeout=60, dimensions=(40, 100),
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    child.expect("已载入 5 篇文档")
    child.expect_exact(PROMPT)
    yield child
    child.close(force=True)


def _screen(text: str) -> str:
    return ANSI.sub("", text)


# The next prompt: at the start of a line, after whatever the answer printed.
NEXT_PROMPT = re.compile(r"\n(?:\x1b\[[0-9;?]*[ -/]*[@-~]|\r)*问>")


def _ask(child, line: str) -> str:
    child.sendline(line)
    child.expect(NEXT_PROMPT)
    return _screen(child.before)


def test_question_shows_best_sentence_and_citation(repl):
    out = _ask(repl, "腾讯模仿泡泡堂做了哪个游戏?")
    assert "答:" in out
    assert "[1] 《除了电商,阿里还需要一款真正的社交软件》 · 004_2879f3147d2cb423.txt:7" in out
    assert "泡泡堂" in out


def test_k_more_full_sources_and_unknown_command(repl):
    assert "每次显示 2 段" in _ask(repl, ":k 2")
    out = _ask(repl, "阿里巴巴花了多少钱入股新浪微博?")
    assert "[2] " in out and "[3] " not in out
    more = _ask(repl, ":more")
    assert "[3] " in more and "[4] " in more and "[5] " not in more
    full = _ask(repl, ":full 1")
    assert "《阿里新浪共缔微电商》 · 001_6343723039a13da3.txt:2-3" in full
    assert "¶2" in full  # the neighbouring paragraph too
    sources = _ask(repl, ":sources")
    for number in range(1, 6):
        assert f"{number}. 《" in sources
    assert "凤凰科技 · 2013-08-01 · 000_439763a88c0ed7a9.txt · 28 段" in sources.replace("\n", "")
    unknown = _ask(repl, ":frobnicate")
    assert "未知命令 :frobnicate" in unknown and ":sources" in unknown


def test_no_answer_points_to_sources(repl):
    out = _ask(repl, "北京今天的空气质量怎么样?")
    assert "没有答案" in out and ":sources" in out


def test_ctrl_c_clears_a_half_typed_line(repl):
    repl.send("阿里巴巴花了多少钱")
    repl.sendcontrol("c")
    repl.expect(NEXT_PROMPT)
    out = _ask(repl, "腾讯模仿泡泡堂做了哪个游戏?")
    # Only the new question was asked: its answer, not the discarded words'.
    assert "《除了电商,阿里还需要一款真正的社交软件》 · 004_2879f3147d2cb423.txt:7" in out
    assert "5.86亿美元" not in out


def test_ctrl_d_exits_and_history_is_kept(repl, bot_env):
    _ask(repl, "谁说来往是阿里的战术性产品?")
    repl.sendcontrol("d")
    repl.expect("再见")
    repl.expect(pexpect.EOF)
    repl.close()
    assert repl.exitstatus == 0
    history = Path(bot_env["XDG_DATA_HOME"]) / "zhdocqa" / "history"
    assert "谁说来往是阿里的战术性产品?" in history.read_text("utf-8")


def test_quit_command_and_wide_character_editing(repl):
    # Type, erase two wide characters with backspace, finish: the edited line is asked.
    repl.send("腾讯模仿泡泡堂做了哪个游戏?XX")
    repl.send("\x7f\x7f")
    out = _ask(repl, "")
    assert "《除了电商,阿里还需要一款真正的社交软件》" in out
    repl.sendline(":quit")
    repl.expect(pexpect.EOF)


def test_documents_cannot_write_escape_sequences_to_the_terminal(bot_env, tmp_path):
    from tests.bot.test_cli import _hostile_corpus

    folder = _hostile_corpus(tmp_path)
    child = pexpect.spawn(
        sys.executable, ["-m", "bot", "--corpus", str(folder)], env={**bot_env, "PROMPT_TOOLKIT_NO_CPR": "1"},
        encoding="utf-8", timeout=60, dimensions=(40, 100), cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        child.expect_exact(PROMPT)
        seen = child.before
        for line in ("阿里巴巴花了多少钱买新浪微博股份?", ":full 1", ":sources"):
            child.sendline(line)
            child.expect(NEXT_PROMPT)
            seen += child.before
        assert "5.86亿美元" in seen
        for attack in ("\x1b]52;", "\x1b[2J", "\x1b]8;;http://evil", "\x1b]0;spoofed", "\x07", "\u202e"):
            assert attack not in seen, repr(attack)
    finally:
        child.close(force=True)


def test_follow_ups_and_new(repl):
    _ask(repl, "京东每天的流量有多少?")
    out = _ask(repl, "那腾讯呢?")
    assert "理解为: 腾讯每天的流量有多少?" in out and "300亿" in out
    assert "重新开始" in _ask(repl, ":new")
    assert "理解为" not in _ask(repl, "那腾讯呢?")


def test_unsure_answer_shows_related_passages_and_more_repeats_none(repl):
    _ask(repl, ":k 3")
    out = _ask(repl, "阿里花了多少钱投资陌陌?")  # the seeds tell of it, not its price
    assert "不确定:" in out and "答:" not in out
    assert "[3] " in out and "[4] " not in out
    more = _ask(repl, ":more")
    assert "[4] " in more
    cited = re.compile(r"\[\d+\] (《[^》]+》[^\n]*?\.txt:\d+(?:-\d+)?)")
    first, then = cited.findall(out), cited.findall(more)
    assert len(first) == 3 and then and not set(first) & set(then)


def test_open_filter_and_a_question_under_the_filter(repl):
    out = _ask(repl, "阿里巴巴花了多少钱入股新浪微博?")
    assert "001_6343723039a13da3.txt:2-3" in out
    opened = _ask(repl, ":open 1")
    assert "seeds/001_6343723039a13da3.txt:2-3" in opened
    assert "2 │ 阿里巴巴入股新浪微博" in opened and "3 │ 阿里巴巴宣布" in opened
    filtered_prompt = re.compile(r"\n(?:\x1b\[[0-9;?]*[ -/]*[@-~]|\r)*问\[source=易商讯\]>")
    repl.sendline(":filter source=易商讯")
    repl.expect(filtered_prompt)  # the filter shows in the prompt
    assert "符合的文档 1 篇" in _screen(repl.before)
    repl.sendline("来往是什么?")
    repl.expect(filtered_prompt)
    filtered = _screen(repl.before)
    assert "易商讯 · 2016-06-15 · 003_679c830559632711.txt:" in filtered
    for other in ("000_", "001_", "002_", "004_"):
        assert other not in filtered
    repl.sendline(":filter off")
    repl.expect(NEXT_PROMPT)
    assert "已取消筛选" in _screen(repl.before)


def test_full_width_colon_commands(repl):
    assert "每次显示 2 段" in _ask(repl, "：k 2")
    assert "1. 《" in _ask(repl, "：sources")
    out = _ask(repl, "阿里巴巴花了多少钱入股新浪微博?")
    assert "[2] " in out and "[3] " not in out
    assert "[3] " in _ask(repl, "：more")


def test_more_after_an_abstention_says_there_was_no_answer(repl):
    _ask(repl, "北京今天的空气质量怎么样?")
    more = _ask(repl, ":more")
    assert "没有答案" in more and "先提一个问题" not in more


def test_escape_sequences_typed_key_by_key_do_not_end_the_session(repl):
    import time

    for key in ("\x1b", "[", "2", "J"):
        repl.send(key)
        time.sleep(0.15)
    repl.send("\r")
    repl.expect(NEXT_PROMPT)
    out = _ask(repl, "腾讯模仿泡泡堂做了哪个游戏?")
    assert "模仿泡泡堂推出QQ堂" in out
    assert repl.isalive()


def test_repl_notices_a_document_added_while_it_runs(bot_env, tmp_path):
    import shutil
    import time

    from retrieval.seeds import seeds_folder

    folder = tmp_path / "docs"
    shutil.copytree(seeds_folder(), folder)
    child = pexpect.spawn(
        sys.executable, ["-m", "bot", "--corpus", str(folder), "--reload-interval", "0.2"],
        env={**bot_env, "PROMPT_TOOLKIT_NO_CPR": "1"}, encoding="utf-8", timeout=60, dimensions=(40, 100),
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        child.expect("已载入 5 篇文档")
        child.expect_exact(PROMPT)
        (folder / "005_new.txt").write_text(
            "星河量子在杭州成立\n\n星河量子公司于2021年在杭州成立,创始人是李明远,主要研发超导量子芯片。\n", "utf-8"
        )
        time.sleep(3)
        out = _ask(child, "星河量子公司的创始人是谁?")
        assert "文档已更新: 新增 005_new.txt" in out
        assert "李明远" in out and "《星河量子在杭州成立》" in out
        (folder / "005_new.txt").unlink()
        time.sleep(0.5)
        out = _ask(child, ":reload")  # the poll may have been first: then it says so before the command's reply
        assert "删除 005_new.txt" in out
        assert "文档目录没有变化" in _ask(child, ":reload")
        assert "星河量子" not in _ask(child, ":sources")
    finally:
        child.close(force=True)
