"""The structure stays one-way: each step imports only from the steps before it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The pipeline, bottom first: files -> documents -> passages -> terms -> index -> hits -> answer.
RETRIEVAL_ORDER = [
    "errors",
    "text",
    "seeds",
    "loading",
    "cleaning",
    "metadata",
    "documents",
    "chunking",
    "lexicon",
    "analysis",
    "vocabulary",
    "ranking",
    "lucene_scoring",
    "collection",
    "filtering",
    "general_idf",
    "indexing",
    "bulk_export",
    "results",
    "answer_features",
    "answer_model",
    "answering",
    "cache",
    "store",
    "opensearch_client",
    "opensearch_push",
    "opensearch_backend",
    "conversation",
    "retriever",
    "__init__",
    "answer_training",
    "evaluate",
    "evaluate_conversations",
    "__main__",
]


def _project_imports(path: Path, package: str) -> set[str]:
    """The modules of `package` that the file at `path` imports (at any depth of the file)."""
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == package:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(package + "."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(package + "."):
                    found.add(alias.name.split(".")[1])
    return found


def test_every_retrieval_module_has_a_place_in_the_order():
    modules = {p.stem for p in (REPO / "retrieval").glob("*.py")}
    assert modules == set(RETRIEVAL_ORDER), "add a new module to RETRIEVAL_ORDER where it belongs"


def test_retrieval_imports_point_down_the_pipeline():
    position = {name: i for i, name in enumerate(RETRIEVAL_ORDER)}
    exports = {"Retriever": "retriever"}
    wrong = []
    for name in RETRIEVAL_ORDER:
        path = REPO / "retrieval" / f"{name}.py"
        for imported in _project_imports(path, "retrieval"):
            target = exports.get(imported, imported)
            if target in position and position[target] >= position[name]:
                wrong.append(f"{name} imports {target}")
    assert not wrong


def test_text_primitives_import_nothing_of_the_project():
    assert _project_imports(REPO / "retrieval" / "text.py", "retrieval") == set()


def test_bot_modules_import_one_way():
    """The adapters never import each other in a cycle, and the core never imports them."""
    graph = {p.stem: _project_imports(p, "bot") for p in (REPO / "bot").glob("*.py")}
    seen: set[str] = set()

    def visit(node: str, stack: tuple[str, ...]) -> None:
        assert node not in stack, " -> ".join(stack + (node,))
        if node in seen:
            return
        for child in graph.get(node, ()):
            visit(child, stack + (node,))
        seen.add(node)

    for node in graph:
        visit(node, ())
    for core in (REPO / "retrieval").glob("*.py"):
        assert not _project_imports(core, "bot"), core.name


def test_importing_the_package_leaves_jieba_alone():
    code = (
        "import logging, jieba; level = jieba.default_logger.level; import retrieval; "
        "from retrieval import Retriever; "
        "assert jieba.default_logger.level == level; assert not jieba.dt.initialized; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.e2e
def test_answers_are_the_same_across_processes_with_other_hash_seeds(tmp_path):
    """Ranking, ties and JSON do not depend on dict or set order: two hash seeds, one answer."""
    code = (
        "import json; from retrieval import Retriever; from bot import render; r = Retriever(); "
        "qs = ['阿里巴巴花了多少钱入股新浪微博?', '腾讯模仿泡泡堂做了哪个游戏?', '微信 红包 阿里', '来往 钉钉']; "
        "print(json.dumps([render.answer_json(r.ask(q, k=8)) for q in qs], ensure_ascii=False))"
    )
    outputs = []
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
