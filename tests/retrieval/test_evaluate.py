"""The evaluation command: every figure it promises, on the other-domain set shipped with the project."""

from __future__ import annotations

import re

from retrieval.evaluate import main


def test_domain_report_gives_hits_headline_and_every_outcome(capsys):
    assert main(["--only", "domain"]) == 0
    out = capsys.readouterr().out
    assert "other domain" in out
    assert re.search(r"Hit@1 \d\.\d{3}  Hit@3 \d\.\d{3}  Hit@5 \d\.\d{3}  MRR@5 \d\.\d{3}  headline holds the answer \d\.\d{3}", out)
    answered, unsure, nothing = map(int, re.search(r"answered (\d+), unsure (\d+), no answer (\d+)", out).groups())
    assert answered + unsure + nothing == 22


def test_taiwan_asks_every_question_in_taiwan_words(tmp_path):
    import json

    import opencc

    from retrieval.evaluate import DOMAIN, evaluate_seeds

    (tmp_path / "q.jsonl").write_text(json.dumps({
        "id": "t1", "question": "图书馆的无线网络叫什么名字?", "doc": "library_rules.txt",
        "must_contain": ["网络名称为QCLIB"], "answerable": True, "kind": "trad-query",
    }, ensure_ascii=False), "utf-8")
    [result] = evaluate_seeds(tmp_path / "q.jsonl", corpus=DOMAIN / "docs", reword=opencc.OpenCC("s2twp").convert)
    assert result.question["question"] == "圖書館的無線網路叫什麼名字?"  # asked as written in Taiwan
    assert result.answer.question == "圖書館的無線網路叫什麼名字?"
    assert "网路" not in result.answer.missing_words


def test_a_missing_shared_folder_is_one_clear_line(tmp_path, capsys):
    assert main(["--shared", str(tmp_path), "--only", "seeds"]) == 2
    assert "请用 --shared 指定" in capsys.readouterr().err


def test_without_the_training_extra_training_says_what_to_install(monkeypatch, tmp_path, capsys):
    import sys

    from retrieval import answer_training

    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    assert answer_training.training_available() is not None
    data = tmp_path / "data"
    data.mkdir()
    for name in answer_training.DATA_FILES:
        (data / name).write_text('{"data": []}', "utf-8")
    out = tmp_path / "model.json"
    assert answer_training.main(["--shared", str(tmp_path), "--out", str(out)]) == 2
    assert 'pip install -e ".[train]"' in capsys.readouterr().err
    assert not out.exists()
