"""Where `ask` spends its time: wall-clock per stage over a saved index, and optionally cProfile.

    python bench/ask_stages.py FOLDER --index-dir DIR --shared ../shared [--queries 200] [--profile]

Point it at a folder and index `bench/scale.py --workdir W` left (W/corpus-100000, W/index-100000).
The stages are the steps `Retriever.ask` takes, run one after the other with
the same arguments it passes: the question's analysis, `top()`, the question's
profile, decoding the candidates' texts, `decide()` (normalization, features,
sentences, the three models) and the hits with their highlights; `ask` is the
whole call, timed beside them. Figures, not tests: p50 and mean per stage.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="also cProfile the ask calls (top functions)")
    args = parser.parse_args()

    from retrieval import Retriever, answering
    from retrieval.answer_features import headline_text, profile_question
    from retrieval.answer_model import decide, shipped_model
    from retrieval.answering import is_known, make_hits
    from retrieval.evaluate import load_benchmark

    _, questions = load_benchmark(args.shared / "data")
    sample = random.Random(7).sample([q for q, _, _ in questions], min(args.queries, len(questions)))
    retriever = Retriever(args.folder, index_dir=args.index_dir)
    retriever._current()
    retriever._analyzer.load()
    print(f"{len(retriever):,} passages, index {retriever.index_status}; {len(sample)} questions")
    model = shipped_model()
    opened = retriever._state.opened
    index, collection = opened.index, opened.collection
    for question in sample[:20]:
        retriever.ask(question, k=5)

    stages: dict[str, list[float]] = {}

    def timed(name: str, function, *arguments):
        started = time.perf_counter()
        value = function(*arguments)
        stages.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return value

    for question in sample:
        answering._FOLDED.clear()
        analysed = timed("question analysis", retriever._question, question)
        if not analysed.words:
            continue
        ranked = timed("top(20)", index.top, list(analysed.terms), max(5, model.candidates), None)
        if not ranked:
            continue
        profile = timed(
            "question profile", profile_question, analysed, retriever._analyzer,
            lambda w: is_known(w, index.document_frequency), opened.general.weight,
        )
        pool = list(ranked[: model.candidates])
        texts = timed("passage texts", lambda chosen: [collection.passage_text(i) for i, _ in chosen], pool)
        decision = timed("decide()", decide, profile, texts, [s for _, s in pool], model)
        order = [pool[j] for j in decision.order] + list(ranked[len(pool) :])
        timed("make_hits(5)", make_hits, collection, order[:5], analysed, retriever._analyzer)
        if decision.headline is not None:
            timed("headline text", headline_text, texts[decision.headline[0]], decision.headline[1])
        answering._FOLDED.clear()
        timed("ask (whole)", retriever.ask, question, 5)
        timed("top(10)", index.top, list(analysed.terms), 10, None)

    print(f"{'stage':<20}{'p50 ms':>9}{'mean ms':>9}")
    for name, values in stages.items():
        print(f"{name:<20}{statistics.median(values):9.3f}{statistics.fmean(values):9.3f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for question in sample:
            answering._FOLDED.clear()
            retriever.ask(question, k=5)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
