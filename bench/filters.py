"""Query time with filters (a mask inside the index's selection) beside no filter and over-fetching.

    python bench/filters.py [--files 2000] [--questions 200]

A synthetic folder: the seed articles' passages recombined into FILES files of
five passages each, a catalog giving each file one of ten sources and a date
between 2010 and 2019, half the files under `a/` and half under `b/`. The same
questions are asked (search, k=10) with no filter, a source filter (a tenth of
the files), a date range (about half) and a glob (half); and, for comparison,
the way a caller without filters would do it: fetch 1,000 and keep the allowed
ones. Figures are printed, not asserted: the machine is shared and noisy, so
compare within one run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval import Filter, Retriever  # noqa: E402

SOURCES = [f"来源{i}" for i in range(10)]


def make_folder(folder: Path, files: int, seed: int = 7) -> None:
    seeds = Retriever()
    passages = [seeds.passage_text(i) for i in range(len(seeds))]
    rng = random.Random(seed)
    catalog = []
    for number in range(files):
        name = f"{'ab'[number % 2]}/{number:05d}.txt"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("\n\n".join(rng.sample(passages, 5)), "utf-8")
        date = f"{2010 + number % 10}-{1 + number % 12:02d}-{1 + number % 28:02d}"
        catalog.append(f'["{name}"]\nsource = "{SOURCES[number % 10]}"\ndate = "{date}"\n')
    (folder / "catalog.toml").write_text("\n".join(catalog), "utf-8")


def timed(function, questions: list[str]) -> tuple[float, list[int]]:
    seconds, counts = [], []
    for question in questions:
        started = time.perf_counter()
        counts.append(len(function(question)))
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        make_folder(folder, args.files)
        started = time.perf_counter()
        retriever = Retriever(folder)
        print(f"{len(retriever.documents)} files, {len(retriever)} passages, built in {time.perf_counter() - started:.1f} s")
        rng = random.Random(11)
        texts = [retriever.passage_text(i) for i in range(len(retriever))]
        questions = [text[:12] for text in rng.sample(texts, args.questions)]
        source = Filter(sources=(SOURCES[3],))
        cases = {
            "no filter": lambda q: retriever.search(q, k=10),
            "source (1/10 of files)": lambda q: retriever.search(q, k=10, filters=source),
            "since 2015 (1/2)": lambda q: retriever.search(q, k=10, filters=Filter(since="2015")),
            "doc a/* (1/2)": lambda q: retriever.search(q, k=10, filters=Filter(docs=("a/*",))),
            "over-fetch 1000, keep source": lambda q: [
                h for h in retriever.search(q, k=1000) if h.citation.source == SOURCES[3]
            ][:10],
        }
        baseline = None
        print(f"{'case':<32} {'p50 ms':>8} {'vs no filter':>13} {'hits < 10':>10}")
        for name, function in cases.items():
            p50, counts = timed(function, questions)
            baseline = baseline or p50
            short = sum(1 for c in counts if c < 10)
            print(f"{name:<32} {p50:>8.2f} {p50 / baseline:>12.2f}x {short:>10}")


if __name__ == "__main__":
    main()
