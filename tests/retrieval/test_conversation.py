"""Follow-up questions resolved against the turns before them."""

from __future__ import annotations

from retrieval import Outcome
from retrieval.conversation import FollowUp
from retrieval.evaluate_conversations import DEFAULT_CASES, evaluate


def _second(seeds, first: str, second: str):
    conversation = seeds.conversation()
    conversation.ask(first)
    return conversation, conversation.ask(second)


def test_ellipsis_takes_its_subject_from_the_turn_before(seeds):
    conversation, answer = _second(seeds, "阿里巴巴花了多少钱入股新浪微博?", "占多少股份?")
    assert conversation.turns[-1].kind == FollowUp.ELLIPSIS
    assert "阿里巴巴" in answer.searched and answer.question == "占多少股份?"
    assert any("18%股份" in hit.text for hit in answer.hits[:3])


def test_a_pronoun_points_at_the_person_named_before(seeds):
    conversation, answer = _second(seeds, "陆兆禧说来往是什么产品?", "他还说了什么?")
    assert conversation.turns[-1].kind == FollowUp.POINTER
    assert answer.searched.startswith("陆兆禧")
    assert "培养了移动互联网领域的人才" in answer.best_sentence


def test_an_entity_swap_keeps_the_question(seeds):
    conversation, answer = _second(seeds, "京东每天的流量有多少?", "那腾讯呢?")
    assert conversation.turns[-1].kind == FollowUp.SWAP
    assert answer.searched == "腾讯每天的流量有多少?"
    assert "300亿" in answer.best_sentence


def test_a_swap_the_documents_do_not_answer_says_so(seeds):
    _, answer = _second(seeds, "阿里巴巴花了多少钱入股新浪微博?", "那腾讯呢?")
    assert answer.abstained and answer.best_sentence is None
    assert "腾讯" in answer.searched


def test_a_new_topic_is_asked_as_it_is(seeds):
    conversation, answer = _second(seeds, "阿里巴巴花了多少钱入股新浪微博?", "腾讯模仿泡泡堂做了哪个游戏?")
    assert conversation.turns[-1].kind == FollowUp.STANDALONE
    alone = seeds.ask("腾讯模仿泡泡堂做了哪个游戏?")
    assert answer.searched == alone.question
    assert [h.citation for h in answer.hits] == [h.citation for h in alone.hits]
    assert answer.best_sentence == alone.best_sentence


def test_reset_forgets_the_turns(seeds):
    conversation = seeds.conversation()
    conversation.ask("京东每天的流量有多少?")
    conversation.reset()
    answer = conversation.ask("那腾讯呢?")
    assert conversation.turns[-1].kind == FollowUp.STANDALONE and answer.searched == "那腾讯呢?"


def test_the_two_turn_set_meets_its_targets(seeds):
    import json

    cases = [json.loads(line) for line in DEFAULT_CASES.read_text("utf-8").splitlines() if line.strip()]
    assert len(cases) >= 20
    results = evaluate(cases, seeds)
    answerable = [r for r in results if r.case["must_contain"]]
    assert sum(r.in_conversation for r in answerable) / len(answerable) >= 0.9
    assert sum(r.alone for r in answerable) < sum(r.in_conversation for r in answerable)
    assert all(r.switch_unaffected for r in results if r.switch_unaffected is not None)
    assert all(r.in_conversation for r in results if not r.case["must_contain"])  # no answer given


def test_a_follow_up_whose_own_word_is_nowhere_gets_no_answer(seeds):
    _, answer = _second(seeds, "微博月活跃用户有多少?", "其中多少是女性?")
    assert answer.abstained and "女性" in answer.missing_words


def test_when_no_reading_is_answered_the_surest_shows_its_passages_as_related(seeds):
    # "那陌陌呢?" reads two ways; the seeds tell of the investment in 陌陌 but not its price.
    conversation, answer = _second(seeds, "阿里花了多少钱投资Tango?", "那陌陌呢?")
    assert conversation.turns[-1].kind == FollowUp.SWAP
    assert answer.outcome == Outcome.UNSURE and answer.best_sentence is None
    assert "陌陌" in answer.hits[0].text
    # The other reading's headline (Tango's price) does not name 陌陌: it is not taken.
    assert answer.searched == "阿里花了多少钱投资陌陌?"


def test_of_two_answered_readings_the_surer_is_taken(seeds):
    # "那Tango呢?" after a question about 阿里 and 陌陌: Tango investing in 陌陌, or 阿里 in Tango.
    conversation, answer = _second(seeds, "阿里花了多少钱投资陌陌?", "那Tango呢?")
    assert answer.outcome == Outcome.ANSWERED
    assert answer.searched == "阿里花了多少钱投资Tango?"
    assert "2.15亿美元" in answer.best_sentence




def test_a_pointer_reading_counts_only_when_its_answer_is_about_the_word_it_was_read_as(seeds):
    # "其中" read as 流量 or 每天 finds Weibo's mobile share, which says nothing of 腾讯's traffic.
    conversation, answer = _second(seeds, "腾讯每天的流量有多少?", "其中多少来自移动端?")
    assert conversation.turns[-1].kind == FollowUp.POINTER
    assert "腾讯" in (answer.searched or "")
    assert answer.outcome != Outcome.ANSWERED or "腾讯" in (answer.best_sentence or "")
