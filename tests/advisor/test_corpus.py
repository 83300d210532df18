"""The compiled corpus: the same articles as the shared source, versions, warnings."""

from __future__ import annotations

import json

import pytest

from advisor import compile as compile_module
from advisor.corpus import CORPUS_PATH, SUPERSEDED, load

from .conftest import SHARED_LAWS

needs_source = pytest.mark.skipif(
    not (SHARED_LAWS / "index.json").exists(),
    reason=f"the shared statute source {SHARED_LAWS} is not present (fresh clone)",
)


@pytest.mark.timeout(60)
def test_corpus_has_every_law_and_article() -> None:
    corpus = load()
    assert len(corpus.laws) == 62
    assert len(corpus) == 5940
    assert len(corpus.articles_of("民法典")) == 1260
    for law in corpus.laws:
        numbers = [a.number for a in corpus.articles_of(law.short)]
        assert numbers == list(range(1, law.article_count + 1)), law.short
        assert law.version and law.version_note and law.source


@needs_source
@pytest.mark.timeout(60)
def test_corpus_matches_shared_source() -> None:
    corpus = load()
    index = json.loads((SHARED_LAWS / "index.json").read_text(encoding="utf-8"))
    assert [law.short for law in corpus.laws] == [e["short"] for e in index]
    for entry in index:
        law = corpus.law(entry["short"])
        assert law.name == entry["law"]
        with (SHARED_LAWS / entry["file"]).open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        assert len(rows) == law.article_count
        for row in rows:
            article = corpus.article(row["short"], row["article"])
            assert article.label == row["article_label"]
            assert article.part == row["part"]
            assert article.text == row["text"]


@needs_source
@pytest.mark.timeout(60)
def test_compiled_file_is_up_to_date() -> None:
    assert compile_module.compile_corpus(SHARED_LAWS) == CORPUS_PATH.read_bytes(), (
        "run python -m advisor.compile"
    )


@pytest.mark.timeout(60)
def test_superseded_texts_carry_a_warning() -> None:
    corpus = load()
    assert set(SUPERSEDED) == {"治安管理处罚法", "婚姻登记条例"}
    for short in SUPERSEDED:
        law = corpus.law(short)
        assert law.superseded_warning and "2025" in law.superseded_warning
        article = corpus.articles_of(short)[0]
        assert article.to_json()["superseded_warning"] == law.superseded_warning
    assert corpus.law("民法典").superseded_warning is None
    assert corpus.law("治安管理处罚法").version == "2012-10-26"
    assert corpus.law("婚姻登记条例").version == "2003-08-08"


@pytest.mark.timeout(60)
def test_version_parsing_from_sources() -> None:
    text = (
        "## 甲法 — `a.jsonl` (1 articles)\n\n- path: `x/甲法(2018-12-29).md` (blob `1`, last"
        " commit `2` 2022-05-01, file date 2018-12-29)\n\n"
        "## 乙法 — `b.jsonl` (1 articles)\n\n- path: `x/乙法.md` (no date in file name)\n"
        "- latest dated event in source header: 2021年1月1日 施行\n"
    )
    found = compile_module.parse_sources(text)
    assert found["甲法"].version == "2018-12-29"
    assert found["乙法"].version == "2021-01-01"
    assert compile_module.version_note("2021-01-01").startswith("2021年1月1日")
