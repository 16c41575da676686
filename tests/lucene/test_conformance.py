"""The Lucene-compatible mode against real Lucene 8.7 (issue 14).

The analyser's terms of each passage are indexed by tests/lucene/LuceneRanks.java
with Lucene's WhitespaceAnalyzer and BM25Similarity(1.5, 0.75), in one index and
in shards searched with global statistics (OpenSearch's dfs_query_then_fetch);
every query's top-k passages must be the ones `LuceneIndex` ranks, in the same
order, with scores equal within 1e-6 relative.

Needs java, javac and Debian's liblucene8-java (`.ci/run` installs them);
skips with the reason otherwise.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from retrieval.analysis import default_analyzer
from retrieval.evaluate import load_benchmark
from retrieval.lucene_scoring import LuceneIndex, lucene_tokens
from retrieval.ranking import IndexBuilder
from tests.conftest import SHARED

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
JARS = Path("/usr/share/java")
K = 20
BENCHMARK_PARAGRAPHS = 3000
RELATIVE = 1e-6


def _lucene_classpath() -> list[Path]:
    jars = []
    for name in ("lucene-core", "lucene-analyzers-common"):
        found = sorted(JARS.glob(f"{name}-8*.jar"))
        if not found:
            pytest.skip(f"{JARS}/{name}-8*.jar is missing: install Debian's liblucene8-java (see .ci/run)")
        jars.append(found[-1])
    return jars


@pytest.fixture(scope="module")
def lucene(tmp_path_factory) -> list[str]:
    """The java command line that runs LuceneRanks, compiled into a temporary folder."""
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not on PATH: install openjdk-17-jdk-headless (see .ci/run)")
    jars = _lucene_classpath()
    classes = tmp_path_factory.mktemp("lucene-classes")
    classpath = ":".join(str(j) for j in jars)
    subprocess.run(
        ["javac", "-encoding", "UTF-8", "-cp", classpath, "-d", str(classes), str(HERE / "LuceneRanks.java")],
        check=True,
        capture_output=True,
    )
    return ["java", "-cp", f"{classpath}:{classes}", "LuceneRanks"]


def _corpus(seeds, shared_dir: Path | None) -> tuple[list[list[str]], list[list[str]]]:
    """Passages' terms and queries' terms: the seeds, CMRC/DRCD paragraphs when present, edge cases."""
    analyzer = default_analyzer()
    index_terms = analyzer.terms

    def question_terms(question: str) -> list[str]:
        return list(analyzer.question(question).terms)

    passages = [index_terms(seeds.passage_text(i)) for i in range(len(seeds))]
    queries = [index_terms(seeds.passage_text(i))[:15] for i in range(0, len(seeds), 5)]
    if shared_dir is not None:
        seed_file = shared_dir / "eval" / "seed_dev.jsonl"
        queries += [question_terms(json.loads(line)["question"]) for line in seed_file.read_text("utf-8").splitlines() if line.strip()]
        data = shared_dir / "data"
        if (data / "cmrc2018_dev.json").is_file() and (data / "DRCD_dev.json").is_file():
            paragraphs, questions = load_benchmark(data)
            rng = random.Random(14)
            chosen = sorted(rng.sample(range(len(paragraphs)), min(BENCHMARK_PARAGRAPHS, len(paragraphs))))
            passages += [index_terms(paragraphs[i]) for i in chosen]
            queries += [question_terms(q) for q, _, _ in rng.sample(questions, 400)]
    # Edge cases: an empty passage (not counted in N), long passages (lossy length byte),
    # tokens over 255 characters (cut by the tokenizer), repeated query terms.
    long_token = "x" * 300 + "y" * 260
    passages += [[], ["阿里巴巴"] * 70 + ["微信"] * 5, [long_token, "微信"], ["微信"] * 3]
    queries += [["微信", "微信", "阿里巴巴"], [long_token], ["阿里巴巴"] * 3 + ["微信"] * 7, ["不在词表里"]]
    return passages, [q for q in queries if q]


def _lucene_top(command: list[str], tmp_path: Path, passages, queries, shards: int) -> list[list[tuple[int, float]]]:
    corpus, questions = tmp_path / "corpus.txt", tmp_path / "queries.txt"
    corpus.write_text("\n".join(" ".join(t) for t in passages) + "\n", "utf-8")
    # Queries go as the OpenSearch backend sends them: tokens over 255 characters already cut.
    questions.write_text("\n".join(" ".join(lucene_tokens(q)) for q in queries) + "\n", "utf-8")
    run = subprocess.run([*command, str(corpus), str(questions), str(K), str(shards)], capture_output=True, check=True)
    rows = run.stdout.decode("utf-8").splitlines()
    assert len(rows) == len(queries)
    ranked = []
    for row in rows:
        hits = []
        for pair in row.split():
            doc, bits = pair.split(":")
            hits.append((int(doc), struct.unpack(">f", bytes.fromhex(bits.rjust(8, "0")))[0]))
        ranked.append(hits)
    return ranked


def _ours(passages) -> LuceneIndex:
    builder = IndexBuilder()
    for terms in passages:
        builder.add(terms)
    return LuceneIndex.from_postings(*builder.finish_postings())


@pytest.fixture(scope="module")
def material(seeds):
    return _corpus(seeds, SHARED if (SHARED / "eval" / "seed_dev.jsonl").is_file() else None)


@pytest.mark.parametrize("shards", [1, 3])
def test_lucene_mode_ranks_as_lucene_does(lucene, material, tmp_path, shards):
    passages, queries = material
    expected = _lucene_top(lucene, tmp_path, passages, queries, shards)
    index = _ours(passages)
    bit_identical = 0
    for query, wanted in zip(queries, expected):
        got = index.top(query, K)
        assert [d for d, _ in got] == [d for d, _ in wanted], query
        for (_, ours), (_, theirs) in zip(got, wanted):
            assert ours == pytest.approx(theirs, rel=RELATIVE), query
        bit_identical += all(ours == theirs for (_, ours), (_, theirs) in zip(got, wanted))
    assert sum(1 for hits in expected if hits) > 0.9 * len(queries)  # the comparison is not vacuous
    print(f"{len(passages)} passages, {len(queries)} queries, {shards} shard(s): "
          f"same top-{K} for all; bit-identical scores for {bit_identical}")
