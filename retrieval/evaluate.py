"""Print what a reader would feel: is the `答:` headline right, is it answered when it can be, held back when not.

    python -m retrieval.evaluate --shared ../shared            # all three sets
    python -m retrieval.evaluate --shared ../shared --only seeds
    python -m retrieval.evaluate --shared ../shared --only benchmark
    python -m retrieval.evaluate --only domain                 # the other-domain set in eval/domain
    python -m retrieval.evaluate --shared ../shared --ranking lucene   # Lucene/OpenSearch scoring

Seeds: `eval/seed_dev.jsonl` over the bundled seeds (format in eval/README.md),
scored by the shipped model (which never saw them). Domain: questions written
for this project over documents of another kind (eval/domain), same format.
Both: Hit@1/3/5 and MRR@5 over answerable questions (a question not answered
counts as a miss), the same over the passages shown (as eval/README.md counts:
only "no answer" is a miss, an unsure reply shows its passages as related),
the headline holding a `must_contain` string, the outcome of every question.
Benchmark: every distinct paragraph of CMRC 2018 dev and DRCD dev is a
document; each question is asked over the whole collection (answerable) and
with its own paragraph left out (a near miss); the models
are cross-validated by article (each fold's model scores only articles it
was not fitted on): R@1, headline accuracy, answered, no answer, unsure,
near misses caught, ECE and a reliability table. BM25 alone is shown beside.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import opencc

from retrieval import Retriever
from retrieval.analysis import normalize
from retrieval.answer_training import DATA_FILES, read_questions
from retrieval.results import Answer, Outcome
from retrieval.seeds import seeds_folder

BENCHMARK_FILES = DATA_FILES
DOMAIN = Path(__file__).resolve().parent.parent / "eval" / "domain"


@dataclass
class SeedResult:
    question: dict
    rank: int | None  # 1-based rank of the first passage that answers, within k; None unless answered
    answer: Answer
    headline_right: bool
    shown_rank: int | None = None  # the same among the passages shown, answered or unsure

    @property
    def abstained(self) -> bool:
        return self.answer.abstained


def _answers(question: dict, doc_id: str, text: str) -> bool:
    docs = question["doc"] if isinstance(question["doc"], list) else [question["doc"]]
    return doc_id in docs and any(s in text for s in question["must_contain"])


def _holds(question: dict, sentence: str | None) -> bool:
    if not sentence:
        return False
    normalized = normalize(sentence)
    return any(s in sentence or normalize(s) in normalized for s in question["must_contain"])


def evaluate_seeds(path: Path, k: int = 5, corpus: Path | None = None, ranking: str = "exact",
                   reword: Callable[[str], str] | None = None) -> list[SeedResult]:
    """Ask each question of `path` (rewritten by `reword`, when given) over `corpus` (default: the seeds)."""
    retriever = Retriever(corpus or seeds_folder(), ranking=ranking)
    results = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        question = json.loads(line)
        if reword is not None:
            question = {**question, "question": reword(question["question"])}
        answer = retriever.ask(question["question"], k=k)
        shown = None
        if question["answerable"] and answer.outcome != Outcome.NO_ANSWER:
            shown = next((h.rank for h in answer.hits if _answers(question, h.citation.doc_id, h.text)), None)
        rank = None if answer.abstained else shown
        right = question["answerable"] and not answer.abstained and _holds(question, answer.best_sentence)
        results.append(SeedResult(question, rank, answer, right, shown))
    return results


def seed_report(results: list[SeedResult], k: int) -> dict[str, float]:
    answerable = [r for r in results if r.question["answerable"]]
    unanswerable = [r for r in results if not r.question["answerable"]]
    n = len(answerable) or 1

    def hit_at(cut: int, shown: bool = False) -> float:
        ranks = (r.shown_rank if shown else r.rank for r in answerable)
        return sum(1 for rank in ranks if rank is not None and rank <= cut) / n

    def count(rows: list[SeedResult], outcome: Outcome) -> int:
        return sum(1 for r in rows if r.answer.outcome == outcome)

    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": hit_at(1),
        "hit@3": hit_at(3),
        f"hit@{k}": hit_at(k),
        f"mrr@{k}": sum(1 / r.rank for r in answerable if r.rank is not None) / n,
        "shown_hit@1": hit_at(1, shown=True),
        f"shown_hit@{k}": hit_at(k, shown=True),
        f"shown_mrr@{k}": sum(1 / r.shown_rank for r in answerable if r.shown_rank is not None) / n,
        "headline": sum(r.headline_right for r in answerable) / n,
        "answered": count(answerable, Outcome.ANSWERED),
        "unsure": count(answerable, Outcome.UNSURE),
        "no_answer": count(answerable, Outcome.NO_ANSWER),
        "false_abstains": sum(1 for r in answerable if r.abstained),
        "correct_abstains": sum(1 for r in unanswerable if r.abstained),
        "unanswerable_no_answer": count(unanswerable, Outcome.NO_ANSWER),
        "unanswerable_unsure": count(unanswerable, Outcome.UNSURE),
    }


def print_seed_report(title: str, results: list[SeedResult], k: int, verbose: bool) -> None:
    if verbose:
        for r in results:
            q = r.question
            shown = f"rank {r.rank}" if r.rank else "-"
            mark = "H" if r.headline_right else " "
            print(
                f"{q['id']} {q['kind']:<16} {'A' if q['answerable'] else 'U'} {r.answer.outcome:<9}"
                f" p={r.answer.confidence:.2f} {shown:<7} {mark} {q['question']}"
            )
    report = seed_report(results, k)
    print(f"{title} ({report['answerable']} answerable, {report['unanswerable']} unanswerable, k={k})")
    print(
        "  Hit@1 {hit@1:.3f}  Hit@3 {hit@3:.3f}  Hit@{k} {hitk:.3f}  MRR@{k} {mrrk:.3f}"
        "  headline holds the answer {headline:.3f}".format(
            k=k, hitk=report[f"hit@{k}"], mrrk=report[f"mrr@{k}"], **report
        )
    )
    print(
        f"  passages shown, unsure included (eval/README: only no answer is a miss):"
        f"  Hit@1 {report['shown_hit@1']:.3f}  Hit@{k} {report[f'shown_hit@{k}']:.3f}"
        f"  MRR@{k} {report[f'shown_mrr@{k}']:.3f}"
    )
    print(
        f"  answerable: answered {report['answered']}, unsure {report['unsure']}, no answer {report['no_answer']}"
        f"  |  unanswerable: no answer {report['unanswerable_no_answer']}, unsure {report['unanswerable_unsure']},"
        f" answered {report['unanswerable'] - report['correct_abstains']}"
    )


def load_benchmark(data: Path) -> tuple[list[str], list[tuple[str, int, str]]]:
    """Distinct paragraphs of both files, and (question, paragraph index, file) triples."""
    paragraphs, records = read_questions(data)
    return paragraphs, [(r["question"], r["gold"], r["source"]) for r in records]


def evaluate_benchmark(data: Path, depth: int = 10, ranking: str = "exact") -> dict[str, dict[str, float]]:
    """BM25 alone: the rank of the paragraph asked on."""
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


def print_model_report(data: Path) -> None:
    from retrieval.answer_training import build_examples, cross_validate, summary, training_available

    missing = training_available()
    if missing:
        print(f"answer model: not cross-validated. {missing}")
        return
    started = time.perf_counter()
    examples = build_examples(data, progress=False)
    results = cross_validate(examples, progress=False)
    seconds = time.perf_counter() - started
    print(f"answer model, cross-validated by article (5 folds, {seconds:.0f} s):")
    groups = [(name, [r for r in results if r.example.source == name]) for name in BENCHMARK_FILES]
    for name, rows in [*groups, ("pooled", results)]:
        s = summary(rows)
        print(
            f"  {name:<18} R@1 {s['r@1']:.4f}  headline accuracy {s['headline_accuracy']:.4f}"
            f" (holds the answer {s['headline_holds']:.4f})  answered {s['answered']:.4f}"
            f" (right {s['answered_precision']:.4f})  no answer {s['no_answer']:.4f}  unsure {s['unsure']:.4f}"
            f"  |  left out: caught {s['left_out_caught']:.4f} (no answer {s['left_out_no_answer']:.4f})"
            f"  |  unsure share {s['unsure_all']:.4f}  ECE {s['ece']:.4f}  ({s['answerable']} q)"
        )
    s = summary(results)
    print(
        "  reliability (pooled, answerable and left-out views):"
        " confidence bin, questions, mean confidence, headline right"
    )
    for lo, hi, count, mean_p, share in s["reliability"]:
        print(f"    {lo:.1f}-{hi:.1f}  {count:>5}  {mean_p:.3f}  {share:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared folder (default ../shared)")
    parser.add_argument("--only", choices=("seeds", "benchmark", "domain"), help="run one of the three")
    parser.add_argument("--domain", type=Path, default=DOMAIN, help="a folder with docs/ and questions.jsonl")
    parser.add_argument("--k", type=int, default=5, help="passages per answer for the seed questions (default 5)")
    parser.add_argument("--verbose", action="store_true", help="list each seed and domain question's outcome")
    parser.add_argument(
        "--ranking", choices=("exact", "lucene"), default="exact", help="scoring: rank-bm25 (default) or Lucene's"
    )
    parser.add_argument(
        "--taiwan", action="store_true",
        help="ask the seed and domain questions in Taiwan's words and script (OpenCC s2twp: 网络 → 網路)",
    )
    args = parser.parse_args(argv)
    reword = opencc.OpenCC("s2twp").convert if args.taiwan else None
    worded = ", in Taiwan's words" if args.taiwan else ""
    seed_file = args.shared / "eval" / "seed_dev.jsonl"
    data = args.shared / "data"
    if args.only in (None, "seeds"):
        if not seed_file.is_file():
            print(f"找不到 {seed_file}:请用 --shared 指定 shared 目录。", file=sys.stderr)
            return 2
        results = evaluate_seeds(seed_file, args.k, ranking=args.ranking, reword=reword)
        print_seed_report(f"seed_dev, ranking {args.ranking}{worded}", results, args.k, args.verbose)
    if args.only in (None, "domain"):
        questions = args.domain / "questions.jsonl"
        if not questions.is_file():
            print(f"找不到 {questions}:请用 --domain 指定含 docs/ 与 questions.jsonl 的目录。", file=sys.stderr)
            return 2
        results = evaluate_seeds(questions, args.k, args.domain / "docs", ranking=args.ranking, reword=reword)
        print_seed_report(f"other domain ({args.domain.name}){worded}", results, args.k, args.verbose)
    if args.only in (None, "benchmark"):
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
            print(
                f"  BM25 alone {group:<18} R@1 {row['r@1']:.4f}  R@5 {row['r@5']:.4f}  MRR@10 {row['mrr@10']:.4f}"
                f"  ({row['questions']} q)"
            )
        print_model_report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
