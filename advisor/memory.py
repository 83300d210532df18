"""Labelled questions the advisor has learned from, and what they say about a new question.

A question like one already answered probably needs the same articles, or articles in the same
chapter or law. The memory holds (question, articles) pairs and turns a new question into
per-article evidence: votes from the most similar past questions, the past questions' words
attached to the articles they were answered with, and how often each article and law is cited.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advisor.bm25 import FieldIndex, FloatArray, IntArray, query_weights
from advisor.corpus import DATA_DIR

MEMORY_PATH = DATA_DIR / "memory.jsonl.gz"
NEIGHBOURS = 20


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    id: str
    question: str
    articles: tuple[tuple[str, int], ...]  # (law short, article number)


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A question's terms, segmented once and shared by every scorer."""

    words: tuple[str, ...]
    bigrams: tuple[str, ...]
    expansion: tuple[str, ...]


class Memory:
    """Evidence from labelled questions, over the article ids of one `StatuteIndex`.

    `docs` are the questions' terms (as `QueryTerms`), `labels` their article ids."""

    def __init__(
        self,
        terms: Sequence[QueryTerms],
        labels: Sequence[Sequence[int]],
        *,
        article_count: int,
        article_law: IntArray,
        article_part: IntArray,
        law_count: int,
        part_count: int,
    ) -> None:
        self.size = len(terms)
        self._labels = [tuple(lab) for lab in labels]
        self._questions = FieldIndex([list(t.words) + list(t.bigrams) for t in terms])
        # Past questions' words attached to the articles that answered them: a field in the
        # villagers' words for each article, where the statute's own words fall short.
        expansion: list[list[str]] = [[] for _ in range(article_count)]
        counts = np.zeros(article_count, dtype=np.float32)
        for t, lab in zip(terms, self._labels, strict=True):
            for a in lab:
                expansion[a].extend(t.words)
                counts[a] += 1
        self._expansion = FieldIndex(expansion)
        self._article_law = article_law
        self._article_part = article_part
        self._law_count = law_count
        self._part_count = part_count
        per_law = np.bincount(article_law, weights=counts, minlength=law_count)
        # Smoothed share of citations per law: a law nobody cited is unlikely, not impossible.
        self.law_prior = np.log((per_law + 1.0) / (per_law.sum() + law_count)).astype(np.float32)[
            article_law
        ]

    def features(self, terms: QueryTerms) -> dict[str, FloatArray]:
        """Per-article evidence for one question (arrays over all articles)."""
        n = len(self._article_law)
        sims = self._questions.score(query_weights([*terms.words, *terms.bigrams]))
        knn = np.zeros(n, dtype=np.float32)
        knn_max = np.zeros(n, dtype=np.float32)
        if self.size:
            top = np.argsort(-sims)[:NEIGHBOURS]
            best = float(sims[top[0]])
            for j in top:
                sim = float(sims[j])
                if sim <= 0.0:
                    break
                # Relative to the best neighbour, so the scale does not depend on query length.
                rel = sim / best
                lab = self._labels[j]
                for a in lab:
                    knn[a] += rel / len(lab)
                    knn_max[a] = max(knn_max[a], rel)
        memo, memo_cov = self._expansion.score_and_coverage(query_weights(list(terms.words)))
        return {
            "knn": knn,
            "knn_max": knn_max,
            "knn_law": np.bincount(self._article_law, weights=knn, minlength=self._law_count)[
                self._article_law
            ].astype(np.float32),
            "knn_part": np.bincount(self._article_part, weights=knn, minlength=self._part_count)[
                self._article_part
            ].astype(np.float32),
            "memo": memo,
            "memo_cov": memo_cov,
            "law_prior": self.law_prior,
        }


def load_questions(path: Path = MEMORY_PATH) -> list[LabelledQuestion]:
    """The shipped labelled questions (`python -m advisor.train` writes them)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [parse_question(json.loads(line)) for line in f if line.strip()]


def parse_question(d: dict[str, object]) -> LabelledQuestion:
    """One record in the evaluation-set shape: {"id", "question", "expected": [...]}."""
    expected = d["expected"]
    assert isinstance(expected, list)
    return LabelledQuestion(
        id=str(d["id"]),
        question=str(d["question"]),
        articles=tuple((str(e["law_short"]), int(e["article"])) for e in expected),
    )


def write_questions(items: Iterable[LabelledQuestion], path: Path = MEMORY_PATH) -> None:
    lines = [
        json.dumps(
            {
                "id": q.id,
                "question": q.question,
                "expected": [{"law_short": s, "article": n} for s, n in q.articles],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for q in items
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
