"""Print the retrieval metrics: the seed questions, and the CMRC 2018 + DRCD benchmark.

    python -m retrieval.evaluate --shared ../shared            # both
    python -m retrieval.evaluate --shared ../shared --only seeds
    python -m retrieval.evaluate --shared ../shared --only benchmark
    python -m retrieval.evaluate --shared ../shared --ranking lucene   # Lucene/OpenSearch scoring

Seeds: `eval/seed_dev.jsonl` over the bundled seeds (format in eval/README.md):
Hit@1, Hit@3, Hit@5 and MRR@5 over answerable questions (an abstention counts as
a miss), false abstentions, correct abstentions. Benchmark: every distinct
paragraph of `data/cmrc2018_dev.json` and `data/DRCD_dev.json` is a document;
a question's answer is the paragraph it was asked on: R@1, R@5 and MRR@10.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval import Retriever
from retrieval.seeds import seeds_folder

BENCHMARK_FILES = ("cmrc2018_dev.json", "DRCD_dev.json")


@dataclass
class SeedResult:
    question: dict
    rank: int | None  # 1-based rank of the first passage that answers, within k
    abstained: bool


def _answers(question: dict, doc_id: str, text: str) -> bool:
    docs = question["doc"] if isinstance(question["doc"], list) else [question["doc"]]
    return doc_id in docs and any(s in text for s in question["must_contain"])


def evaluate_seeds(path: Path, k: int = 5, corpus: Path | None = None, ranking: str = "exact") -> list[SeedResult]:
    retriever = Retriever(corpus or seeds_folder(), ranking=ranking)
    results = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        question = json.loads(line)
        answer = retriever.ask(question["question"], k=k)
        rank = None
        if question["answerable"] and not answer.abstained:
            for hit in answer.hits:
                if _answers(question, hit.citation.doc_id, hit.text):
                    rank = hit.rank
                    break
        results.append(SeedResult(question, rank, answer.abstained))
    return results


def seed_report(results: list[SeedResult], k: int) -> dict[str, float]:
    answerable = [r for r in results if r.question["answerable"]]
    unanswerable = [r for r in results if not r.question["answerable"]]
    n = len(answerable) or 1

    def hit_at(cut: int) -> float:
        return sum(1 for r in answerable if r.rank is not None and r.rank <= cut) / n

    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": hit_at(1),
        "hit@3": hit_at(3),
        f"hit@{k}": hit_at(k),
        f"mrr@{k}": sum(1 / r.rank for r in answerable if r.rank is not None) / n,
        "false_abstains": sum(1 for r in answerable if r.abstained),
        "correct_abstains": sum(1 for r in unanswerable if r.abstained),
    }


def load_benchmark(data: Path) -> tuple[list[str], list[tuple[str, int, str]]]:
    """Distinct paragraphs of both files, and (question, paragraph index, file) triples."""
    paragraphs: list[str] = []
    index: dict[str, int] = {}
    questions = []
    for name in BENCHMARK_FILES:
        content = json.loads((data / name).read_text("utf-8"))
        for article in content["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                if context not in index:
                    index[context] = len(paragraphs)
                    paragraphs.append(context)
                for qa in paragraph["qas"]:
                    questions.append((qa["question"], index[context], name))
    return paragraphs, questions


def evaluate_benchmark(data: Path, depth: int = 10, ranking: str = "exact") -> dict[str, dict[str, float]]:
    paragraphs, questions = load_benchmark(data)
    started = time.perf_counter()
    retriever = Retriever.from_texts(paragraphs, ranking=ranking)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sums: dict[str, dict[str, float]] = {}
    for question, gold, name in questions:
        ranked_docs: list[int] = []
        # A long paragraph is cut into passages: a paragraph ranks at its best passage.
        for doc_id, _, _ in retriever.ranking(question, k=depth * 4):
            doc = int(doc_id)
            if doc not in ranked_docs:
                ranked_docs.append(doc)
            if len(ranked_docs) == depth:
                break
        rank = ranked_docs.index(gold) + 1 if gold in ranked_docs else None
        for group in (name, "pooled"):
            row = sums.setdefault(group, {"questions": 0, "r@1": 0.0, "r@5": 0.0, "mrr@10": 0.0})
            row["questions"] += 1
            row["r@1"] += rank == 1
            row["r@5"] += rank is not None and rank <= 5
            row["mrr@10"] += 1 / rank if rank else 0.0
    query_seconds = time.perf_counter() - started
    for row in sums.values():
        for key in ("r@1", "r@5", "mrr@10"):
            row[key] /= row["questions"]
    sums["pooled"]["paragraphs"] = len(paragraphs)
    sums["pooled"]["passages"] = len(retriever)
    sums["pooled"]["build_s"] = build_seconds
    sums["pooled"]["ms_per_query"] = 1000 * query_seconds / len(questions)
    return sums


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared folder (default ../shared)")
    parser.add_argument("--only", choices=("seeds", "benchmark"), help="run one of the two")
    parser.add_argument("--k", type=int, default=5, help="passages per answer for the seed questions (default 5)")
    parser.add_argument("--verbose", action="store_true", help="list each seed question's outcome")
    parser.add_argument(
        "--ranking", choices=("exact", "lucene"), default="exact", help="scoring: rank-bm25 (default) or Lucene's"
    )
    args = parser.parse_args(argv)
    seed_file = args.shared / "eval" / "seed_dev.jsonl"
    data = args.shared / "data"
    if args.only != "benchmark":
        if not seed_file.is_file():
            print(f"找不到 {seed_file}:请用 --shared 指定 shared 目录。", file=sys.stderr)
            return 2
        results = evaluate_seeds(seed_file, args.k, ranking=args.ranking)
        if args.verbose:
            for r in results:
                q = r.question
                outcome = "abstained" if r.abstained else (f"rank {r.rank}" if r.rank else "miss")
                print(f"{q['id']} {q['kind']:<24} {'A' if q['answerable'] else 'U'} {outcome:<10} {q['question']}")
        report = seed_report(results, args.k)
        print(
            f"seed_dev ({report['answerable']} answerable, {report['unanswerable']} unanswerable, k={args.k},"
            f" ranking {args.ranking})"
        )
        print(
            "  Hit@1 {hit@1:.3f}  Hit@3 {hit@3:.3f}  Hit@{k} {hitk:.3f}  MRR@{k} {mrrk:.3f}".format(
                k=args.k, hitk=report[f"hit@{args.k}"], mrrk=report[f"mrr@{args.k}"], **report
            )
        )
        print(
            f"  false abstains {report['false_abstains']}/{report['answerable']}"
            f"  correct abstains {report['correct_abstains']}/{report['unanswerable']}"
        )
    if args.only != "seeds":
        if not all((data / name).is_file() for name in BENCHMARK_FILES):
            print(f"找不到 {data} 中的 {', '.join(BENCHMARK_FILES)}:请用 --shared 指定 shared 目录。", file=sys.stderr)
            return 2
        sums = evaluate_benchmark(data, ranking=args.ranking)
        pooled = sums["pooled"]
        print(
            f"CMRC+DRCD, ranking {args.ranking} ({pooled['paragraphs']} paragraphs as {pooled['passages']} passages,"
            f" {pooled['questions']} questions; build {pooled['build_s']:.1f} s, {pooled['ms_per_query']:.1f} ms/query)"
        )
        for group in (*BENCHMARK_FILES, "pooled"):
            row = sums[group]
            figures = f"R@1 {row['r@1']:.4f}  R@5 {row['r@5']:.4f}  MRR@10 {row['mrr@10']:.4f}"
            print(f"  {group:<18} {figures}  ({row['questions']} q)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
