"""`ask` latency on the seed questions, this checkout beside another one, in the same run.

    python bench/ask_latency.py --shared ../shared [--baseline DIR] [--rounds 5]

Each code tree runs in its own fresh process (PYTHONPATH set to it) over the
bundled seeds: the index is built, every question of `eval/seed_dev.jsonl` is
asked once to warm up, then `--rounds` times more, timed one by one (k=5).
The trees take `--repeats` turns each, alternating, so that both see the same
load; prints the median p50 and p95 per tree and the ratio. To get a baseline tree from git
without touching any worktree: `git archive BASE | tar -x -C /tmp/base`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, time
from retrieval import Retriever
questions = json.loads(sys.argv[1])
rounds = int(sys.argv[2])
retriever = Retriever()
for q in questions:
    retriever.ask(q, k=5)
times = []
for _ in range(rounds):
    for q in questions:
        started = time.perf_counter()
        retriever.ask(q, k=5)
        times.append(time.perf_counter() - started)
times.sort()
print(json.dumps({"p50": times[len(times) // 2], "p95": times[int(len(times) * 0.95)], "n": len(times)}))
"""


def measure(tree: Path, questions: list[str], rounds: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(questions, ensure_ascii=False), str(rounds)],
        env=env, cwd=tree, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the timing process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent / "shared")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to time beside this one")
    parser.add_argument("--rounds", type=int, default=5, help="times each question is asked per turn")
    parser.add_argument("--repeats", type=int, default=5, help="turns each tree takes, alternating")
    args = parser.parse_args()
    seed_file = args.shared / "eval" / "seed_dev.jsonl"
    if not seed_file.is_file():
        print(f"找不到 {seed_file}:请用 --shared 指定 shared 目录。", file=sys.stderr)
        return 2
    questions = [json.loads(line)["question"] for line in seed_file.read_text("utf-8").splitlines() if line.strip()]
    trees = [("this checkout", HERE)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    # The machine is shared: the trees take turns, and each figure is the median over the turns.
    runs: dict[str, list[dict]] = {name: [] for name, _ in trees}
    for _ in range(args.repeats):
        for name, tree in trees:
            runs[name].append(measure(tree, questions, args.rounds))
    medians = {}
    for name, tree in trees:
        p50 = statistics.median(r["p50"] for r in runs[name])
        p95 = statistics.median(r["p95"] for r in runs[name])
        medians[name] = p50
        turns = ", ".join(f"{1000 * r['p50']:.2f}" for r in runs[name])
        print(f"{name:<14} {tree}: ask p50 {1000 * p50:.2f} ms, p95 {1000 * p95:.2f} ms (median of {args.repeats} turns;"
              f" p50 per turn: {turns} ms)")
    if args.baseline:
        print(f"p50 ratio, this checkout / baseline: {medians['this checkout'] / medians['baseline']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
