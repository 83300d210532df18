"""Mediation outlines: one reviewed YAML file per dispute type in `advisor/data/outlines/`.

An outline lists the facts to establish, questions to ask, the options usually open (each with
its legal basis quoted verbatim), the steps of the mediation, what the agreement must contain
and the articles that apply. It is shown as 未经法律审核 until a lawyer's name is in
`reviewed_by`. `check()` reports every citation that does not resolve or quote exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from advisor import vocabulary
from advisor.corpus import DATA_DIR, Corpus
from advisor.segment import normalize

OUTLINES_DIR = DATA_DIR / "outlines"
UNREVIEWED = "未经法律审核"


class OutlineFormatError(ValueError):
    """An outline file does not have the shape this module reads."""


@dataclass(frozen=True, slots=True)
class Basis:
    law: str
    article: int
    quote: str


@dataclass(frozen=True, slots=True)
class Option:
    title: str
    description: str
    basis: tuple[Basis, ...]


@dataclass(frozen=True, slots=True)
class AppliedArticle:
    law: str
    article: int
    why: str


@dataclass(frozen=True, slots=True)
class Outline:
    slug: str
    title: str
    topic: str
    keywords: tuple[str, ...]
    reviewed_by: str | None
    summary: str
    facts: tuple[str, ...]
    questions: tuple[str, ...]
    options: tuple[Option, ...]
    steps: tuple[str, ...]
    agreement: tuple[str, ...]
    articles: tuple[AppliedArticle, ...]

    @property
    def review_status(self) -> str:
        return f"已由{self.reviewed_by}审核" if self.reviewed_by else UNREVIEWED

    def citations(self) -> list[tuple[str, int]]:
        """Every (law, article) the outline refers to, in order of first mention."""
        seen: dict[tuple[str, int], None] = {}
        for option in self.options:
            for b in option.basis:
                seen[(b.law, b.article)] = None
        for a in self.articles:
            seen[(a.law, a.article)] = None
        return list(seen)

    def to_json(self, corpus: Corpus) -> dict[str, Any]:
        """The outline with each cited article resolved to its statute text and version."""

        def cite(law: str, number: int) -> dict[str, Any]:
            return corpus.article(law, number).to_json()

        return {
            "slug": self.slug,
            "title": self.title,
            "topic": self.topic,
            "reviewed_by": self.reviewed_by,
            "reviewed": self.reviewed_by is not None,
            "review_status": self.review_status,
            "summary": self.summary,
            "facts": list(self.facts),
            "questions": list(self.questions),
            "options": [
                {
                    "title": o.title,
                    "description": o.description,
                    "basis": [
                        {
                            "law": b.law,
                            "article": b.article,
                            "quote": b.quote,
                            "label": corpus.article(b.law, b.article).label,
                            "version": corpus.law(b.law).version,
                            "superseded_warning": corpus.law(b.law).superseded_warning,
                        }
                        for b in o.basis
                    ],
                }
                for o in self.options
            ],
            "steps": list(self.steps),
            "agreement": list(self.agreement),
            "articles": [{**cite(a.law, a.article), "why": a.why} for a in self.articles],
        }


def _strings(d: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OutlineFormatError(f"{source}: {key} must be a list of strings")
    return tuple(value)


def _string(d: dict[str, Any], key: str, source: str, *, required: bool = True) -> str:
    value = d.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise OutlineFormatError(f"{source}: {key} must be a non-empty string")
    return value


def _article(d: Any, source: str) -> tuple[str, int]:
    if not isinstance(d, dict):
        raise OutlineFormatError(f"{source}: each citation must be a mapping")
    law, number = d.get("law"), d.get("article")
    if not isinstance(law, str) or not isinstance(number, int) or isinstance(number, bool):
        raise OutlineFormatError(f"{source}: citation needs law (text) and article (integer)")
    return law, number


def parse(data: Any, source: str) -> Outline:
    """An `Outline` from a loaded YAML document; OutlineFormatError names what is wrong."""
    if not isinstance(data, dict):
        raise OutlineFormatError(f"{source}: an outline is a mapping")
    if "reviewed_by" not in data:
        raise OutlineFormatError(f"{source}: reviewed_by is required (null until reviewed)")
    reviewed = data["reviewed_by"]
    if reviewed is not None and (not isinstance(reviewed, str) or not reviewed.strip()):
        raise OutlineFormatError(f"{source}: reviewed_by must be a name or null")
    options: list[Option] = []
    for raw in data.get("options", []):
        if not isinstance(raw, dict):
            raise OutlineFormatError(f"{source}: each option must be a mapping")
        basis = []
        for b in raw.get("basis", []):
            law, number = _article(b, source)
            basis.append(Basis(law, number, _string(b, "quote", source)))
        if not basis:
            raise OutlineFormatError(f"{source}: option {raw.get('title')!r} has no basis")
        options.append(
            Option(
                _string(raw, "title", source),
                _string(raw, "description", source, required=False),
                tuple(basis),
            )
        )
    articles = []
    for a in data.get("articles", []):
        law, number = _article(a, source)
        articles.append(AppliedArticle(law, number, _string(a, "why", source)))
    return Outline(
        slug=_string(data, "slug", source),
        title=_string(data, "title", source),
        topic=_string(data, "topic", source),
        keywords=_strings(data, "keywords", source),
        reviewed_by=reviewed,
        summary=_string(data, "summary", source),
        facts=_strings(data, "facts", source),
        questions=_strings(data, "questions", source),
        options=tuple(options),
        steps=_strings(data, "steps", source),
        agreement=_strings(data, "agreement", source),
        articles=tuple(articles),
    )


def load_all(directory: Path = OUTLINES_DIR) -> tuple[Outline, ...]:
    """Every outline file, sorted by file name."""
    outlines = []
    for path in sorted(directory.glob("*.yaml")):
        with path.open(encoding="utf-8") as f:
            outlines.append(parse(yaml.safe_load(f), path.name))
    return tuple(outlines)


def check(outline: Outline, corpus: Corpus) -> list[str]:
    """Problems with the outline's citations: unknown laws or articles, inexact quotes."""
    problems = []
    for law, number in outline.citations():
        if corpus.get(law, number) is None:
            problems.append(f"{outline.slug}: no article {number} in {law!r}")
    for option in outline.options:
        for b in option.basis:
            article = corpus.get(b.law, b.article)
            if article is not None and b.quote not in article.text:
                problems.append(f"{outline.slug}: quote not in {article.citation}: {b.quote!r}")
    return problems


def choose(outlines: Sequence[Outline], text: str, topic: str | None) -> Outline | None:
    """The outline for this consultation: the one whose keywords the text mentions most,
    preferring outlines of the given topic; None when nothing fits."""
    # The villager's words and the statute terms they stand for: "工地上摔了" reaches 工伤.
    normal = normalize(text)
    normal = " ".join([normal, *vocabulary.expand(normal)])
    best: tuple[float, Outline] | None = None
    for outline in outlines:
        hits = sum(1 for k in outline.keywords if k in normal)
        score = hits + (1.5 if topic is not None and outline.topic == topic else 0.0)
        if hits == 0 and outline.topic != topic:
            continue
        if best is None or score > best[0]:
            best = (score, outline)
    return None if best is None else best[1]
