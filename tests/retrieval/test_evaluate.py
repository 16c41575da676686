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


def test_a_missing_shared_folder_is_one_clear_line(tmp_path, capsys):
    assert main(["--shared", str(tmp_path), "--only", "seeds"]) == 2
    assert "请用 --shared 指定" in capsys.readouterr().err
