"""The `zhdocqa` command as a shell script uses it: exit codes, JSON Lines, colour, settings, filters, info."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.e2e

ANSWERED = "腾讯模仿泡泡堂做了哪个游戏?"
UNANSWERED = "北京今天的空气质量怎么样?"


def test_version_and_help_in_chinese_with_examples_environment_and_exit_codes(run_bot):
    version = run_bot("--version")
    assert version.returncode == 0 and version.stdout.startswith("zhdocqa ")
    help_text = run_bot("--help").stdout
    for heading in ("用法:", "示例:", "环境变量:", "退出码:", "子命令:"):
        assert heading in help_text
    for name in ("ZHDOCQA_CORPUS", "ZHDOCQA_K", "ZHDOCQA_CONFIG", "ZHDOCQA_CACHE_DIR", "NO_COLOR"):
        assert name in help_text
    for command in ("ask", "repl", "index", "info", "telegram", "eval"):
        assert command in help_text
    assert "usage:" not in help_text and "options:" not in help_text
    assert "用法: zhdocqa ask" in run_bot("ask", "--help").stdout


@pytest.mark.parametrize(
    "args, code",
    [
        (("ask", ANSWERED), 0),
        (("ask", UNANSWERED), 1),
        (("ask", ANSWERED, "--k", "0"), 2),
        (("ask",), 2),
        (("--frobnicate",), 2),
        (("ask", ANSWERED, "--since", "2015-13"), 2),
        (("ask", ANSWERED, "--corpus", "/nonexistent/zhdocqa"), 2),
    ],
)
def test_exit_codes_like_grep(run_bot, args, code):
    result = run_bot(*args)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if code == 2:
        assert "错误" in result.stderr


def test_a_too_long_question_with_json_still_prints_json(run_bot):
    question = "长" * 600
    result = run_bot("ask", question, "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["question"] == question and "问题太长(600 字)" in document["error"]


def test_piped_batch_with_json_is_json_lines(run_bot):
    lines = [ANSWERED, "", UNANSWERED, "长" * 600, "微博和淘宝电影合作预售,4天卖了多少张票?"]
    result = run_bot("--json", "--k", "2", input="\n".join(lines) + "\n")
    assert result.returncode == 2  # one line was an error
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(documents) == 4  # the blank line is skipped
    assert [d["question"][:4] for d in documents] == ["腾讯模仿", "北京今天", "长长长长", "微博和淘"]
    assert documents[0]["abstained"] is False and len(documents[0]["hits"]) == 2
    assert documents[0]["hits"][0]["citation"]["path"] == "004_2879f3147d2cb423.txt"
    assert documents[1]["abstained"] is True
    assert "error" in documents[2]
    only_answered = run_bot("repl", "--json", input=ANSWERED + "\n")
    assert only_answered.returncode == 0 and len(only_answered.stdout.splitlines()) == 1
    with_no_answer = run_bot("--json", input=f"{ANSWERED}\n{UNANSWERED}\n")
    assert with_no_answer.returncode == 1


def test_color_flag_beside_no_color(run_bot):
    always = run_bot("ask", ANSWERED, "--color", "always")
    assert "\x1b[" in always.stdout
    never = run_bot("ask", ANSWERED, "--color", "never")
    assert "\x1b" not in never.stdout
    assert "\x1b" not in run_bot("ask", ANSWERED).stdout  # a pipe: auto means none
    from_env = run_bot("ask", ANSWERED, env={"ZHDOCQA_COLOR": "always"})
    assert "\x1b[" in from_env.stdout


def _corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("拼多多发布财报\n\n拼多多是一家以拼团起家的社交电商公司,用户可以邀请好友一起拼单购买。", "utf-8")
    (folder / "b.md").write_text("# 红包\n\n腾讯发布了新的微信版本,增加了红包功能。", "utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    return folder


def test_corpus_and_k_from_the_environment_and_the_config_file(run_bot, tmp_path):
    folder = _corpus(tmp_path)
    from_env = run_bot("ask", "拼多多靠什么起家?", "--json", env={"ZHDOCQA_CORPUS": str(folder), "ZHDOCQA_K": "1"})
    document = json.loads(from_env.stdout)
    assert document["hits"][0]["citation"]["path"] == "a.txt" and len(document["hits"]) == 1
    config = tmp_path / "config.toml"
    config.write_text(f'corpus = "{folder}"\nk = 2\n', "utf-8")
    from_config = run_bot("ask", "微信红包", "--json", env={"ZHDOCQA_CONFIG": str(config)})
    assert json.loads(from_config.stdout)["hits"][0]["citation"]["path"] == "b.md"
    config.write_text("k = 99\n", "utf-8")
    bad = run_bot("ask", "微信红包", env={"ZHDOCQA_CONFIG": str(config)})
    assert bad.returncode == 2 and str(config) in bad.stderr and "k 应为 1 到 20" in bad.stderr


def test_the_default_config_file_lives_in_the_user_config_folder(run_bot, tmp_path):
    folder = _corpus(tmp_path)
    config_home = tmp_path / "xdg"
    (config_home / "zhdocqa").mkdir(parents=True)
    (config_home / "zhdocqa" / "config.toml").write_text(f'corpus = "{folder}"\n', "utf-8")
    result = run_bot("ask", "拼多多靠什么起家?", "--json", env={"XDG_CONFIG_HOME": str(config_home)})
    assert json.loads(result.stdout)["hits"][0]["citation"]["path"] == "a.txt"
    info = run_bot("info", env={"XDG_CONFIG_HOME": str(config_home)})
    assert str(config_home / "zhdocqa" / "config.toml") in info.stdout


def test_filter_flags_narrow_the_answer(run_bot):
    result = run_bot("ask", "阿里 微信", "--source", "易商讯", "--k", "4", "--json")
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 4 and {h["citation"]["source"] for h in hits} == {"易商讯"}
    dated = json.loads(run_bot("ask", "阿里 微博", "--since", "2015", "--until", "2015-12", "--json").stdout)
    assert {h["citation"]["date"] for h in dated["hits"]} == {"2015-07-10"}
    by_doc = json.loads(run_bot("ask", "阿里", "--doc", "00[01]_*", "--k", "8", "--json").stdout)
    assert {h["citation"]["path"][:3] for h in by_doc["hits"]} == {"000", "001"}
    none = run_bot("ask", "阿里", "--source", "人民日报")
    assert none.returncode == 1 and "没有符合筛选条件的文档" in none.stdout


def test_a_changed_file_says_why_the_index_is_rebuilt_and_warnings_come_once_per_build(run_bot, tmp_path):
    folder = _corpus(tmp_path)
    first = run_bot("ask", "微信红包", "--corpus", str(folder))
    assert first.stderr.count("binary.txt") == 1
    again = run_bot("ask", "微信红包", "--corpus", str(folder))
    assert again.stderr == ""
    time.sleep(0.01)
    (folder / "a.txt").write_text("拼多多发布财报\n\n拼多多靠拼团起家。", "utf-8")
    changed = run_bot("ask", "微信红包", "--corpus", str(folder))
    assert "a.txt 有变化,正在重建索引" in changed.stderr
    assert changed.stderr.count("binary.txt") == 1  # a new build reports its skipped files again, once
    (folder / "a.txt").write_text("拼多多靠拼团起家。", "utf-8")
    quiet = run_bot("ask", "微信红包", "--corpus", str(folder), "-q")
    assert quiet.stderr == ""


def test_index_and_info_subcommands(run_bot, tmp_path):
    folder = _corpus(tmp_path)
    before = run_bot("info", str(folder))
    assert before.returncode == 0 and "还没有建立" in before.stdout
    built = run_bot("index", str(folder), "-q")
    assert built.returncode == 0 and "2 篇文档" in built.stdout
    after = run_bot("info", str(folder))
    assert "索引状态: 最新" in after.stdout
    assert "1. 《拼多多发布财报》 · a.txt" in after.stdout and "《红包》 · b.md" in after.stdout
    seeds = run_bot("info")
    assert seeds.stdout.startswith("zhdocqa ") and "内置示例" in seeds.stdout


def test_eval_subcommand_runs_the_seed_questions(run_bot, shared):
    result = run_bot("eval", "--shared", str(shared), "--only", "seeds", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Hit@1" in result.stdout


def test_eval_subcommand_runs_the_other_domain_questions_without_shared(run_bot, tmp_path):
    result = run_bot("eval", "--shared", str(tmp_path / "absent"), "--only", "domain", "--details", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "other domain" in result.stdout and "passages shown, unsure included" in result.stdout
    assert "x001" in result.stdout  # --details lists each question
    taiwan = run_bot("eval", "--shared", str(tmp_path / "absent"), "--only", "domain", "--details", "--taiwan",
                     timeout=300)
    assert taiwan.returncode == 0, taiwan.stderr
    assert "in Taiwan's words" in taiwan.stdout
    assert "快洗程式要洗多長時間?" in taiwan.stdout  # each question asked as s2twp writes it


def test_shell_completion_when_argcomplete_is_installed(run_bot, tmp_path):
    pytest.importorskip("argcomplete", reason="shell completion is an optional extra")
    out = tmp_path / "completions"
    line = "zhdocqa ask x --co"
    env = {"_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line, "COMP_POINT": str(len(line)),
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    result = run_bot(env=env)
    assert result.returncode == 0, result.stderr
    assert set(out.read_text("utf-8").split()) == {"--corpus", "--color"}
