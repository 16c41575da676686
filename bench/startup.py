"""Time to first answer of `python -m bot ask` in a fresh process, cold and warm cache.

    python bench/startup.py [--runs 5] [--corpus DIR]

Cold: an empty cache folder (no jieba dictionary cache, no saved index), as on
a first run. Warm: the same folder again, as on every later run. Each run is a
new process; the figures are medians and spreads over the runs, printed, not
asserted: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

QUESTION = "阿里巴巴花了多少钱入股新浪微博?"


def run_once(cache: str, corpus: str | None) -> float:
    command = [sys.executable, "-m", "bot", "ask", QUESTION, "--json"]
    if corpus:
        command += ["--corpus", corpus]
    env = {**os.environ, "ZHDOCQA_CACHE_DIR": cache}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the run failed: {result.stderr.strip()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", help="a folder of documents (default: the bundled seeds)")
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(run_once(cache, args.corpus))
            warm.append(run_once(cache, args.corpus))
    baseline = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import jieba; jieba.setLogLevel(60); jieba.initialize()"], check=True)
        baseline.append(time.perf_counter() - started)
    print(f"time to first answer, `python -m bot ask`, {args.runs} fresh processes each")
    for name, values in (("cold cache", cold), ("warm cache", warm), ("jieba load alone", baseline)):
        median = statistics.median(values)
        print(f"  {name:<17} median {median:.2f} s   min {min(values):.2f} s   max {max(values):.2f} s")
    print(f"  warm / cold        {statistics.median(warm) / statistics.median(cold):.2f}")


if __name__ == "__main__":
    main()
