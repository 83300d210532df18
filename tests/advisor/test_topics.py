"""Topic classification: in step with the catalogue, and sensible on villagers' words."""

from __future__ import annotations

import pytest

from advisor.advice import Advisor
from advisor.topics import PROFILES, TOPIC_SLUGS, article_topic, classify
from signaling.topics import TOPICS

from .conftest import BUILD_TIMEOUT


@pytest.mark.timeout(10)
def test_profiles_follow_the_topic_catalogue() -> None:
    # The advisor sits below signaling and keeps its own copy of the slugs: keep them in step.
    assert tuple(t.slug for t in TOPICS) == TOPIC_SLUGS
    assert [p.zh for p in PROFILES] == [t.zh for t in TOPICS]


# Hand-written consultations in the way villagers talk (not evaluation items).
CONSULTATIONS = [
    ("我和老公过不下去了，想离婚，孩子才一岁半归谁？", "marriage_family"),
    ("包工头跑了，欠我们十几个人半年的工钱", "labour"),
    ("骑电动车被小轿车撞了，住院花了两万，对方保险公司不赔", "traffic"),
    ("在镇上超市买的化肥是假的，庄稼都没长起来", "consumer"),
    ("隔壁盖房子把我家的过道堵了，出不去门", "neighbour"),
    ("村里要拆我家的房子修路，补偿款太少了", "demolition"),
    ("跟团去旅游，导游非要带我们去购物店", "tourism"),
    ("借给亲戚五万块钱，有借条，现在不还了", "private_lending"),
    ("三个儿子都不管我们老两口，不给养老钱", "elderly"),
    ("村委会把我家的承包地收回去给别人种了", "land"),
    ("家里的草场被邻村的人占了放牧", "land"),
    ("我是残疾人，想问问残疾证能享受什么补贴", "disabled"),
]


@pytest.mark.timeout(BUILD_TIMEOUT)
@pytest.mark.parametrize(("text", "topic"), CONSULTATIONS)
def test_classifies_consultations(advisor: Advisor, text: str, topic: str) -> None:
    articles = [c.article for c in advisor.search(text)]
    assert classify(text, articles).slug == topic


@pytest.mark.timeout(BUILD_TIMEOUT)
def test_choice_is_a_prior_not_the_truth(advisor: Advisor) -> None:
    clear = "包工头跑了，欠我们十几个人半年的工钱"
    articles = [c.article for c in advisor.search(clear)]
    # A wrong choice does not overrule a clear text...
    assert classify(clear, articles, chosen="tourism").slug == "labour"
    # ...but settles a vague one.
    vague = "我想问一下这个事情怎么办"
    assert classify(vague, [], chosen="tourism").slug == "tourism"
    assert classify(vague, []).slug == "other"
    guess = classify(vague, [], chosen="other")
    assert guess.slug == "other" and guess.chosen == "other"
    assert abs(sum(guess.scores.values()) - 1.0) < 1e-9


@pytest.mark.timeout(BUILD_TIMEOUT)
def test_article_topics(advisor: Advisor) -> None:
    corpus = advisor.corpus
    assert article_topic(corpus.article("民法典", 1079)) == "marriage_family"
    assert article_topic(corpus.article("民法典", 291)) == "neighbour"
    assert article_topic(corpus.article("民法典", 679)) == "private_lending"
    assert article_topic(corpus.article("劳动合同法", 47)) == "labour"
    assert article_topic(corpus.article("民法典", 1)) is None
