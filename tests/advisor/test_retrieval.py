"""Retrieval sanity on hand-written questions (not evaluation items), the BM25 field, the
segmenter's quiet start, and the tree ranker against LightGBM itself."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from advisor.advice import Advisor
from advisor.bm25 import FieldIndex, query_weights
from advisor.ranker import TreeRanker
from advisor.segment import Segmenter, bigrams, normalize

from .conftest import BUILD_TIMEOUT

# (question, an article a lawyer would cite, how far down it may be)
QUESTIONS = [
    ("夫妻感情破裂分居两年了，法院会判离婚吗", ("民法典", 1079), 5),
    ("离婚时孩子不满两周岁，应该跟谁生活", ("民法典", 1084), 5),
    ("成年子女不给父母赡养费怎么办", ("民法典", 1067), 5),
    ("借钱的时候没有约定利息，还钱时要给利息吗", ("民法典", 680), 5),
    ("民间借贷的利率最高能约定多少", ("民间借贷规定", 25), 10),
    ("用人单位不签书面劳动合同要付双倍工资吗", ("劳动合同法", 82), 5),
    ("经济补偿金按照工作年限怎么计算", ("劳动合同法", 47), 5),
    ("上下班途中被车撞了算工伤吗", ("工伤保险条例", 14), 10),
    ("邻居盖房挡住了我家的采光和日照", ("民法典", 293), 5),
    ("农村村民一户可以有几处宅基地", ("土地管理法", 62), 5),
    ("承包期内村里能收回我家的承包地吗", ("农村土地承包法", 27), 5),
    ("商家卖假货欺诈消费者怎么赔偿", ("消费者权益保护法", 55), 5),
    ("旅行社指定购物场所强迫游客购物", ("旅游法", 35), 5),
    ("被家暴了可以申请人身安全保护令吗", ("反家庭暴力法", 23), 10),
    ("遗产继承的法定继承顺序是什么", ("民法典", 1127), 5),
]


@pytest.mark.timeout(BUILD_TIMEOUT)
@pytest.mark.parametrize(("text", "key", "within"), QUESTIONS)
def test_finds_the_article(advisor: Advisor, text: str, key: tuple[str, int], within: int) -> None:
    found = [c.article.key for c in advisor.search(text, limit=within)]
    assert key in found


@pytest.mark.timeout(BUILD_TIMEOUT)
def test_colloquial_words_reach_statute_terms(advisor: Advisor) -> None:
    # None of these words is in the statutes' own text for the article wanted.
    found = [c.article.key for c in advisor.search("老人没人养，几个儿子都推来推去", limit=10)]
    assert any(short in ("民法典", "老年人权益保障法") for short, _ in found)
    advice = advisor.advise("在工地上干活摔断了腿，老板不管")
    assert advice.topic.slug == "labour"
    assert advice.outline is not None and advice.outline.slug == "work_injury"


@pytest.mark.timeout(BUILD_TIMEOUT)
def test_nothing_to_search_gives_nothing(advisor: Advisor) -> None:
    assert advisor.search("的了吗") == []


@pytest.mark.timeout(BUILD_TIMEOUT)
def test_unlearned_retriever_still_ranks(advisor: Advisor) -> None:
    from advisor.retrieval import Retriever

    plain = Retriever(advisor.retriever.index)
    ids, scores = plain.rank("农村村民一户可以有几处宅基地")
    top = [advisor.corpus.articles[int(i)].key for i in ids[:5]]
    assert ("土地管理法", 62) in top
    assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.timeout(30)
def test_bm25_field() -> None:
    index = FieldIndex([["借款", "利息"], ["借款"], ["离婚"]])
    scores = index.score(query_weights(["借款", "利息"]))
    assert scores[0] > scores[1] > scores[2] == 0
    scores, covered = index.score_and_coverage(query_weights(["借款", "利息", "未知"]))
    assert covered[0] == pytest.approx(1.0)
    assert 0 < covered[1] < 1 and covered[2] == 0
    assert index.document_frequency("借款") == 2 and "未知" not in index


@pytest.mark.timeout(60)
def test_segmenter_is_quiet_and_normalises(capfd: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        segmenter = Segmenter(["宅基地"])
    assert capfd.readouterr().err == ""
    assert "宅基地" in segmenter.words("我家宅基地被占了")
    assert normalize("ＡＢＣ１２３\u200b\x00借\n款") == "abc123借 款"
    assert bigrams("借款合同ab利息") == ["借款", "款合", "合同", "利息"]


@pytest.mark.timeout(60)
def test_tree_ranker_matches_lightgbm() -> None:
    lightgbm = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    features = tuple(f"f{i}" for i in range(6))
    x = rng.random((3000, 6)).astype(np.float32)
    x[:, 2] = x[:, 2] > 0.5  # a feature with many exact zeros
    y = (x[:, 0] + 0.5 * x[:, 2] + 0.2 * rng.random(3000) > 1.0).astype(int)
    params = {"objective": "lambdarank", "num_leaves": 7, "verbose": -1, "num_threads": 1}
    data = lightgbm.Dataset(x, label=y, group=[100] * 30, feature_name=list(features))
    booster = lightgbm.train(params, data, num_boost_round=30)
    ranker = TreeRanker.from_lightgbm_dump(booster.dump_model(), features)
    np.testing.assert_allclose(ranker.score(x[:200]), booster.predict(x[:200]), atol=1e-5)
    again = TreeRanker.from_json(ranker.to_json(), features)
    np.testing.assert_allclose(again.score(x[:200]), ranker.score(x[:200]), atol=1e-6)
