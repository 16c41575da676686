"""Every answer as `ask --json` prints it, to compare two versions of the code byte for byte.

    python bench/answer_dump.py --shared ../shared OUT.jsonl [--folder DIR --questions 200]

Asks every question of `eval/seed_dev.jsonl` over the bundled seeds through the
command line (`python -m bot --json`, questions piped in, a fresh cache folder),
and with `--folder`, a sample of the CMRC 2018 / DRCD questions over that folder
(`Retriever.ask`, the same JSON). Run it from two checkouts (PYTHONPATH set to
each) and `cmp` the files: a speed-up must not change a byte of any answer.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--folder", type=Path, help="also ask benchmark questions over this folder")
    parser.add_argument("--index-dir", type=Path, help="the folder's saved index (default: a temporary one)")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    seeds = [json.loads(line)["question"] for line in (args.shared / "eval" / "seed_dev.jsonl").open(encoding="utf-8")]
    with tempfile.TemporaryDirectory(prefix="zhdocqa-dump-") as cache:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--json"],
            input="\n".join(seeds) + "\n", capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "ZHDOCQA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}, check=False,
        )
        if not done.stdout.strip():
            raise SystemExit(f"python -m bot --json printed nothing:\n{done.stderr[-2000:]}")
        lines = done.stdout.splitlines()
        if args.folder:
            from bot import render
            from retrieval import Retriever
            from retrieval.evaluate import load_benchmark

            _, questions = load_benchmark(args.shared / "data")
            sample = random.Random(7).sample([q for q, _, _ in questions], args.questions)
            index_dir = args.index_dir or Path(cache) / "index"
            retriever = Retriever(args.folder, index_dir=index_dir, progress=False)
            for question in sample:
                answer = retriever.ask(question, k=5)
                document = render.answer_json(answer)
                document["confidence"] = answer.confidence  # unrounded: the smallest change shows
                lines.append(json.dumps(document, ensure_ascii=False))
    args.out.write_text("\n".join(lines) + "\n", "utf-8")
    print(f"{len(lines)} answers written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
