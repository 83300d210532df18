"""Mediation outlines: every dispute type is there, every citation resolves and quotes the
statute exactly, and none is shown as reviewed until a lawyer signs it off."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.corpus import load
from advisor.outlines import UNREVIEWED, OutlineFormatError, check, choose, load_all, parse

REQUIRED = {
    "divorce",
    "elderly_support",
    "inheritance",
    "private_lending",
    "wage_arrears",
    "work_injury",
    "labour_termination",
    "traffic_accident",
    "consumer",
    "neighbour",
    "rural_land_contract",
    "homestead",
    "house_demolition",
    "tourism",
    "domestic_violence",
}


@pytest.mark.timeout(60)
def test_every_dispute_type_has_an_outline() -> None:
    slugs = {o.slug for o in load_all()}
    assert slugs >= REQUIRED


@pytest.mark.timeout(60)
def test_every_citation_exists_and_quotes_verbatim() -> None:
    corpus = load()
    problems = [p for o in load_all() for p in check(o, corpus)]
    assert problems == []


@pytest.mark.timeout(60)
def test_outlines_are_complete() -> None:
    for o in load_all():
        assert o.facts and o.questions and o.steps and o.agreement, o.slug
        assert o.options and all(opt.basis for opt in o.options), o.slug
        assert o.articles, o.slug


@pytest.mark.timeout(60)
def test_unreviewed_outlines_say_so() -> None:
    corpus = load()
    for o in load_all():
        if o.reviewed_by is None:
            assert o.review_status == UNREVIEWED
            assert o.to_json(corpus)["review_status"] == UNREVIEWED
            assert o.to_json(corpus)["reviewed"] is False


@pytest.mark.timeout(60)
def test_check_reports_inexact_quotes_and_missing_articles() -> None:
    corpus = load()
    bad = parse(
        {
            "slug": "x",
            "title": "x",
            "topic": "other",
            "reviewed_by": None,
            "summary": "x",
            "options": [
                {
                    "title": "x",
                    "basis": [
                        {"law": "民法典", "article": 1079, "quote": "感情确已破裂了"},
                        {"law": "民法典", "article": 9999, "quote": "x"},
                    ],
                }
            ],
            "articles": [{"law": "不存在法", "article": 1, "why": "x"}],
        },
        "test",
    )
    problems = check(bad, corpus)
    assert len(problems) == 3
    assert any("quote not in" in p for p in problems)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "mapping"),
        ({"slug": "x"}, "reviewed_by"),
        ({"reviewed_by": 5}, "reviewed_by"),
        ({"reviewed_by": None, "options": [{"title": "x", "basis": []}]}, "no basis"),
        (
            {"reviewed_by": None, "options": [{"title": "x", "basis": [{"law": "民法典"}]}]},
            "article",
        ),
    ],
)
def test_malformed_outlines_are_rejected(data: Any, message: str) -> None:
    with pytest.raises(OutlineFormatError, match=message):
        parse(data, "test")


@pytest.mark.timeout(60)
def test_choose_prefers_keywords_then_topic() -> None:
    outlines = load_all()
    chosen = choose(outlines, "老板拖欠我三个月工资不给", "labour")
    assert chosen is not None and chosen.slug == "wage_arrears"
    chosen = choose(outlines, "在工地干活摔伤了，算不算工伤", "labour")
    assert chosen is not None and chosen.slug == "work_injury"
    chosen = choose(outlines, "邻居家盖房挡住了我家采光", None)
    assert chosen is not None and chosen.slug == "neighbour"
    assert choose(outlines, "今天天气很好", None) is None
