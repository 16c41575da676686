"""Taiwan documents asked in the mainland's words: DRCD's paragraphs, each question rewritten by OpenCC tw2sp.

    python bench/taiwan_documents.py --shared ../shared [--code DIR]

DRCD's paragraphs are Taiwan's Wikipedia: they write 網路, 軟體, 奈及利亞 where a
mainland reader writes 网络, 软件, 尼日利亚. Each DRCD question is rewritten in the
mainland's words and script (OpenCC `tw2sp`) and asked over all 1,000 paragraphs
with the shipped answer model. Prints R@1 (the first passage shown lies in the
paragraph asked on), the answered and "no answer" shares, and headline accuracy
(answered and the headline holds a gold answer). The model was trained on these
questions as written, so compare code trees (`--code DIR`, for example a
`git archive` of another commit), not the figures with held-out ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the code tree to measure (default: this checkout)")
    args = parser.parse_args()
    source = args.shared / "data" / "DRCD_dev.json"
    if not source.is_file():
        print(f"找不到 {source}:请用 --shared 指定 shared 目录。", file=sys.stderr)
        return 2
    sys.path.insert(0, str(args.code.resolve()))
    import opencc

    import retrieval
    from retrieval import Outcome, Retriever
    from retrieval.text import normalize

    mainland = opencc.OpenCC("tw2sp")
    paragraphs: list[str] = []
    questions: list[tuple[str, int, list[str]]] = []
    for article in json.loads(source.read_text("utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                gold = [normalize(a["text"]) for a in qa["answers"]]
                questions.append((mainland.convert(qa["question"]), len(paragraphs) - 1, gold))
    retriever = Retriever.from_texts(paragraphs)
    normalized = [normalize(p) for p in paragraphs]
    first = answered = right = nothing = 0
    started = time.perf_counter()
    for question, paragraph, gold in questions:
        answer = retriever.ask(question)
        first += bool(answer.hits) and normalize(answer.hits[0].text) in normalized[paragraph]
        if answer.outcome == Outcome.ANSWERED:
            answered += 1
            right += any(g in normalize(answer.best_sentence or "") for g in gold)
        nothing += answer.outcome == Outcome.NO_ANSWER
    n = len(questions)
    print(f"code {Path(retrieval.__file__).parent.parent}: {n} DRCD questions in the mainland's words"
          f" ({time.perf_counter() - started:.0f} s)")
    print(f"  R@1 {first / n:.4f}  answered {answered / n:.4f}  no answer {nothing / n:.4f}"
          f"  headline accuracy {right / n:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
