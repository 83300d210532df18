"""The advisor as one object: a consultation's text in, topic, cited articles and outline out.

`Advisor.build()` loads everything once (corpus, segmenter, index, memory, ranker, outlines);
`advise()` is then read-only and safe to call from several executor threads at once.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np

from advisor import corpus as corpus_module
from advisor import outlines as outlines_module
from advisor import topics
from advisor.bm25 import FloatArray, IntArray
from advisor.corpus import Article, Corpus, Law
from advisor.errors import AdvisorError
from advisor.memory import MEMORY_PATH, load_questions
from advisor.outlines import Outline
from advisor.ranker import RANKER_PATH, TreeRanker
from advisor.retrieval import FEATURES, Retriever, StatuteIndex
from advisor.segment import Segmenter, cjk_count
from advisor.vocabulary import words as vocabulary_words

log = logging.getLogger(__name__)

MAX_CHARS = 2000
DEFAULT_LIMIT = 10
# How far a confident topic lifts the articles of its laws, as a share of the spread of the top
# scores: enough to reorder near-ties, not to bury a clearly better article from another law.
TOPIC_BOOST = 0.15
TOPIC_CONFIDENCE = 0.6
_MONGOLIAN = re.compile(r"[\u1800-\u18af]")


@dataclass(frozen=True, slots=True)
class Citation:
    article: Article
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            **self.article.to_json(),
            "score": round(self.score, 4),
            "url": article_url(self.article),
        }


@dataclass(frozen=True, slots=True)
class Advice:
    topic: topics.TopicGuess
    citations: tuple[Citation, ...]
    outline: Outline | None
    notices: tuple[str, ...]

    def to_json(self, corpus: Corpus) -> dict[str, Any]:
        return {
            "topic": {
                "slug": self.topic.slug,
                "zh": self.topic.zh,
                "confidence": round(self.topic.confidence, 3),
                "chosen": self.topic.chosen,
            },
            "citations": [c.to_json() for c in self.citations],
            "outline": None if self.outline is None else self.outline.to_json(corpus),
            "notices": list(self.notices),
        }


def law_url(law: Law) -> str:
    return f"/laws/{quote(law.short)}"


def article_url(article: Article) -> str:
    return f"{law_url(article.law)}/{article.number}"


def clean_text(text: object) -> str:
    """The consultation text, checked: AdvisorError for anything the advisor cannot answer."""
    if not isinstance(text, str):
        raise AdvisorError("invalid_format", "text 必须是字符串。")
    if len(text) > MAX_CHARS:
        raise AdvisorError("text_too_long", f"问题太长了（最多 {MAX_CHARS} 字），请精简后再提交。")
    # Control and format characters (NUL, bidi overrides, zero-width joiners) carry no meaning
    # and would only confuse the segmenter; line breaks become spaces.
    kept = "".join(
        " " if ch in "\r\n\t" else ch
        for ch in text
        if ch in "\r\n\t" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    )
    kept = " ".join(kept.split())
    if not kept:
        raise AdvisorError("empty_text")
    if cjk_count(kept) == 0:
        if _MONGOLIAN.search(kept):
            raise AdvisorError(
                "no_chinese_text",
                "目前只能用中文检索法规，请用中文描述您的问题（暂不支持蒙古文）。",
            )
        raise AdvisorError("no_chinese_text")
    return kept


class Advisor:
    """Corpus, retriever and outlines, loaded once."""

    def __init__(self, corpus: Corpus, retriever: Retriever, outlines: tuple[Outline, ...]) -> None:
        self.corpus = corpus
        self.retriever = retriever
        self.outlines = outlines
        self._article_topics = [topics.article_topic(a) for a in corpus.articles]

    @classmethod
    def build(cls, *, learned: bool = True) -> Advisor:
        """Load and index everything (a few seconds of CPU: call it off the event loop).
        `learned=False` leaves out the memory and the re-ranker (the unsupervised system)."""
        corpus = corpus_module.load()
        index = StatuteIndex(corpus, Segmenter(vocabulary_words()))
        memory = None
        ranker = None
        if learned and MEMORY_PATH.exists() and RANKER_PATH.exists():
            memory = index.memory(load_questions())
            ranker = TreeRanker.load(FEATURES)
        elif learned:
            log.warning("advisor: no learned memory or ranker; run python -m advisor.train")
        return cls(corpus, Retriever(index, memory, ranker), outlines_module.load_all())

    def search(
        self, text: str, limit: int = DEFAULT_LIMIT, topic: str | None = None
    ) -> list[Citation]:
        """Ranked citations for already-cleaned text; `topic` (a slug) lifts its laws."""
        ids, scores = self.retriever.rank(text)
        return self._citations(*self._boost(ids, scores, topic), limit)

    def _boost(
        self, ids: IntArray, scores: FloatArray, topic: str | None
    ) -> tuple[IntArray, FloatArray]:
        if topic is None or topic == "other" or not len(ids):
            return ids, scores
        head = min(len(ids), 50)
        spread = float(scores[:head].max() - scores[:head].min()) or 1.0
        match = np.array(
            [self._article_topics[int(i)] == topic for i in ids[:head]], dtype=np.float32
        )
        boosted = scores[:head] + np.float32(TOPIC_BOOST * spread) * match
        order = np.argsort(-boosted, kind="stable")
        return (
            np.concatenate([ids[:head][order], ids[head:]]),
            np.concatenate([boosted[order], scores[head:]]),
        )

    def _citations(self, ids: IntArray, scores: FloatArray, limit: int) -> list[Citation]:
        articles = self.corpus.articles
        return [
            Citation(articles[int(i)], float(s))
            for i, s in zip(ids[:limit], scores[:limit], strict=True)
        ]

    def advise(self, text: object, topic: object = None, limit: int = DEFAULT_LIMIT) -> Advice:
        """Topic, citations and outline for a consultation; AdvisorError for bad input."""
        if topic is not None and (not isinstance(topic, str) or topic not in topics.TOPIC_SLUGS):
            raise AdvisorError("unknown_topic")
        cleaned = clean_text(text)
        ids, scores = self.retriever.rank(cleaned)
        first = self._citations(ids, scores, limit)
        guess = topics.classify(cleaned, [c.article for c in first], chosen=topic)
        citations = first
        if guess.confidence >= TOPIC_CONFIDENCE:
            citations = self._citations(*self._boost(ids, scores, guess.slug), limit)
        notices = []
        if not citations:
            notices.append("没有找到相关条文，请换个说法，或者说得具体一些。")
        if any(c.article.law.superseded_warning for c in citations):
            notices.append("部分条文所在法规已有新版本，引用前请核对现行文本。")
        outline = outlines_module.choose(self.outlines, cleaned, guess.slug)
        return Advice(guess, tuple(citations), outline, tuple(notices))
