"""Print how well follow-up questions are understood: two-turn cases over a folder (default: the seeds).

    python -m retrieval.evaluate_conversations                      # tests/data/conversations.jsonl
    python -m retrieval.evaluate_conversations --cases FILE --corpus DIR --verbose

Each case is a JSON line: `turns` (two questions), `kind` (ellipsis, pointer, swap, switch, unanswered)
and `must_contain` (strings, one of which a passage in the second answer's top 3 must hold; empty for a
follow-up the documents do not answer, which must get no answer). The second turn is scored twice: in
the conversation, and asked alone, as a reader who ignores the first turn would.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from retrieval import Answer, Retriever

DEFAULT_CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "conversations.jsonl"
TOP = 3


@dataclass(frozen=True)
class CaseResult:
    case: dict
    in_conversation: bool
    alone: bool
    searched: str
    switch_unaffected: bool | None  # for a topic switch: the same top passage as asked alone


def _succeeds(case: dict, answer: Answer) -> bool:
    if not case["must_contain"]:
        return answer.abstained
    if answer.abstained:
        return False
    return any(s in hit.text for hit in answer.hits[:TOP] for s in case["must_contain"])


def evaluate(cases: list[dict], retriever: Retriever) -> list[CaseResult]:
    results = []
    for case in cases:
        conversation = retriever.conversation()
        for question in case["turns"][:-1]:
            conversation.ask(question)
        answer = conversation.ask(case["turns"][-1])
        alone = retriever.ask(case["turns"][-1])
        unaffected = None
        if case["kind"] == "switch":
            top = [h.citation for h in answer.hits[:1]]
            unaffected = top == [h.citation for h in alone.hits[:1]] and answer.abstained == alone.abstained
        results.append(
            CaseResult(case, _succeeds(case, answer), _succeeds(case, alone), answer.searched or "", unaffected)
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retrieval.evaluate_conversations", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="the two-turn cases (JSON lines)")
    parser.add_argument("--corpus", type=Path, help="the documents (default: the bundled seeds)")
    parser.add_argument("--verbose", action="store_true", help="each case's outcome and the question searched")
    args = parser.parse_args(argv)
    if not args.cases.is_file():
        print(f"找不到 {args.cases}:请用 --cases 指定对话用例文件。", file=sys.stderr)
        return 2
    cases = [json.loads(line) for line in args.cases.read_text("utf-8").splitlines() if line.strip()]
    retriever = Retriever(args.corpus) if args.corpus else Retriever()
    results = evaluate(cases, retriever)
    if args.verbose:
        for r in results:
            mark = "ok  " if r.in_conversation else "MISS"
            print(f"{r.case['id']} {r.case['kind']:<10} {mark} alone {'ok  ' if r.alone else 'miss'} {r.searched}")
    answerable = [r for r in results if r.case["must_contain"]]
    unanswered = [r for r in results if not r.case["must_contain"]]
    switches = [r for r in results if r.switch_unaffected is not None]
    print(f"conversations ({len(results)} two-turn cases: {len(answerable)} answerable, {len(unanswered)} not)")
    for kind in sorted({r.case["kind"] for r in results}):
        group = [r for r in results if r.case["kind"] == kind]
        print(
            f"  {kind:<10} in conversation {sum(r.in_conversation for r in group)}/{len(group)}"
            f"   asked alone {sum(r.alone for r in group)}/{len(group)}"
        )
    if answerable:
        print(
            f"  answerable second turns with the answer in the top {TOP}:"
            f" {sum(r.in_conversation for r in answerable) / len(answerable):.3f}"
            f" (asked alone {sum(r.alone for r in answerable) / len(answerable):.3f})"
        )
    if switches:
        print(f"  topic switches unaffected: {sum(bool(r.switch_unaffected) for r in switches)}/{len(switches)}")
    if unanswered:
        caught = sum(r.in_conversation for r in unanswered)
        print(f"  unanswered follow-ups given no answer: {caught}/{len(unanswered)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
