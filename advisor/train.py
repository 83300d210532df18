"""`python -m advisor.train`: learn the memory and the re-ranker from labelled questions.

Writes `advisor/data/memory.jsonl.gz` (the labelled questions) and `advisor/data/ranker.txt`.
Memory features of a training question must not see its own label, or the model learns to
trust them blindly: training rows are cross-fitted (each inner fold's features come from a
memory of the other folds). `cross_validate` gives the out-of-fold rankings the benchmark
reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm
import numpy as np
import numpy.typing as npt

from advisor.corpus import load
from advisor.memory import MEMORY_PATH, LabelledQuestion, parse_question, write_questions
from advisor.ranker import RANKER_PATH, TreeRanker
from advisor.retrieval import FEATURES, Retriever, StatuteIndex, candidate_matrix
from advisor.segment import Segmenter
from advisor.vocabulary import words as vocabulary_words

DEFAULT_DEV = Path(__file__).resolve().parent.parent.parent / "shared/eval-dev/citations_dev.jsonl"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class TrainParams:
    # Shallow trees: 200 trees of depth 3 rank as well out-of-fold as 400 of depth 6 did, and
    # cost a quarter as much per query.
    trees: int = 200
    learning_rate: float = 0.06
    leaves: int = 8
    max_depth: int = 3
    min_child_samples: int = 50
    subsample: float = 0.8
    colsample: float = 0.8
    train_candidates: int = 150  # per question; positives further down are rare
    inner_folds: int = 4
    seed: int = 0


def read_items(path: Path) -> list[LabelledQuestion]:
    with path.open(encoding="utf-8") as f:
        return [parse_question(json.loads(line)) for line in f if line.strip()]


def fold_of(item: LabelledQuestion, folds: int, seed: int) -> int:
    """A stable fold from the id alone, so adding items does not reshuffle the others."""
    digest = hashlib.sha256(f"{seed}:{item.id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % folds


def _rows(
    index: StatuteIndex, items: Sequence[LabelledQuestion], memory_items: Sequence[LabelledQuestion]
) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]]:
    memory = index.memory(memory_items)
    rows = []
    for item in items:
        cand, matrix = candidate_matrix(index, index.terms(item.question), memory)
        wanted = {i for s, n in item.articles if (i := index.article_id(s, n)) is not None}
        rows.append((matrix, np.array([int(c) in wanted for c in cand], np.int32)))
    return rows


def fit(
    index: StatuteIndex,
    items: Sequence[LabelledQuestion],
    params: TrainParams = TrainParams(),
    progress: Progress | None = None,
) -> lightgbm.Booster:
    """A LambdaRank booster trained on cross-fitted candidate rows of `items`."""
    rows: list[tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]] = []
    for k in range(params.inner_folds):
        inner = [q for q in items if fold_of(q, params.inner_folds, params.seed + 1) == k]
        rest = [q for q in items if fold_of(q, params.inner_folds, params.seed + 1) != k]
        rows.extend(_rows(index, inner, rest))
        if progress:
            progress(f"  features {k + 1}/{params.inner_folds}")
    top = params.train_candidates
    matrix = np.concatenate([m[:top] for m, _ in rows])
    labels = np.concatenate([y[:top] for _, y in rows])
    groups = [min(top, len(y)) for _, y in rows]
    dataset = lightgbm.Dataset(
        matrix, label=labels, group=groups, feature_name=list(FEATURES), free_raw_data=True
    )
    booster_params = {
        "objective": "lambdarank",
        "learning_rate": params.learning_rate,
        "num_leaves": params.leaves,
        "max_depth": params.max_depth,
        "min_child_samples": params.min_child_samples,
        "bagging_fraction": params.subsample,
        "bagging_freq": 1,
        "feature_fraction": params.colsample,
        "seed": params.seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    if progress:
        progress(f"  training {params.trees} trees on {len(matrix):,} rows")
    return lightgbm.train(booster_params, dataset, num_boost_round=params.trees)


def cross_validate(
    index: StatuteIndex,
    items: Sequence[LabelledQuestion],
    folds: int = 5,
    params: TrainParams = TrainParams(),
    progress: Progress | None = None,
) -> dict[str, list[tuple[str, int]]]:
    """Out-of-fold rankings: each item ranked by a memory and model that never saw it."""
    out: dict[str, list[tuple[str, int]]] = {}
    articles = index.corpus.articles
    for k in range(folds):
        train = [q for q in items if fold_of(q, folds, params.seed) != k]
        test = [q for q in items if fold_of(q, folds, params.seed) == k]
        if progress:
            progress(f"fold {k + 1}/{folds}: {len(train)} train, {len(test)} held out")
        booster = fit(index, train, params, progress)
        ranker = TreeRanker.from_lightgbm_dump(booster.dump_model(), FEATURES)
        retriever = Retriever(index, index.memory(train), ranker)
        for q in test:
            ids, _ = retriever.rank(q.question)
            out[q.id] = [articles[int(i)].key for i in ids]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="learn the advisor's memory and re-ranker")
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="labelled questions")
    args = parser.parse_args(argv)
    items = read_items(args.dev)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    say(f"{len(items)} labelled questions from {args.dev}")
    say("building the statute index")
    index = StatuteIndex(load(), Segmenter(vocabulary_words()))
    booster = fit(index, items, progress=say)
    ranker = TreeRanker.from_lightgbm_dump(booster.dump_model(), FEATURES)
    RANKER_PATH.write_text(json.dumps(ranker.to_json(), separators=(",", ":")), encoding="utf-8")
    write_questions(items, MEMORY_PATH)
    say(f"wrote {RANKER_PATH} and {MEMORY_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
