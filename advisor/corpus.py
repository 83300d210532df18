"""The statute corpus: laws and their articles, verbatim, as compiled into `advisor/data/`.

Every citation the advisor shows is an `Article` looked up here, so its text is always the
statute's own and it always carries its law's version and source.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
CORPUS_PATH = DATA_DIR / "corpus.jsonl.gz"
CORPUS_FORMAT = 1

# Texts the source README names as superseded upstream (both believed revised in 2025). The
# warning travels with every citation of these laws, so a lawyer never quotes them unawares.
SUPERSEDED: Mapping[str, str] = {
    "治安管理处罚法": (
        "本库收录的是2012年修正文本，该法已于2025年修订，条文内容和条号可能已变化，"
        "引用前请核对国家法律法规数据库（flk.npc.gov.cn）的现行文本。"
    ),
    "婚姻登记条例": (
        "本库收录的是2003年文本，该条例已于2025年修订，条文内容和条号可能已变化，"
        "引用前请核对国家法律法规数据库（flk.npc.gov.cn）的现行文本。"
    ),
}


@dataclass(frozen=True, slots=True)
class Law:
    """One law, regulation or judicial interpretation, in the version the corpus holds."""

    slug: str
    short: str
    name: str
    version: str  # e.g. "2018-12-29": the date of the text held, see `version_note`
    version_note: str  # zh-CN, shown with every citation
    source: str  # where the text was taken from
    article_count: int
    superseded_warning: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "short": self.short,
            "name": self.name,
            "version": self.version,
            "version_note": self.version_note,
            "source": self.source,
            "article_count": self.article_count,
            "superseded_warning": self.superseded_warning,
        }


@dataclass(frozen=True, slots=True)
class Article:
    """One article: its law, number, label (第…条), heading path and verbatim text."""

    law: Law = field(repr=False)
    number: int
    label: str
    part: str
    text: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.law.short, self.number)

    @property
    def citation(self) -> str:
        """How a lawyer writes it: 《民法典》第一千零七十九条."""
        return f"《{self.law.short}》{self.label}"

    def to_json(self) -> dict[str, Any]:
        return {
            "law": self.law.short,
            "law_name": self.law.name,
            "article": self.number,
            "label": self.label,
            "part": self.part,
            "text": self.text,
            "version": self.law.version,
            "version_note": self.law.version_note,
            "source": self.law.source,
            "superseded_warning": self.law.superseded_warning,
            "citation": self.citation,
        }


class Corpus:
    """All laws and articles, in compiled order, with lookups by law and by (law, number)."""

    def __init__(self, laws: tuple[Law, ...], articles: tuple[Article, ...]) -> None:
        self.laws = laws
        self.articles = articles
        self._laws = {law.short: law for law in laws}
        self._by_key = {a.key: a for a in articles}
        self._by_law: dict[str, tuple[Article, ...]] = {
            law.short: tuple(a for a in articles if a.law is law) for law in laws
        }

    def __len__(self) -> int:
        return len(self.articles)

    def __iter__(self) -> Iterator[Article]:
        return iter(self.articles)

    def law(self, short: str) -> Law:
        """The law with this short name; KeyError if the corpus has no such law."""
        return self._laws[short]

    def has_law(self, short: str) -> bool:
        return short in self._laws

    def get(self, short: str, number: int) -> Article | None:
        return self._by_key.get((short, number))

    def article(self, short: str, number: int) -> Article:
        """The article; KeyError names what was asked for."""
        found = self._by_key.get((short, number))
        if found is None:
            raise KeyError(f"no article {number} in {short!r}")
        return found

    def articles_of(self, short: str) -> tuple[Article, ...]:
        return self._by_law[short]


def load(path: Path = CORPUS_PATH) -> Corpus:
    """Read the compiled corpus (`python -m advisor.compile` writes it)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        if header.get("format") != CORPUS_FORMAT:
            raise ValueError(f"{path}: corpus format {header.get('format')!r} not supported")
        laws = tuple(
            Law(
                slug=d["slug"],
                short=d["short"],
                name=d["name"],
                version=d["version"],
                version_note=d["version_note"],
                source=d["source"],
                article_count=d["article_count"],
                superseded_warning=SUPERSEDED.get(d["short"]),
            )
            for d in header["laws"]
        )
        by_short = {law.short: law for law in laws}
        articles = tuple(
            Article(
                law=by_short[d["law"]],
                number=d["article"],
                label=d["label"],
                part=d["part"],
                text=d["text"],
            )
            for d in map(json.loads, f)
        )
    return Corpus(laws, articles)
