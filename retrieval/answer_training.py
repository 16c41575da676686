"""Learn the answer model from CMRC 2018 + DRCD, and measure it on held-out articles.

    python -m retrieval.answer_training --shared ../shared      # rewrite retrieval/answer_model.json

Not on the query path (the retriever only reads the JSON file). The data:
every distinct paragraph of both dev sets is one document of one collection;
each question is asked twice, against the whole collection (answerable: the
paragraph it was asked on is there) and with its own paragraph left out of
the candidates (a near miss: the article's other paragraphs remain). Folds
are by article, so no article is on both sides of a split. The reranker and
the headline model are linear, fitted listwise (scipy); the confidence model
is gradient-boosted trees (scikit-learn, a training-only dependency:
`pip install -e ".[train]"`), exported to the JSON file for numpy. Fitting is
deterministic: the same data give the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from retrieval.answer_features import PASSAGE_FEATURES, SENTENCE_FEATURES, QuestionProfile, Sentence, profile_question
from retrieval.answer_model import (
    CONFIDENCE_FEATURES,
    HEADLINE_FEATURES,
    MODEL_FILE,
    STRICT_KINDS,
    AnswerModel,
    Linear,
    Trace,
    Trees,
    outcome_for,
    strict_kind,
    trace,
)
from retrieval.results import Outcome
from retrieval.text import normalize

DATA_FILES = ("cmrc2018_dev.json", "DRCD_dev.json")
FOLDS = 5
SEED = 20261122
CANDIDATES = 8
HEADLINE_PASSAGES = 1
L2 = 1.0  # the listwise models' penalty
# The confidence model's trees: enough to combine its signals, few enough to stay smooth (chosen by
# cross-validation by article on CMRC+DRCD, never on the seed questions).
TREES = 150
TREE_DEPTH = 3
LEARNING_RATE = 0.1
MIN_LEAF = 20
# What is known before any data: more of the question in the headline, a clearer winner among the
# passages and among the sentences, can only make the headline likelier right; words no document
# holds, or a headline without the kind of thing asked for, only less. The trees may not learn
# otherwise from quirks of the training set or of its paraphrased copies. (Constraining every
# feature whose direction seems obvious cost 0.004 of headline accuracy in cross-validation.)
MONOTONIC = {
    "headline_coverage": 1, "passage_probability": 1, "headline_probability": 1,
    "missing_share": -1, "headline_kind_absent": -1, "runner_up_margin": 1,
}
# Below this confidence the headline is right less than one time in twenty:
# say "no answer" rather than "unsure".
NO_ANSWER_THRESHOLD = 0.05
PARAPHRASED_SHARE = 0.5
# A share of the questions again over only their first one to SHORT_MOST candidates.
SHORT_SHARE = 0.3
SHORT_MOST = 3


@dataclass
class Example:
    """One question over one view of the collection (whole, or its paragraph left out)."""

    question: str
    group: int  # the article
    source: str  # the data file
    profile: QuestionProfile
    texts: list[str]
    normalized: list[str]
    scores: list[float]
    paragraphs: list[int]  # the paragraph of each candidate
    gold: int  # the paragraph asked on
    answers: tuple[str, ...]  # normalized gold answers
    left_out: bool
    augmented: bool = False  # a paraphrased or shortened copy, for fitting only
    short: bool = False  # only its first few candidates: what a small folder gives (fits the confidence only)
    cache: dict[int, list[Sentence]] = field(default_factory=dict)
    rows: np.ndarray | None = None

    def passage_rows(self, model: AnswerModel) -> np.ndarray:
        if self.rows is None:
            self.rows = trace(self.profile, self.texts, self.scores, model, self.normalized).passage_rows
        return self.rows

    def trace(self, model: AnswerModel):
        self.passage_rows(model)
        return trace(self.profile, self.texts, self.scores, model, self.normalized, self.cache, self.rows)

    def holds_answer(self, candidate: int, normalized_text: str) -> bool:
        return self.paragraphs[candidate] == self.gold and any(a in normalized_text for a in self.answers)


def read_questions(data: Path) -> tuple[list[str], list[dict]]:
    """Distinct paragraphs of both files, and one record per question."""
    paragraphs: list[str] = []
    index: dict[str, int] = {}
    questions = []
    group = 0
    for name in DATA_FILES:
        content = json.loads((data / name).read_text("utf-8"))
        for article in content["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                if context not in index:
                    index[context] = len(paragraphs)
                    paragraphs.append(context)
                for qa in paragraph["qas"]:
                    answers = tuple(dict.fromkeys(normalize(a["text"]).strip() for a in qa["answers"]))
                    questions.append(
                        {"question": qa["question"], "gold": index[context], "group": group, "source": name,
                         "answers": tuple(a for a in answers if a)}
                    )
            group += 1
    return paragraphs, questions


def build_examples(data: Path, progress: bool = True) -> list[Example]:
    """Both views of every question (answerable first, then left out), in file order."""
    from retrieval.retriever import Retriever

    paragraphs, questions = read_questions(data)
    retriever = Retriever.from_texts(paragraphs)
    normalized_cache: dict[int, str] = {}
    examples: list[Example] = []
    rng = np.random.default_rng(SEED)
    shortening = np.random.default_rng(SEED + 1)
    unused = _unused_words(retriever, rng)
    for number, record in enumerate(questions):
        if progress and number % 1000 == 0:
            print(f"  examples {number}/{len(questions)}", file=sys.stderr)
        asked = [(record["question"], False)]
        paraphrase = _paraphrased(record["question"], unused, rng, retriever)
        if paraphrase is not None:
            asked.append((paraphrase, True))
        first = len(examples)
        for question, augmented in asked:
            examples.extend(_views(question, augmented, record, retriever, normalized_cache))
        if shortening.random() < SHORT_SHARE:
            as_written = examples[first : first + 2]
            examples.extend(_shortened(ex, int(shortening.integers(1, SHORT_MOST + 1))) for ex in as_written)
    return examples


def _shortened(ex: Example, kept: int) -> Example:
    """A copy with only the first `kept` candidates, as a folder of a few documents gives.

    On a whole collection a passage that stands alone, far above any other, is
    usually the one asked about; in a small folder it is alone because little
    else is there. These copies teach the confidence model the difference.
    """
    return dataclasses.replace(
        ex, texts=ex.texts[:kept], normalized=ex.normalized[:kept], scores=ex.scores[:kept],
        paragraphs=ex.paragraphs[:kept], augmented=True, short=True, cache={}, rows=None,
    )


def _unused_words(retriever, rng: np.random.Generator) -> list[str]:
    """Everyday two-character words that no document of the collection holds (seeded order)."""
    analyzer = retriever._analyzer
    analyzer.load()
    words = sorted(
        w for w, f in analyzer._jieba().FREQ.items()
        if f >= 200 and len(w) == 2 and all("\u4e00" <= c <= "\u9fff" for c in w)
        and analyzer.is_content(w) and not retriever._known(w)
    )
    return [words[i] for i in rng.permutation(len(words))[:5000]]


def _paraphrased(question: str, unused: list[str], rng: np.random.Generator, retriever) -> str | None:
    """Half of the questions again with one or two content words swapped for words the documents never use.

    CMRC and DRCD questions were written looking at the paragraph and reuse its
    words; people asking a bot paraphrase. The copy teaches the models that a
    word missing from the documents is not by itself a sign of no answer.
    """
    if rng.random() >= PARAPHRASED_SHARE:
        return None
    analysed = retriever._question(question)
    normalized = analysed.normalized
    words = [w for w in analysed.words if len(w) >= 2 and w in normalized]
    if len(words) < 2:
        return None
    # One word, or two of a longer question: people reword more than one.
    count = 1 if len(words) < 3 else int(rng.integers(1, 3))
    for index in sorted(rng.choice(len(words), size=count, replace=False).tolist()):
        normalized = normalized.replace(words[index], unused[int(rng.integers(len(unused)))], 1)
    return normalized


def _views(question: str, augmented: bool, record: dict, retriever, normalized_cache: dict[int, str]) -> list[Example]:
    """The question over the whole collection, and with its paragraph left out."""
    collection, index = retriever._collection, retriever._index
    analysed = retriever._question(question)
    profile = profile_question(analysed, retriever._analyzer, retriever._known, retriever._general.weight)
    ranked = index.top(list(analysed.terms), CANDIDATES + 10)
    gold_texts = [normalize(collection.passage_text(i)) for i in collection.doc_passages(record["gold"])]

    def known_elsewhere(word: str) -> bool:
        """Known with the paragraph asked on taken out of the collection, as a near miss has it."""
        def outside(term: str) -> bool:
            return index.document_frequency(term) > sum(1 for t in gold_texts if term in t)

        if index.document_frequency(word) > 0:
            return outside(word)
        return retriever._known(word) and all(outside(word[i : i + 2]) for i in range(len(word) - 1))

    near_miss = profile_question(analysed, retriever._analyzer, known_elsewhere, retriever._general.weight)
    out = []
    for left_out in (False, True):
        kept = [(i, s) for i, s in ranked if not left_out or int(collection.passage_doc[i]) != record["gold"]]
        kept = kept[:CANDIDATES]
        for i, _ in kept:
            if i not in normalized_cache:
                normalized_cache[i] = normalize(collection.passage_text(i))
        out.append(
            Example(
                question=question,
                group=record["group"],
                source=record["source"],
                profile=near_miss if left_out else profile,
                texts=[collection.passage_text(i) for i, _ in kept],
                normalized=[normalized_cache[i] for i, _ in kept],
                scores=[s for _, s in kept],
                paragraphs=[int(collection.passage_doc[i]) for i, _ in kept],
                gold=record["gold"],
                answers=record["answers"],
                left_out=left_out,
                augmented=augmented,
            )
        )
    return out


# -- fitting --------------------------------------------------------------------


def fit_listwise(rows: np.ndarray, labels: np.ndarray, starts: np.ndarray, names: Sequence[str],
                 l2: float = L2) -> Linear:
    """A linear scorer trained to put a right row first within each group (softmax over the group).

    `starts` are the first rows of each group (rows of a group are contiguous);
    groups with no right row are left out. Scores are for ranking, not probabilities.
    """
    from scipy.optimize import minimize  # training only

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (rows - mean) / scale
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(rows))))
    has_right = np.add.reduceat(labels, starts) > 0
    keep = has_right[group]
    z, labels, group = z[keep], labels[keep], group[keep]
    _, group = np.unique(group, return_inverse=True)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    right = labels > 0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ w
        top = np.maximum.reduceat(s, starts)[group]
        e = np.exp(s - top)
        total = np.add.reduceat(e, starts)
        good = np.add.reduceat(e * right, starts)
        value = float(np.sum(np.log(total) - np.log(good))) + 0.5 * l2 * float(w @ w)
        weight = e / total[group] - (e * right) / good[group]
        return value, z.T @ weight + l2 * w

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return Linear(tuple(names), mean, scale, w, 0.0)


def training_available() -> str | None:
    """None when the training extra is installed, else what to do (in the users' language)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return '训练与交叉验证需要 scikit-learn:请运行 pip install -e ".[train]"。'
    return None


def fit_trees(rows: np.ndarray, labels: np.ndarray, names: Sequence[str], trees: int = TREES,
              depth: int = TREE_DEPTH, monotonic: Sequence[int] | None = None) -> Trees:
    """Gradient-boosted trees on the logistic loss (scikit-learn, training only), as a `Trees`.

    `monotonic`: per feature, +1 when the logit may only rise with it, -1 only
    fall, 0 free.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier  # training only

    booster = HistGradientBoostingClassifier(
        max_iter=trees, max_depth=depth, learning_rate=LEARNING_RATE, min_samples_leaf=MIN_LEAF,
        early_stopping=False, monotonic_cst=list(monotonic) if monotonic is not None else None, random_state=0,
    ).fit(rows, labels)
    rows_of_trees = [_heap_tree(predictor.nodes, depth) for (predictor,) in booster._predictors]
    feature, threshold, values = (np.array([tree[i] for tree in rows_of_trees]) for i in range(3))
    bias = float(np.asarray(booster._baseline_prediction).ravel()[0])
    return Trees(tuple(names), depth, feature, threshold, values, bias)


def _heap_tree(nodes: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One fitted tree (scikit-learn's node records) as complete heap-ordered arrays: the inner nodes'
    features and thresholds, and the leaf values (the learning rate already applied)."""
    inner = 2**depth - 1
    feature = np.zeros(inner, dtype=np.intp)
    threshold = np.full(inner, np.inf)
    values = np.zeros(2**depth)

    def place(node: int, at: int, level: int) -> None:
        if level == depth:
            values[at - inner] = nodes["value"][node]
            return
        if nodes["is_leaf"][node]:  # an early leaf: always go left, the same value below
            place(node, 2 * at + 1, level + 1)
            place(node, 2 * at + 2, level + 1)
            return
        feature[at] = nodes["feature_idx"][node]
        threshold[at] = nodes["num_threshold"][node]
        place(int(nodes["left"][node]), 2 * at + 1, level + 1)
        place(int(nodes["right"][node]), 2 * at + 2, level + 1)

    place(0, 0, 0)
    return feature, threshold, values


def _stack(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.cumsum([0] + [len(b) for b in blocks[:-1]])
    return np.vstack(blocks), np.asarray(starts)


def fit(examples: Sequence[Example]) -> AnswerModel:
    """The three models, each fitted on the output of the ones before it."""
    # 1. rerank: every candidate of every answerable view.
    rows, labels = [], []
    for ex in examples:
        if ex.left_out or ex.short or not ex.texts:
            continue
        bare = AnswerModel(rerank=_ZERO_RERANK, headline=None, confidence=None, headline_passages=0)
        rows.append(ex.passage_rows(bare))
        labels.append(np.array([p == ex.gold for p in ex.paragraphs], dtype=np.float64))
    stacked, starts = _stack(rows)
    rerank = fit_listwise(stacked, np.concatenate(labels), starts, PASSAGE_FEATURES)
    # 2. headline: the sentences of the best reranked passages, answerable views.
    model = AnswerModel(rerank, None, None, CANDIDATES, HEADLINE_PASSAGES)
    rows, labels = [], []
    for ex in examples:
        if ex.left_out or ex.short:
            continue
        t = ex.trace(model)
        if t.headline_rows is None:
            continue
        rows.append(t.headline_rows)
        labels.append(
            np.array([ex.holds_answer(p, s.normalized) for p, s in zip(t.sentence_passage, t.sentences)], dtype=float)
        )
    stacked, starts = _stack(rows)
    headline = fit_listwise(stacked, np.concatenate(labels), starts, HEADLINE_FEATURES)
    # 3. confidence: both views; right when the chosen headline holds the answer.
    model = AnswerModel(rerank, headline, None, CANDIDATES, HEADLINE_PASSAGES)
    conf_rows: list[np.ndarray] = []
    conf_labels: list[bool] = []
    left_out: list[bool] = []
    original: list[bool] = []
    strict: list[tuple[Example, Trace]] = []
    for ex in examples:
        t = ex.trace(model)
        if t.confidence_row is None:
            continue
        if not ex.augmented and strict_kind(ex.profile) is not None:
            strict.append((ex, t))
        conf_rows.append(t.confidence_row)
        conf_labels.append(_headline_right(ex, t))
        left_out.append(ex.left_out)
        original.append(not ex.augmented)
    stacked = np.vstack(conf_rows)
    confidence = fit_trees(stacked, np.array(conf_labels, dtype=float), CONFIDENCE_FEATURES,
                           monotonic=[MONOTONIC.get(name, 0) for name in CONFIDENCE_FEATURES])
    # The threshold is set on the questions as written, not on the paraphrased copies.
    keep = np.array(original)
    probabilities = 1.0 / (1.0 + np.exp(-confidence.logits(stacked[keep])))
    threshold = balanced_threshold(probabilities, np.array(left_out)[keep])
    return AnswerModel(rerank, headline, confidence, CANDIDATES, HEADLINE_PASSAGES, threshold, NO_ANSWER_THRESHOLD,
                       kind_caps(strict))


def kind_caps(traced: Sequence[tuple[Example, Trace]]) -> dict[str, float]:
    """Per strict kind, the share of headlines holding nothing of the kind asked for that were right
    (questions as written, both views, as the headline model chose), smoothed toward one half by one
    right and one wrong."""
    absent = SENTENCE_FEATURES.index("kind_absent")
    counts = {kind: [0, 0] for kind in STRICT_KINDS}
    for ex, t in traced:
        kind = strict_kind(ex.profile)
        if kind is None or t.best is None or t.headline_rows is None or not t.headline_rows[t.best, absent]:
            continue
        counts[kind][0] += _headline_right(ex, t)
        counts[kind][1] += 1
    return {str(kind): round((right + 1) / (n + 2), 4) for kind, (right, n) in counts.items()}


def balanced_threshold(probabilities: np.ndarray, left_out: np.ndarray) -> float:
    """The confidence at which the share of answerable questions left unanswered equals
    the share of left-out (near-miss) questions answered: neither error is favoured.
    Questions with no candidate at all are never answered, so they do not move it."""
    grid = np.linspace(0.05, 0.95, 181)
    gaps = [abs(float((probabilities[~left_out] < t).mean()) - float((probabilities[left_out] >= t).mean()))
            for t in grid]
    return round(float(grid[int(np.argmin(gaps))]), 3)


_ZERO_RERANK = Linear(PASSAGE_FEATURES, np.zeros(len(PASSAGE_FEATURES)), np.ones(len(PASSAGE_FEATURES)),
                      np.zeros(len(PASSAGE_FEATURES)), 0.0)


def _headline_right(ex: Example, t) -> bool:
    if t.best is None or ex.left_out:
        return False
    return ex.holds_answer(t.sentence_passage[t.best], t.sentences[t.best].normalized)


def folds_of(examples: Sequence[Example], folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """The fold of each example: articles shuffled with a fixed seed, dealt round robin."""
    groups = sorted({ex.group for ex in examples})
    order = np.random.default_rng(seed).permutation(len(groups))
    fold_of_group = {groups[g]: i % folds for i, g in enumerate(order)}
    return np.array([fold_of_group[ex.group] for ex in examples])


# -- held-out evaluation ----------------------------------------------------------


@dataclass
class Outcomes:
    """Per example: what the held-out model did."""

    example: Example
    rank1: bool  # the first passage shown is from the paragraph asked on
    headline_right: bool
    confidence: float
    outcome: Outcome


def cross_validate(examples: Sequence[Example], folds: int = FOLDS, progress: bool = True) -> list[Outcomes]:
    """Each fold's model scores only the articles it was not fitted on."""
    fold = folds_of(examples, folds)
    results: list[Outcomes | None] = [None] * len(examples)
    for f in range(folds):
        if progress:
            print(f"  fold {f + 1}/{folds}", file=sys.stderr)
        model = fit([ex for ex, g in zip(examples, fold) if g != f])
        for i in (int(j) for j in np.flatnonzero(fold == f)):
            if not examples[i].augmented:
                results[i] = judge(examples[i], model)
    return [r for r in results if r is not None]


def judge(ex: Example, model: AnswerModel) -> Outcomes:
    t = ex.trace(model)
    if t.best is None:
        first = t.ranked[0] if t.ranked else None
        return Outcomes(ex, first is not None and ex.paragraphs[first] == ex.gold, False, 0.0, Outcome.NO_ANSWER)
    holder = t.sentence_passage[t.best]
    return Outcomes(ex, ex.paragraphs[holder] == ex.gold, _headline_right(ex, t), t.confidence,
                    outcome_for(t.confidence, model))


def summary(results: Sequence[Outcomes], bins: int = 10) -> dict:
    """The figures a user feels, over answerable and left-out views."""
    answerable = [r for r in results if not r.example.left_out]
    left_out = [r for r in results if r.example.left_out]
    n = len(answerable) or 1
    answered = [r for r in answerable if r.outcome == Outcome.ANSWERED]
    confidences = np.array([r.confidence for r in results])
    rights = np.array([r.headline_right for r in results], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    table = []
    ece = 0.0
    for lo, hi in pairwise(edges):
        inside = (confidences >= lo) & ((confidences < hi) if hi < 1 else (confidences <= hi))
        count = int(inside.sum())
        if count:
            mean_p, share = float(confidences[inside].mean()), float(rights[inside].mean())
            ece += count / len(results) * abs(mean_p - share)
            table.append((lo, hi, count, mean_p, share))
    return {
        "answerable": len(answerable),
        "left_out": len(left_out),
        "r@1": sum(r.rank1 for r in answerable) / n,
        "headline_holds": sum(r.headline_right for r in answerable) / n,
        "headline_accuracy": sum(r.headline_right for r in answered) / n,
        "answered": len(answered) / n,
        "answered_precision": sum(r.headline_right for r in answered) / (len(answered) or 1),
        "no_answer": sum(r.outcome == Outcome.NO_ANSWER for r in answerable) / n,
        "unsure": sum(r.outcome == Outcome.UNSURE for r in answerable) / n,
        "left_out_caught": sum(r.outcome != Outcome.ANSWERED for r in left_out) / (len(left_out) or 1),
        "left_out_no_answer": sum(r.outcome == Outcome.NO_ANSWER for r in left_out) / (len(left_out) or 1),
        "unsure_all": sum(r.outcome == Outcome.UNSURE for r in results) / (len(results) or 1),
        "ece": ece,
        "reliability": table,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.answer_training", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared folder (default ../shared)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / MODEL_FILE,
                        help=f"where to write the model (default: the package's {MODEL_FILE})")
    args = parser.parse_args(argv)
    data = args.shared / "data"
    if not all((data / name).is_file() for name in DATA_FILES):
        print(f"找不到 {data} 中的 {', '.join(DATA_FILES)}:请用 --shared 指定 shared 目录。", file=sys.stderr)
        return 2
    missing = training_available()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    examples = build_examples(data)
    model = fit(examples)
    questions = sum(1 for ex in examples if not ex.left_out and not ex.augmented)
    notes = {
        "trained_on": f"{', '.join(DATA_FILES)}: {questions} questions, each also with its paragraph left out;"
        f" {PARAPHRASED_SHARE:.0%} of them again with one or two words swapped for ones the documents do not use",
        "command": "python -m retrieval.answer_training --shared ../shared",
        "l2": L2,
    }
    model = dataclasses.replace(model, notes=notes)
    model.save(args.out)
    print(f"wrote {args.out} ({questions} questions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
