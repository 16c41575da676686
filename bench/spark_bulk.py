"""The analyzer on Spark: bulk files for OpenSearch, checked against the single-process build.

    pip install ".[spark]"          # pyspark; needs a Java 17 runtime
    python bench/spark_bulk.py --shared ../shared [--passages 100000] [--cores 2]
    python bench/spark_bulk.py --folder DIR --out DIR      # a real collection: just the bulk files

Analysis (jieba, OpenCC, chunking) is the slow part of loading tens of
millions of passages, and it is per document, so it spreads over any number of
machines. The job:

1. lists the folder's documents on the driver, in the order the local build
   uses, and hands them out in partitions;
2. on the executors, reads, decodes and analyses each document with the same
   functions as `python -m retrieval index` (retrieval.loading.read_source,
   retrieval.indexing.analyse, each partition with its own Analyzer) and
   keeps the analysed documents;
3. collects only each document's passage count, numbers documents and
   passages across the corpus on the driver (a prefix sum: passage numbers
   decide the tie order), and broadcasts the offsets;
4. writes the bulk lines (retrieval.bulk_export, the same code the push uses)
   as part files, in corpus order: `python -m retrieval push --bulk OUT/part-*
   --opensearch URL --index NAME` loads them.

On a cluster, point the master at it (spark-submit --master ...) and the
folder and output at shared storage; here it runs in local mode. With
--shared, a synthetic corpus is made as bench/scale.py makes it, both builds
run, and the script prints their times and compares every passage's tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def analyse_partition(rows, catalog: dict):
    """(position, doc_id, path) -> (position, AnalysedDocument or a skip reason)."""
    from retrieval.analysis import Analyzer
    from retrieval.indexing import analyse
    from retrieval.loading import ListedFile, SourceText, read_source

    analyzer = Analyzer()  # one per partition: each executor loads the dictionary once
    for position, doc_id, path in rows:
        read, _note = read_source(ListedFile(doc_id, Path(path)))
        if isinstance(read, SourceText):
            # The doc_index argument only labels passages; numbering is done on the driver.
            yield position, analyse(read, catalog.get(read.doc_id), 0, analyzer)
        else:
            yield position, read.reason


def spark_build(folder: Path, out: Path, cores: int, partitions: int) -> dict:
    from pyspark.sql import SparkSession

    from retrieval.bulk_export import ndjson, records
    from retrieval.loading import list_documents
    from retrieval.metadata import read_catalog

    # Executors run this interpreter and import this checkout's retrieval package.
    repo = str(Path(__file__).resolve().parents[1])
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    started = time.perf_counter()
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("zhdocqa-bulk")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    context = spark.sparkContext
    session_seconds = time.perf_counter() - started
    started = time.perf_counter()
    listed, _skipped = list_documents(folder)
    rows = [(position, item.doc_id, str(item.path)) for position, item in enumerate(listed)]
    catalog = dict(read_catalog(folder))
    analysed = (
        context.parallelize(rows, partitions)
        .mapPartitions(lambda part: analyse_partition(part, catalog))
        .persist()
    )
    # Only the counts travel to the driver: (position, passages or -1 when skipped).
    counts = sorted(
        analysed.map(lambda pair: (pair[0], -1 if isinstance(pair[1], str) else len(pair[1].passages))).collect()
    )
    numbering, doc, passage = {}, 0, 0
    for position, count in counts:
        if count >= 0:
            numbering[position] = (doc, passage)
            doc += 1
            passage += count
    offsets = context.broadcast(numbering)

    def lines(pair):
        position, document = pair
        if isinstance(document, str):
            return []
        number, first = offsets.value[position]
        return [line.rstrip("\n") for line in ndjson(records(document, number, first))]

    if out.exists():
        shutil.rmtree(out)
    analysed.flatMap(lines).saveAsTextFile(str(out))
    seconds = time.perf_counter() - started
    analysed.unpersist()
    spark.stop()
    return {"documents": doc, "passages": passage, "seconds": seconds, "session_seconds": session_seconds}


def single_build(folder: Path, out: Path) -> dict:
    from retrieval.analysis import Analyzer
    from retrieval.bulk_export import ndjson
    from retrieval.opensearch_push import folder_items

    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as handle:
        handle.writelines(ndjson(folder_items(folder, Analyzer(), workers=1)))
    return {"seconds": time.perf_counter() - started}


def passages_of(files: list[Path]) -> dict[int, dict]:
    from retrieval.bulk_export import read_ndjson

    found = {}
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for item in read_ndjson(handle):
                if item.source["kind"] == "passage":
                    found[item.source["passage"]] = item.source
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, help="make a synthetic corpus from SHARED/data and compare both builds")
    parser.add_argument("--folder", type=Path, help="a collection to turn into bulk files (instead of --shared)")
    parser.add_argument("--out", type=Path, help="where the Spark part files go (default: a temporary folder)")
    parser.add_argument("--passages", type=int, default=100_000, help="synthetic passages (default 100000)")
    parser.add_argument("--cores", type=int, default=2, help="Spark local cores (default 2)")
    parser.add_argument("--partitions", type=int, default=64, help="Spark partitions (default 64)")
    args = parser.parse_args()
    if (args.shared is None) == (args.folder is None):
        parser.error("give --shared (a comparison run) or --folder (a build)")
    work = Path(tempfile.mkdtemp(prefix="spark-bulk-"))
    try:
        if args.folder is not None:
            out = args.out or work / "bulk"
            figures = spark_build(args.folder.resolve(), out.resolve(), args.cores, args.partitions)
            print(f"spark: {figures['documents']} documents, {figures['passages']} passages in {figures['seconds']:.1f} s"
                  f" -> {out}/part-*")
            return 0
        from bench.scale import load_material, write_corpus

        sentences, _ = load_material(args.shared)
        folder = work / "corpus"
        write_corpus(folder, sentences, args.passages)
        single_file = work / "single.ndjson"
        single = single_build(folder, single_file)
        spark_out = (args.out or work / "spark").resolve()
        spark = spark_build(folder, spark_out, args.cores, args.partitions)
        ours = passages_of([single_file])
        theirs = passages_of(sorted(spark_out.glob("part-*")))
        same_tokens = sum(1 for n, s in ours.items() if n in theirs and sorted(s["terms"].split(" ")) == sorted(theirs[n]["terms"].split(" ")))
        same_records = sum(1 for n, s in ours.items() if theirs.get(n) == s)
        single_bytes = single_file.read_bytes()
        spark_bytes = b"".join(p.read_bytes() for p in sorted(spark_out.glob("part-*")))
        print(json.dumps({
            "synthetic_files": len(list(folder.glob("*.txt"))),
            "passages_single": len(ours),
            "passages_spark": len(theirs),
            "documents_spark": spark["documents"],
            "tokens_equal": same_tokens,
            "records_equal": same_records,
            "bulk_bytes_identical": single_bytes == spark_bytes,
            "single_process_s": round(single["seconds"], 1),
            "spark_local_s": round(spark["seconds"], 1),
            "spark_session_start_s": round(spark["session_seconds"], 1),
            "spark_cores": args.cores,
            "speedup": round(single["seconds"] / spark["seconds"], 2),
        }, indent=2))
        return 0 if same_tokens == len(ours) == len(theirs) else 1
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
