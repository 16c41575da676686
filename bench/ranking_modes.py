"""How often the exact (rank-bm25) and Lucene ranking modes agree, on the CMRC 2018 + DRCD questions.

    python bench/ranking_modes.py --shared ../shared

Every distinct paragraph of both dev sets is a document (as retrieval.evaluate
does); each question is ranked by both modes over the same passages. Prints the
share of questions whose top-1 passage, top-10 set and exact top-10 order agree.
The modes differ by Lucene's one-byte length norm, float32 arithmetic and
document count: differences are expected among close scores, not at the top.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

K = 10


def main() -> int:
    from retrieval import Retriever
    from retrieval.analysis import default_analyzer
    from retrieval.evaluate import load_benchmark

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    args = parser.parse_args()
    paragraphs, questions = load_benchmark(args.shared / "data")
    exact = Retriever.from_texts(paragraphs, ranking="exact")
    lucene = Retriever.from_texts(paragraphs, ranking="lucene")
    analyzer = default_analyzer()
    counted = top1 = same_set = same_order = 0
    for question, _, _ in questions:
        if not analyzer.question(question).terms:
            continue
        # Each passage as (doc_id, start offset): unique, even where a long paragraph has several passages.
        a = [(h.citation.doc_id, h.start) for h in exact.search(question, K)]
        b = [(h.citation.doc_id, h.start) for h in lucene.search(question, K)]
        if not a:
            continue
        counted += 1
        top1 += a[0] == b[0]
        same_set += set(a) == set(b)
        same_order += a == b
    print(f"{len(paragraphs)} paragraphs, {counted} questions with a match:"
          f" same top-1 {top1 / counted:.4f}, same top-{K} set {same_set / counted:.4f},"
          f" same top-{K} order {same_order / counted:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
