"""Okapi BM25 over one field, as flat posting arrays scored with numpy.

Term weights are computed once at build time, so a query is one vector add per query term: well
under a millisecond over the whole corpus.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class BM25Params:
    k1: float = 1.2
    b: float = 0.75


class FieldIndex:
    """BM25 postings for one field of every document (documents are 0..n-1)."""

    def __init__(self, docs: Sequence[Sequence[str]], params: BM25Params = BM25Params()) -> None:
        self.size = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if self.size and lengths.sum() > 0 else 1.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for doc_id, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((doc_id, tf))
        self._slices: dict[str, tuple[int, int]] = {}
        self.idf: dict[str, float] = {}
        ids: list[int] = []
        weights: list[float] = []
        for term, plist in postings.items():
            df = len(plist)
            # The "+1" form of IDF stays positive for terms in over half the documents.
            idf = math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))
            self.idf[term] = idf
            start = len(ids)
            for doc_id, tf in plist:
                norm = params.k1 * (1.0 - params.b + params.b * float(lengths[doc_id]) / avg)
                ids.append(doc_id)
                weights.append(idf * tf * (params.k1 + 1.0) / (tf + norm))
            self._slices[term] = (start, len(ids))
        self._ids = np.array(ids, dtype=np.int32)
        self._weights = np.array(weights, dtype=np.float32)

    def __contains__(self, term: str) -> bool:
        return term in self._slices

    def document_frequency(self, term: str) -> int:
        start, end = self._slices.get(term, (0, 0))
        return end - start

    def score(self, query: Mapping[str, float], out: FloatArray | None = None) -> FloatArray:
        """Add each query term's BM25 contribution, times its query weight, into `out`."""
        scores = np.zeros(self.size, dtype=np.float32) if out is None else out
        for term, qw in query.items():
            span = self._slices.get(term)
            if span is None:
                continue
            start, end = span
            # Each document appears once per term, so fancy-index += is exact here.
            scores[self._ids[start:end]] += np.float32(qw) * self._weights[start:end]
        return scores

    def score_and_coverage(self, query: Mapping[str, float]) -> tuple[FloatArray, FloatArray]:
        """BM25 scores, and the share of the query's IDF mass each document contains (0..1):
        how much of the question a document speaks to, however often it repeats one term.
        One pass over the postings for both."""
        scores = np.zeros(self.size, dtype=np.float32)
        covered = np.zeros(self.size, dtype=np.float32)
        total = 0.0
        for term, qw in query.items():
            span = self._slices.get(term)
            if span is None:
                continue
            start, end = span
            ids = self._ids[start:end]
            scores[ids] += np.float32(qw) * self._weights[start:end]
            mass = qw * self.idf[term]
            total += mass
            covered[ids] += np.float32(mass)
        if total > 0:
            covered /= np.float32(total)
        return scores, covered


def query_weights(terms: Sequence[str]) -> dict[str, float]:
    """Repeated query terms count with diminishing weight (1, 1.5, 1.83, ...)."""
    counts = Counter(terms)
    return {t: 1.0 + math.log(c) for t, c in counts.items()}
