"""The answer model: the headline a reader sees first, the three outcomes, the model file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval import Answer, IndexFileError, Outcome
from retrieval.analysis import PIPELINE_FILES
from retrieval.answer_features import tidy
from retrieval.answer_model import AnswerModel, read_model, shipped_model
from retrieval.answer_training import fit_listwise, fit_trees, folds_of, read_questions

# The README's questions and the Telegram bot's examples, with what the headline must say.
README_QUESTIONS = [
    ("阿里巴巴花了多少钱入股新浪微博?", "5.86亿美元"),
    ("谁说来往是阿里的战术性产品?", "陆兆禧"),
    ("腾讯模仿泡泡堂做了哪个游戏?", "QQ堂"),
    ("微博和淘宝电影合作预售,4天卖了多少张票?", "60多萬張影票"),
]


@pytest.mark.parametrize(("question", "expected"), README_QUESTIONS)
def test_readme_questions_have_the_right_headline_at_every_k(seeds, question, expected):
    for k in range(1, 11):
        answer = seeds.ask(question, k=k)
        assert answer.outcome == Outcome.ANSWERED, (k, answer.confidence)
        assert expected in answer.best_sentence, (k, answer.best_sentence)
        # The passage that holds the headline is shown, first.
        assert answer.best_sentence_hit == 0
        assert answer.best_sentence in answer.hits[0].display_text
        assert len(answer.hits) == k


def test_outcome_and_abstained_agree(seeds):
    for question in ["阿里巴巴花了多少钱入股新浪微博?", "亚马逊是谁创办的?", "北京今天的空气质量怎么样?", "?"]:
        answer = seeds.ask(question)
        assert answer.abstained == (answer.outcome != Outcome.ANSWERED)
        assert 0.0 <= answer.confidence <= 1.0
        if answer.abstained:
            assert answer.best_sentence is None


def test_an_answer_cannot_contradict_itself():
    with pytest.raises(ValueError):
        Answer("问题", (), True, None, None, outcome=Outcome.ANSWERED)
    assert Answer("问题", (), True, None, None).outcome == Outcome.NO_ANSWER
    assert Answer("问题", (), False, "句子", 0).outcome == Outcome.ANSWERED


def test_off_topic_questions_get_no_answer_and_name_the_unknown_words(seeds):
    answer = seeds.ask("聚美优品是哪一年在纽交所上市的?")
    assert answer.outcome != Outcome.ANSWERED
    assert "纽交所" in answer.missing_words
    assert seeds.ask("iPhone的电池怎么换?").outcome == Outcome.NO_ANSWER


def test_headlines_are_complete_clause_runs(seeds):
    questions = [q for q, _ in README_QUESTIONS] + [
        "阿里以后最多可以把微博的持股比例提高到多少?",
        "为什么有些商家把店里的微信二维码牌撤掉了?",
        "作者怎么形容移动互联网巨头竞争的格局?",
        "腾讯移动生活电商部里是谁说“像热锅上的蚂蚁一样”?",
    ]
    for question in questions:
        sentence = seeds.ask(question).best_sentence
        if sentence is None:
            continue
        assert sentence[-1] not in ",，、;；:：", sentence
        for opener, closer in ("()", "（）", "“”", "《》", "「」"):
            assert sentence.count(opener) == sentence.count(closer), sentence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("他说,以5.86亿美元买入,", "他说,以5.86亿美元买入"),
        ("新浪(新浪微博的母公司,纳斯达克代码SINA", "新浪"),
        ("腾讯推出QQ堂(模仿泡泡堂)", "腾讯推出QQ堂(模仿泡泡堂)"),
        ("）又说,这是好事。", "又说,这是好事。"),
    ],
)
def test_tidy_leaves_no_dangling_comma_or_bracket(text, expected):
    start, end = tidy(text, (0, len(text)))
    assert text[start:end] == expected


def test_tidy_grows_to_a_near_closer():
    text = "他称之为“偷袭珍珠港”,随后宣战。"
    start, end = tidy(text, (0, 8))  # cut inside the quotes
    assert text[start:end] == "他称之为“偷袭珍珠港”"


def test_the_model_file_is_part_of_the_index_fingerprint():
    assert "answer_model.json" in PIPELINE_FILES


def test_a_damaged_model_file_is_reported_with_its_name(tmp_path):
    path = tmp_path / "answer_model.json"
    path.write_text("{not json", "utf-8")
    with pytest.raises(IndexFileError, match="answer_model.json"):
        read_model(path)
    data = shipped_model().to_json()
    data["headline"]["features"] = data["headline"]["features"][:-1]
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(IndexFileError, match="重新生成"):
        read_model(path)


def test_the_shipped_model_round_trips(tmp_path):
    model = shipped_model()
    path = tmp_path / "model.json"
    model.save(path)
    again = read_model(path)
    assert isinstance(again, AnswerModel)
    assert again.answer_threshold == model.answer_threshold
    np.testing.assert_allclose(again.headline.weights, model.headline.weights)
    assert 0.0 < model.no_answer_threshold < model.answer_threshold < 1.0


def test_tree_model_scores_as_scikit_learn_does_and_is_reproducible(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingClassifier

    from retrieval.answer_model import Trees

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(2000, 3))
    # An interaction no single feature shows: right when the first two agree in sign.
    labels = ((rows[:, 0] * rows[:, 1] > 0) ^ (rng.random(2000) < 0.05)).astype(float)
    trees = fit_trees(rows, labels, ("a", "b", "noise"), trees=40, depth=3, monotonic=(0, 0, -1))
    reference = HistGradientBoostingClassifier(max_iter=40, max_depth=3, learning_rate=0.1, min_samples_leaf=20,
                                               early_stopping=False, monotonic_cst=[0, 0, -1],
                                               random_state=0).fit(rows, labels)
    probe = rng.normal(size=(300, 3))
    np.testing.assert_allclose(trees.logits(probe), reference.decision_function(probe), atol=1e-9)
    assert ((trees.logits(probe) > 0) == (probe[:, 0] * probe[:, 1] > 0)).mean() > 0.85
    # The constraint holds: raising the third feature never raises the logit.
    raised = probe.copy()
    raised[:, 2] += 1.0
    assert (trees.logits(raised) <= trees.logits(probe) + 1e-12).all()
    # Through the JSON file and back: the same scores.
    again = Trees.from_json(json.loads(json.dumps(trees.to_json())), ("a", "b", "noise"), "test")
    np.testing.assert_array_equal(again.logits(probe), trees.logits(probe))
    again = fit_trees(rows, labels, ("a", "b", "noise"), trees=40, depth=3, monotonic=(0, 0, -1))
    np.testing.assert_array_equal(again.leaves, trees.leaves)


def test_a_tree_model_of_the_wrong_shape_is_refused():
    from retrieval.answer_model import Trees

    data = shipped_model().confidence.to_json()
    data["feature"] = [row[:-1] for row in data["feature"]]
    with pytest.raises(IndexFileError, match="重新生成"):
        Trees.from_json(data, shipped_model().confidence.features, "answer_model.json")


def test_listwise_fit_puts_the_right_row_first():
    rng = np.random.default_rng(1)
    groups, labels = [], []
    for _ in range(60):
        block = rng.normal(size=(5, 2))
        right = int(np.argmax(block[:, 1]))
        groups.append(block)
        labels.append(np.eye(5)[right])
    rows = np.vstack(groups)
    model = fit_listwise(rows, np.concatenate(labels), np.arange(0, 300, 5), ("noise", "signal"))
    scores = model.logits(rows).reshape(60, 5)
    assert (scores.argmax(axis=1) == np.vstack(labels).argmax(axis=1)).mean() >= 0.9
    assert model.weights[1] > 3 * abs(model.weights[0])


def test_folds_keep_each_article_on_one_side(shared):
    _, questions = read_questions(shared / "data")

    class Row:
        def __init__(self, group: int) -> None:
            self.group = group

    rows = [Row(q["group"]) for q in questions]
    fold = folds_of(rows)
    by_group: dict[int, set[int]] = {}
    for row, f in zip(rows, fold):
        by_group.setdefault(row.group, set()).add(int(f))
    assert all(len(f) == 1 for f in by_group.values())
    assert len(set(fold.tolist())) == 5


def test_a_tiny_collection_that_states_the_answer_is_answered():
    from retrieval import Retriever

    answer = Retriever.from_texts(["拼多多是一家靠拼团起家的社交电商公司。"]).ask("拼多多靠什么起家?")
    assert answer.outcome == Outcome.ANSWERED


def test_the_words_asking_for_a_kind_of_answer_are_held_by_an_answer_of_that_kind():
    from retrieval.analysis import AnswerKind, kind_phrase
    from retrieval.answer_features import QuestionProfile, answer_coverage

    question = "阿里巴巴花了多少钱入股新浪微博"
    start, end = kind_phrase(question, AnswerKind.MONEY)
    assert question[start:end] == "花了多少钱"
    profile = QuestionProfile(
        normalized=question, words=("阿里巴巴", "花", "钱", "入股"), weights=(4.0, 2.0, 2.0, 2.0),
        partial=(0.0, 0.0, 0.0, 0.0), known=(True,) * 4, bigrams=frozenset(), trigrams=frozenset(),
        chars=frozenset(question), kind=AnswerKind.MONEY, neighbours=(), total=10.0,
        terms=(("阿里巴巴", 4.0, 0.0), ("花", 2.0, 0.0), ("钱", 2.0, 0.0), ("入股", 2.0, 0.0)),
        kind_words=(("花", 2.0), ("钱", 2.0)),
    )
    # An amount stands in for 花 and 钱; a sentence with no amount gets no such credit.
    assert answer_coverage(profile, "阿里巴巴以5.86亿美元入股") == pytest.approx(1.0)
    assert answer_coverage(profile, "阿里巴巴宣布入股") == pytest.approx(0.6)


def test_a_year_question_is_not_answered_by_a_sentence_without_a_year():
    from retrieval import Retriever

    retriever = Retriever.from_texts([
        "微信支付由财付通团队负责上线工作,团队成员大多来自深圳,上线时只支持绑定银行卡。",
        "支付宝钱包在杭州开发,面向全国用户。",
    ])
    answer = retriever.ask("微信支付是哪一年上线的?")
    assert answer.outcome != Outcome.ANSWERED
    assert answer.hits  # the related passage is still shown
    dated = Retriever.from_texts(["微信支付在2013年8月上线,上线时只支持绑定银行卡。", "支付宝钱包在杭州开发。"])
    answer = dated.ask("微信支付是哪一年上线的?")
    assert answer.outcome == Outcome.ANSWERED
    assert "2013年" in answer.best_sentence
