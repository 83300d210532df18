"""Chinese question -> ranked statute articles.

Two stages. The first scores every article with BM25 over several fields (jieba words, the
legal-vocabulary expansion of the question, character bigrams for phrases, the heading path,
the whole chapter) plus the learned memory of labelled questions, and keeps the best
`CANDIDATES`. The second re-ranks those with a learned model over per-candidate features; with
no model it keeps the first-stage order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advisor import vocabulary
from advisor.bm25 import BM25Params, FieldIndex, FloatArray, IntArray, query_weights
from advisor.corpus import Article, Corpus
from advisor.memory import LabelledQuestion, Memory, QueryTerms
from advisor.ranker import Ranker
from advisor.segment import Segmenter, bigrams, normalize

# The first stage keeps this many; the re-ranker orders them. Recall of the first stage at 100
# is about 0.83 on the development questions, and scoring more costs more than it finds.
CANDIDATES = 100
# Expansion terms stand in for what the villager meant, so they count less than what was said.
EXPANSION_WEIGHT = 0.4

# The re-ranker's inputs, in column order. Changing this list means retraining the model.
# Static priors (how often the development questions cite a law or an article, "is it the Civil
# Code") are left out on purpose: they raised the out-of-fold figure by under 0.01 and lowered
# questions about other laws (the synthetic set) by 0.04. The first stage keeps the law prior.
FEATURES: tuple[str, ...] = (
    "words",
    "words_rel",
    "expansion",
    "expansion_rel",
    "bigrams",
    "bigrams_rel",
    "heading",
    "heading_rel",
    "chapter",
    "chapter_rel",
    "words_cov",
    "bigrams_cov",
    "knn",
    "knn_max",
    "knn_law",
    "knn_part",
    "memo",
    "memo_cov",
    "neighbour",
    "neighbour_knn",
    "log_length",
    "query_length",
    "first_rank",
)
_RELATIVE = ("words", "expansion", "bigrams", "heading", "chapter")


@dataclass(frozen=True, slots=True)
class Hit:
    article: Article
    score: float


class StatuteIndex:
    """The corpus, segmented once, with BM25 fields and per-article constants."""

    def __init__(self, corpus: Corpus, segmenter: Segmenter) -> None:
        self.corpus = corpus
        self.segmenter = segmenter
        articles = corpus.articles
        self.size = len(articles)
        words = [segmenter.words(a.text) for a in articles]
        self.words = FieldIndex(words)
        self.bigrams = FieldIndex([bigrams(normalize(a.text)) for a in articles])
        # Headings are short and say what the article is about: less length normalisation.
        self.heading = FieldIndex(
            [segmenter.words(f"{a.law.name} {a.part}") for a in articles], BM25Params(b=0.5)
        )
        law_ids = {law.short: i for i, law in enumerate(corpus.laws)}
        part_ids: dict[tuple[str, str], int] = {}
        for a in articles:
            part_ids.setdefault((a.law.short, a.part), len(part_ids))
        chapters: list[list[str]] = [[] for _ in part_ids]
        for a, w in zip(articles, words, strict=True):
            chapters[part_ids[(a.law.short, a.part)]].extend(w)
        # A chapter as one document: an article in the chapter about the question's subject
        # ranks above a stray article elsewhere that happens to share a word.
        self.chapter = FieldIndex(chapters, BM25Params(b=0.3))
        self.article_law: IntArray = np.array([law_ids[a.law.short] for a in articles], np.int32)
        self.article_part: IntArray = np.array(
            [part_ids[(a.law.short, a.part)] for a in articles], np.int32
        )
        self.law_count = len(law_ids)
        self.part_count = len(part_ids)
        self.log_length = np.log1p(np.array([len(a.text) for a in articles], np.float32))
        self._same_law_prev = np.r_[False, self.article_law[1:] == self.article_law[:-1]]
        self._same_law_next = np.r_[self.article_law[:-1] == self.article_law[1:], False]
        self._ids = {a.key: i for i, a in enumerate(articles)}

    def article_id(self, short: str, number: int) -> int | None:
        return self._ids.get((short, number))

    def terms(self, text: str) -> QueryTerms:
        normal = normalize(text)
        expansion: list[str] = []
        for term in vocabulary.expand(normal):
            expansion.extend(self.segmenter.words(term))
        return QueryTerms(
            words=tuple(self.segmenter.words(text)),
            bigrams=tuple(bigrams(normal)),
            expansion=tuple(expansion),
        )

    def field_scores(self, terms: QueryTerms) -> dict[str, FloatArray]:
        said = query_weights(list(terms.words))
        meant = {t: EXPANSION_WEIGHT for t in terms.expansion if t not in said}
        both = {**meant, **said}
        grams = query_weights(list(terms.bigrams))
        zeros = np.zeros(self.size, np.float32)
        words, words_cov = self.words.score_and_coverage(said)
        grams_score, grams_cov = self.bigrams.score_and_coverage(grams)
        return {
            "words": words,
            "expansion": self.words.score(meant) if meant else zeros,
            "bigrams": grams_score,
            "heading": self.heading.score(both),
            "chapter": self.chapter.score(both)[self.article_part],
            "words_cov": words_cov,
            "bigrams_cov": grams_cov,
        }

    def neighbour_max(self, values: FloatArray) -> FloatArray:
        """The larger value of the articles just before and after, within the same law:
        answers often cite a run of adjacent articles."""
        out = np.zeros_like(values)
        # Slices, not np.r_: this runs twice per query over every article.
        np.multiply(values[:-1], self._same_law_next[:-1], out=out[1:])
        np.maximum(out[:-1], values[1:] * self._same_law_prev[1:], out=out[:-1])
        return out

    def memory(self, questions: Sequence[LabelledQuestion]) -> Memory:
        """A memory of these labelled questions over this index's articles; labels naming
        articles not in the corpus are dropped."""
        terms: list[QueryTerms] = []
        labels: list[list[int]] = []
        for q in questions:
            ids = [i for s, n in q.articles if (i := self.article_id(s, n)) is not None]
            if ids:
                terms.append(self.terms(q.question))
                labels.append(ids)
        return Memory(
            terms,
            labels,
            article_count=self.size,
            article_law=self.article_law,
            article_part=self.article_part,
            law_count=self.law_count,
            part_count=self.part_count,
        )


def first_stage(f: dict[str, FloatArray]) -> FloatArray:
    """A fixed blend: good enough to pick candidates, and the ranking when no model is loaded."""
    score: FloatArray = (
        f["words"]
        + 0.5 * f["expansion"]
        + 0.5 * f["bigrams"]
        + 0.3 * f["heading"]
        + 0.3 * f["chapter"]
        + 3.0 * f["knn"]
        + 0.3 * f["law_prior"]
    )
    return score


def candidate_matrix(
    index: StatuteIndex, terms: QueryTerms, memory: Memory | None, limit: int = CANDIDATES
) -> tuple[IntArray, npt.NDArray[np.float32]]:
    """The first stage's best `CANDIDATES` article ids, best first, and their feature rows."""
    f = index.field_scores(terms)
    if memory is not None:
        f.update(memory.features(terms))
    else:
        zeros = np.zeros(index.size, np.float32)
        for name in ("knn", "knn_max", "knn_law", "knn_part", "memo", "memo_cov"):
            f[name] = zeros
        f["law_prior"] = zeros
    s0 = first_stage(f)
    k = min(limit, index.size - 1)
    top_k = np.argpartition(-s0, k)[:k]
    cand: IntArray = top_k[np.argsort(-s0[top_k], kind="stable")].astype(np.int32)
    f["neighbour"] = index.neighbour_max(s0)
    f["neighbour_knn"] = index.neighbour_max(f["knn"])
    f["log_length"] = index.log_length
    columns: dict[str, FloatArray] = {}
    for name in FEATURES:
        if name in f:
            columns[name] = f[name][cand]
    for name in _RELATIVE:
        top = float(f[name].max())
        columns[f"{name}_rel"] = columns[name] / np.float32(top) if top > 0 else columns[name]
    columns["query_length"] = np.full(len(cand), len(terms.words), np.float32)
    columns["first_rank"] = np.log1p(np.arange(len(cand), dtype=np.float32))
    matrix = np.stack([columns[name] for name in FEATURES], axis=1).astype(np.float32)
    return cand, matrix


class Retriever:
    """Ranked articles for a question: the index, optionally a memory and a learned ranker."""

    def __init__(
        self, index: StatuteIndex, memory: Memory | None = None, ranker: Ranker | None = None
    ) -> None:
        self.index = index
        self.memory = memory
        self.ranker = ranker

    def rank(self, text: str) -> tuple[IntArray, FloatArray]:
        """Candidate article ids, best first, with their scores (higher is better)."""
        terms = self.index.terms(text)
        # Bigrams alone come from particles and question words ("的了吗"): nothing to look for.
        if not terms.words and not terms.expansion:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        cand, matrix = candidate_matrix(self.index, terms, self.memory)
        if self.ranker is None:
            scores = -matrix[:, FEATURES.index("first_rank")]
        else:
            scores = self.ranker.score(matrix)
        order = np.argsort(-scores, kind="stable")
        return cand[order], scores[order].astype(np.float32)

    def search(self, text: str, limit: int = 10) -> list[Hit]:
        ids, scores = self.rank(text)
        articles = self.index.corpus.articles
        return [
            Hit(articles[int(i)], float(s))
            for i, s in zip(ids[:limit], scores[:limit], strict=True)
        ]
