"""Index at scale: build, memory, save/load and query speed, beside rank_bm25 and bm25s.

    pip install bm25s    # the comparison only; not a dependency of the project
    python bench/scale.py --shared ../shared [--sizes 10000 100000 1000000] [--queries 200] [--no-reference]

Synthetic collections are made from the CMRC 2018 and DRCD paragraphs of
`--shared`/data: their sentences recombined (fixed seed) into passages of 2-5
sentences, 50 passages to an article file, written to a temporary folder. Each
size runs in fresh child processes, so peak RSS is that size's own:

- ours: `Retriever(folder, index_dir=...)` builds (both cores) and saves; a
  second process loads the saved index (including the check that the folder is
  unchanged; the arrays' checksums are then verified in a background thread,
  timed apart), and times, over the same questions: the ranking alone
  (`BM25Index.top(terms, 10)` on analysed terms), `ranking(question)` and
  `ask(question, k=5)` end to end (analysis, ranking, hits with highlights, best
  sentence, abstention) and `search(k=10)`; a third adds one 50-passage file to
  the folder and times the update of the saved index (load, analyse the new file,
  recompute the weights, save), against the full build of the same run.
- rank_bm25: the reference scorer over the same passage terms (10k and 100k).
- bm25s: built from the same terms where it fits in memory; at 1M its index is
  our weight matrix handed to it (its own build keeps Python lists of every
  token), so the query figures compare the two retrieval paths on equal data.

Every engine answers the same questions, as the same terms, with k=10;
tokenization is not part of any query time. Figures, not tests: compare the
ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSAGES_PER_FILE = 50
K = 10


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_material(shared: Path) -> tuple[list[str], list[str]]:
    """The benchmark's sentences and questions."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from retrieval.evaluate import load_benchmark
    from retrieval.text import sentence_spans

    paragraphs, questions = load_benchmark(shared / "data")
    sentences = []
    for paragraph in paragraphs:
        sentences.extend(paragraph[s:e] for s, e in sentence_spans(paragraph) if e - s >= 8)
    return sentences, [q for q, _, _ in questions]


def write_corpus(folder: Path, sentences: list[str], passages: int, seed: int = 2018) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, passages, PASSAGES_PER_FILE):
        count = min(PASSAGES_PER_FILE, passages - start)
        body = []
        for _ in range(count):
            body.append("".join(rng.choice(sentences) for _ in range(rng.randint(2, 5))))
        name = f"{start // PASSAGES_PER_FILE:06d}.txt"
        (folder / name).write_text("\n\n".join(body) + "\n", "utf-8")


def _timings(function, queries: list) -> dict[str, float]:
    times = []
    for terms in queries:
        started = time.perf_counter()
        function(terms)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}


# -- children -------------------------------------------------------------------


def _analyzer(index_dir: Path):
    """As the command-line edges have it: jieba's cache and the saved lexicon in a cache folder."""
    from retrieval.cache import cached_analyzer

    return cached_analyzer(index_dir.parent / "cache")


def child_build(folder: Path, index_dir: Path) -> dict:
    from retrieval import Retriever

    started = time.perf_counter()
    retriever = Retriever(folder, index_dir=index_dir, progress=False, analyzer=_analyzer(index_dir))
    total = time.perf_counter() - started
    # Time the save alone by saving again to a scratch folder.
    from retrieval import store

    scratch = index_dir.parent / "save-timing"
    started = time.perf_counter()
    store.save_opened(scratch, retriever._state.opened, retriever._analyzer)
    save = time.perf_counter() - started
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "passages": len(retriever),
        "terms": len(retriever._index.vocabulary),
        "postings": int(len(retriever._index.indices)),
        "build_s": total - save,
        "save_s": save,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_update(folder: Path, index_dir: Path, sentences_file: Path) -> dict:
    """One new 50-passage file in the folder: load, update and save, as `python -m retrieval index` does
    (with its cache folder, so the new file is cut through the saved lexicon, not after a dictionary load)."""
    from retrieval import Retriever

    sentences = json.loads(sentences_file.read_text("utf-8"))
    rng = random.Random(99)
    body = ["".join(rng.choice(sentences) for _ in range(rng.randint(2, 5))) for _ in range(PASSAGES_PER_FILE)]
    added = folder / "zz_added.txt"
    added.write_text("\n\n".join(body) + "\n", "utf-8")
    try:
        started = time.perf_counter()
        retriever = Retriever(folder, index_dir=index_dir, progress=False, analyzer=_analyzer(index_dir))
        seconds = time.perf_counter() - started
        changes = retriever._state.opened.changes
        return {
            "update_s": seconds,
            "status": str(retriever.index_status),
            "added": list(changes.added),
            "analysed": changes.analysed,
            "passages": len(retriever),
            "peak_rss_mb": peak_rss_mb(),
        }
    finally:
        added.unlink()


def child_query(folder: Path, index_dir: Path, questions: list[str]) -> dict:
    started = time.perf_counter()
    from retrieval import Retriever

    imported = time.perf_counter()
    retriever = Retriever(folder, index_dir=index_dir)
    loaded = time.perf_counter()
    retriever._current()  # the checksums, verified in the background meanwhile
    verified = time.perf_counter()
    retriever._analyzer.load()  # a long-running process: the full dictionary (the adapters' warm_up)
    assert retriever.index_status == "loaded", retriever.index_status
    analyzer = retriever._analyzer
    queries = [list(analyzer.question(q).terms) for q in questions]
    index = retriever._index
    for question in questions[:20]:  # warm: the dictionary loaded, pages of the arrays touched
        retriever.ask(question, k=5)
    from retrieval import answering

    # Round robin over the four, in a rotating order, so that the machine's load and
    # caches weigh on each alike; no answer reuses another's normalized passages.
    calls = {
        "top": lambda i: index.top(queries[i], K),
        "ranking": lambda i: retriever.ranking(questions[i], k=K),
        "ask": lambda i: retriever.ask(questions[i], k=5),
        "search": lambda i: retriever.search(questions[i], k=K),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(len(questions)):
        for name in names[i % 4 :] + names[: i % 4]:
            answering._FOLDED.clear()
            begun = time.perf_counter()
            calls[name](i)
            times[name].append((time.perf_counter() - begun) * 1000)
    summary = {}
    for name, values in times.items():
        values.sort()
        summary[name] = {"p50_ms": statistics.median(values), "p95_ms": values[int(0.95 * (len(values) - 1))]}
    result = dict(summary["top"])
    ranking, ask, search = summary["ranking"], summary["ask"], summary["search"]
    result.update(
        {
            "ranking_p50_ms": ranking["p50_ms"],
            "ask_p50_ms": ask["p50_ms"],
            "ask_p95_ms": ask["p95_ms"],
            "search_p50_ms": search["p50_ms"],
            "load_s": loaded - imported,
            "verified_s": verified - loaded,
            "import_s": imported - started,
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    return result


def child_reference(index_dir: Path, questions: list[str], engine: str, folder: Path) -> dict:
    import numpy as np

    from retrieval.analysis import default_analyzer
    from retrieval.loading import read_folder

    # The passages' terms, analysed exactly as the index analyses them.
    texts = read_folder(folder, stamped=False).texts
    analyzer = default_analyzer()
    started = time.perf_counter()
    passage_terms = _analyse_terms(texts, analyzer)
    analyse_s = time.perf_counter() - started
    queries = [list(analyzer.question(q).terms) for q in questions]
    if engine == "rank_bm25":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.auxil.reference_bm25 import PositiveIdfBM25

        started = time.perf_counter()
        bm25 = PositiveIdfBM25(passage_terms, k1=1.5, b=0.75)
        build = time.perf_counter() - started

        def run(terms):
            scores = bm25.get_scores(terms)
            candidates = np.flatnonzero(scores > 0)
            return candidates[np.lexsort((candidates, -scores[candidates]))][:K]

    else:
        import bm25s

        started = time.perf_counter()
        bm25 = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        bm25.index(passage_terms, show_progress=False)
        build = time.perf_counter() - started
        vocab = bm25.vocab_dict

        def run(terms):
            known = [t for t in terms if t in vocab]
            if known:
                bm25.retrieve([known], k=K, show_progress=False, n_threads=1)

    del passage_terms
    result = _timings(run, queries)
    result.update({"build_s": build, "analyse_s": analyse_s, "peak_rss_mb": peak_rss_mb()})
    return result


def child_bm25s_from_matrix(index_dir: Path, questions: list[str]) -> dict:
    """bm25s's retrieval over our weight matrix: its query path on equal data, at any size."""
    import bm25s
    import numpy as np

    from retrieval import store
    from retrieval.analysis import default_analyzer

    analyzer = default_analyzer()
    loaded = store.load(index_dir, analyzer)
    index = loaded.index
    bm25 = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    bm25.scores = {
        "data": np.asarray(index.weights, dtype=np.float32),
        "indices": np.asarray(index.indices, dtype=np.int32),
        "indptr": np.asarray(index.indptr),
        "num_docs": index.size,
    }
    bm25.vocab_dict = {}
    bm25.nonoccurrence_array = None
    bm25.unique_token_ids_set = set(range(len(index.vocabulary)))
    queries = [index.vocabulary.lookup_many(list(analyzer.question(q).terms)) for q in questions]

    def run(ids):
        known = [int(i) for i in ids if i >= 0]
        if known:
            bm25.retrieve([known], k=K, show_progress=False, n_threads=1)

    result = _timings(run, queries)
    result.update({"build_s": float("nan"), "peak_rss_mb": peak_rss_mb()})
    return result


def _analyse_terms(texts, analyzer) -> list[list[str]]:
    from retrieval.chunking import chunk
    from retrieval.documents import build_document

    rows = []
    for i, text in enumerate(texts):
        document = build_document(text)
        rows.extend(analyzer.terms(p.text(document)) for p in chunk(document, i))
    return rows


# -- orchestration --------------------------------------------------------------


def run_child(args: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env={**os.environ}
    )
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--reference-queries", type=int, default=20, help="queries for rank_bm25 (about 1 s each at 100k)"
    )
    parser.add_argument("--workdir", type=Path, help="where to write the synthetic folders (default: a temporary one)")
    parser.add_argument("--no-reference", action="store_true", help="skip rank_bm25 and bm25s")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    if not (args.shared / "data" / "cmrc2018_dev.json").is_file():
        raise SystemExit(f"no benchmark data under {args.shared}/data: pass --shared")
    sentences, questions = load_material(args.shared)
    rng = random.Random(7)
    sample = rng.sample(questions, min(args.queries, len(questions)))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="zhdocqa-bench-"))
    questions_file = workdir / "questions.json"
    workdir.mkdir(parents=True, exist_ok=True)
    questions_file.write_text(json.dumps(sample, ensure_ascii=False), "utf-8")
    reference_file = workdir / "reference_questions.json"
    reference_file.write_text(json.dumps(sample[: args.reference_queries], ensure_ascii=False), "utf-8")
    sentences_file = workdir / "sentences.json"
    sentences_file.write_text(json.dumps(sentences[:20000], ensure_ascii=False), "utf-8")
    print(f"{len(sentences)} sentences from CMRC 2018 + DRCD; {len(sample)} questions; work folder {workdir}")
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}", flush=True)
    for size in args.sizes:
        folder, index_dir = workdir / f"corpus-{size}", workdir / f"index-{size}"
        started = time.perf_counter()
        if not (folder / f"{(size - 1) // PASSAGES_PER_FILE:06d}.txt").is_file():  # a --workdir from a run before
            write_corpus(folder, sentences, size)
        print(
            f"\n== {size:,} passages ({size // PASSAGES_PER_FILE:,} files,"
            f" written in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        build = run_child(["build", str(folder), str(index_dir)])
        print(
            f"ours      build {build.get('build_s', float('nan')):8.1f} s"
            f"   save {build.get('save_s', float('nan')):.2f} s"
            f"   peak RSS {build.get('peak_rss_mb', float('nan')):,.0f} MB   ({build.get('passages', '?')} passages,"
            f" {build.get('terms', '?')} terms, {build.get('postings', '?')} postings) {build.get('error', '')}",
            flush=True,
        )
        query = run_child(["query", str(folder), str(index_dir), str(questions_file)])
        print(
            f"ours      load  {query.get('load_s', float('nan')):8.2f} s   (checksums verified in the background:"
            f" {query.get('verified_s', float('nan')):.2f} s more before the first answer)"
            f"   peak RSS {query.get('peak_rss_mb', float('nan')):,.0f} MB {query.get('error', '')}",
            flush=True,
        )
        top = query.get("p50_ms", float("nan"))
        print(
            f"ours      query p50 {top:.2f} ms  p95 {query.get('p95_ms', float('nan')):.2f} ms (BM25Index.top, k={K})"
            f" | ranking(question) p50 {query.get('ranking_p50_ms', float('nan')):.2f} ms"
            f" | ask(question, k=5) p50 {query.get('ask_p50_ms', float('nan')):.2f} ms"
            f" p95 {query.get('ask_p95_ms', float('nan')):.2f} ms"
            f" | search(k={K}) p50 {query.get('search_p50_ms', float('nan')):.2f} ms"
            f" | ask / top = {query.get('ask_p50_ms', float('nan')) / top:.2f}x"
            f", ask / ranking(question) = {query.get('ask_p50_ms', float('nan')) / query.get('ranking_p50_ms', 1):.2f}x",
            flush=True,
        )
        update = run_child(["update", str(folder), str(index_dir), str(sentences_file)])
        share = update.get("update_s", float("nan")) / build.get("build_s", float("nan")) * 100
        print(
            f"ours      update (one {PASSAGES_PER_FILE}-passage file added)"
            f" {update.get('update_s', float('nan')):.2f} s"
            f" = {share:.1f}% of the full build; {update.get('analysed', '?')} document analysed,"
            f" status {update.get('status', '?')}, peak RSS {update.get('peak_rss_mb', float('nan')):,.0f} MB"
            f" {update.get('error', '')}",
            flush=True,
        )
        engines = []
        if args.no_reference:
            pass
        elif size <= 100_000:
            engines.append(("rank_bm25", ["reference", str(index_dir), str(reference_file), "rank_bm25", str(folder)]))
            engines.append(("bm25s", ["reference", str(index_dir), str(questions_file), "bm25s", str(folder)]))
        if not args.no_reference:
            engines.append(("bm25s*", ["bm25s-matrix", str(index_dir), str(questions_file)]))
        for name, child_args in engines:
            other = run_child(child_args)
            if "error" in other:
                print(f"{name:<9} failed: {other['error']}", flush=True)
                continue
            ratio = other["p50_ms"] / query["p50_ms"] if query.get("p50_ms") else float("nan")
            print(
                f"{name:<9} build {other['build_s']:8.1f} s"
                f"   query p50 {other['p50_ms']:.2f} ms  p95 {other['p95_ms']:.2f} ms"
                f"   peak RSS {other['peak_rss_mb']:,.0f} MB   ours is {ratio:,.1f}x faster (p50)",
                flush=True,
            )
        if not args.workdir:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(index_dir, ignore_errors=True)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n* bm25s's retrieval over our weight matrix (float32, as bm25s stores it): its query path alone, at every")
    print("  size; its own build keeps Python lists of every token, beyond this machine's memory at 1M.")


def _child(argv: list[str]) -> dict:
    kind = argv[0]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if kind == "build":
        return child_build(Path(argv[1]), Path(argv[2]))
    if kind == "update":
        return child_update(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    if kind == "query":
        return child_query(Path(argv[1]), Path(argv[2]), json.loads(Path(argv[3]).read_text("utf-8")))
    if kind == "reference":
        return child_reference(Path(argv[1]), json.loads(Path(argv[2]).read_text("utf-8")), argv[3], Path(argv[4]))
    if kind == "bm25s-matrix":
        return child_bm25s_from_matrix(Path(argv[1]), json.loads(Path(argv[2]).read_text("utf-8")))
    raise SystemExit(f"unknown child {kind}")


if __name__ == "__main__":
    main()
