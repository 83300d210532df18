"""`python -m bench.advisor_quality`: how well and how fast the advisor finds the right articles.

Prints recall@1/5/10, hit@5 and MRR on the development questions (the main figure), and
separately on the silver and synthetic sets, each broken down by `category_derived`, with the
jieba + BM25 baseline measured in the same run; then query latency p50/p99 over the whole
corpus, and topic accuracy against the villager's choice alone.

The memory and the re-ranker are learned from the development set, so its figures are
out-of-fold (k-fold cross-validation: every question is ranked by a model that never saw it).
The silver and synthetic sets are never trained on; they are ranked by the shipped model.
Exit status 1 when a goal is missed, so `python -m bench` can gate on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advisor.advice import Advisor
from advisor.bm25 import BM25Params, FieldIndex, query_weights
from advisor.corpus import Corpus
from advisor.memory import LabelledQuestion, parse_question
from advisor.retrieval import Retriever
from advisor.segment import Segmenter
from advisor.topics import TOPIC_SLUGS, classify

EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval-dev"
SETS = (
    ("dev", "citations_dev.jsonl"),
    ("silver", "citations_dev_silver.jsonl"),
    ("synthetic", "citations_dev_synthetic.jsonl"),
)
GOAL_RECALL_GAIN = 0.15
GOAL_HIT5 = 0.75
GOAL_P99_MS = 10.0
# The rough domain of an item, where it names one topic of the catalogue. The rest are not
# about one catalogue topic (contract, tort, procedure ...) and count as "other".
CATEGORY_TOPIC: Mapping[str, str | None] = {
    "marriage_family": "marriage_family",
    "inheritance": "marriage_family",
    "labour": "labour",
    "traffic": "traffic",
    "consumer": "consumer",
    "neighbour": "neighbour",
    "lending": "private_lending",
    "land_rural": "land",
    "minors_elderly_disabled": None,  # three topics: not scored
}

Key = tuple[str, int]
Ranking = Callable[[str], list[Key]]


@dataclass(frozen=True, slots=True)
class Item:
    question: LabelledQuestion
    category: str


@dataclass(frozen=True, slots=True)
class Scores:
    n: int
    r1: float
    r5: float
    r10: float
    hit5: float
    mrr: float

    def row(self, name: str) -> str:
        return (
            f"  {name:<28} n={self.n:<4} R@1 {self.r1:.3f}  R@5 {self.r5:.3f}  "
            f"R@10 {self.r10:.3f}  hit@5 {self.hit5:.3f}  MRR {self.mrr:.3f}"
        )


def score(rankings: Sequence[Sequence[Key]], items: Sequence[Item]) -> Scores:
    r1 = r5 = r10 = hit5 = mrr = 0.0
    for ranked, item in zip(rankings, items, strict=True):
        wanted = set(item.question.articles)
        position = {k: i for i, k in enumerate(ranked[:100])}
        ranks = sorted(position[k] for k in wanted if k in position)

        r1 += sum(1 for r in ranks if r < 1) / len(wanted)
        r5 += sum(1 for r in ranks if r < 5) / len(wanted)
        r10 += sum(1 for r in ranks if r < 10) / len(wanted)
        hit5 += 1.0 if ranks and ranks[0] < 5 else 0.0
        mrr += 1.0 / (ranks[0] + 1) if ranks else 0.0
    n = max(len(items), 1)
    return Scores(len(items), r1 / n, r5 / n, r10 / n, hit5 / n, mrr / n)


def read_set(path: Path) -> list[Item]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Item(parse_question(r), str(r.get("category_derived", ""))) for r in rows]


class Baseline:
    """jieba (its own dictionary, ordinary mode) + Okapi BM25 over the article text."""

    def __init__(self, corpus: Corpus) -> None:
        self._segmenter = Segmenter()
        self._keys = [a.key for a in corpus.articles]
        docs = [self._segmenter.plain_words(a.text) for a in corpus.articles]
        self._index = FieldIndex(docs, BM25Params(k1=1.5, b=0.75))

    def rank(self, text: str) -> list[Key]:
        scores = self._index.score(query_weights(self._segmenter.plain_words(text)))
        top = np.argsort(-scores, kind="stable")[:100]
        return [self._keys[int(i)] for i in top if scores[i] > 0]


def retriever_ranking(retriever: Retriever, corpus: Corpus) -> Ranking:
    def rank(text: str) -> list[Key]:
        ids, _ = retriever.rank(text)
        return [corpus.articles[int(i)].key for i in ids]

    return rank


def report(title: str, systems: Mapping[str, Sequence[Sequence[Key]]], items: list[Item]) -> None:
    print(f"\n{title} ({len(items)} questions)")
    for name, rankings in systems.items():
        print(score(rankings, items).row(name))
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_category[item.category].append(i)
    first, last = next(iter(systems)), list(systems)[-1]
    print(f"  by category_derived ({last} vs {first}):")
    for category, idx in sorted(by_category.items(), key=lambda kv: -len(kv[1])):
        sub = [items[i] for i in idx]
        ours = score([systems[last][i] for i in idx], sub)
        base = score([systems[first][i] for i in idx], sub)
        print(
            f"    {category:<24} n={len(idx):<4} R@5 {ours.r5:.3f} (baseline {base.r5:.3f})  "
            f"hit@5 {ours.hit5:.3f}  MRR {ours.mrr:.3f}"
        )


def villager_choice(item: Item, truth: str) -> str:
    """A simulated choice at the terminal: right 60% of the time, "other" (did not know) 20%,
    some other topic 20%. Deterministic per item."""
    digest = hashlib.sha256(item.question.id.encode()).digest()
    roll = digest[0] / 256
    if roll < 0.6:
        return truth
    if roll < 0.8:
        return "other"
    wrong = [s for s in TOPIC_SLUGS if s not in (truth, "other")]
    return wrong[digest[1] % len(wrong)]


def topic_accuracy(advisor: Advisor, items: list[Item]) -> None:
    """Accuracy against the topic implied by category_derived: over every item (contract,
    tort, procedure ... count as "other"), and over the items whose domain is a catalogue
    topic."""
    rows: list[tuple[str, bool, bool, bool]] = []
    for item in items:
        truth = CATEGORY_TOPIC.get(item.category, "other")
        if truth is None:
            continue
        choice = villager_choice(item, truth)
        text = item.question.question
        articles = [c.article for c in advisor.search(text)]
        rows.append(
            (
                truth,
                choice == truth,
                classify(text, articles).slug == truth,
                classify(text, articles, chosen=choice).slug == truth,
            )
        )
    print("\nTopic classification against category_derived (choice simulated: 60% right,")
    print("20% 'other', 20% another topic)")
    print(f"  {'items':<36} {'n':>5}  choice only  text only  text+choice")
    for name, subset in (
        ("all labelled", rows),
        ("catalogue topic (not 'other')", [r for r in rows if r[0] != "other"]),
    ):
        n = max(len(subset), 1)
        choice_acc = sum(r[1] for r in subset) / n
        text_acc = sum(r[2] for r in subset) / n
        both_acc = sum(r[3] for r in subset) / n
        accuracies = f"{choice_acc:>11.3f}  {text_acc:>9.3f}  {both_acc:>11.3f}"
        print(f"  {name:<36} {len(subset):>5}  {accuracies}")


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float
    p99: float
    cpu_p50: float
    cpu_p99: float

    def row(self, name: str) -> str:
        return (
            f"  {name:<9} p50 {self.p50:.2f} ms  p99 {self.p99:.2f} ms   "
            f"(CPU time p50 {self.cpu_p50:.2f} ms  p99 {self.cpu_p99:.2f} ms)"
        )


def latency(rank: Ranking, texts: Sequence[str]) -> Latency:
    """Wall time per query, and this thread's CPU time: on a busy machine the wall time also
    counts the time other processes held the CPU."""
    wall, cpu = [], []
    for text in texts:
        started, started_cpu = time.perf_counter(), time.thread_time()
        rank(text)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return Latency(
        float(np.percentile(wall, 50)),
        float(np.percentile(wall, 99)),
        float(np.percentile(cpu, 50)),
        float(np.percentile(cpu, 99)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="advisor citation quality and speed")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds on dev")
    args = parser.parse_args(argv)
    if not (args.eval_dir / SETS[0][1]).exists():
        print(f"no evaluation sets in {args.eval_dir}: skipped")
        return 0

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        # Training needs LightGBM (the test extras); running the advisor does not.
        from advisor.train import TrainParams, cross_validate
    except ImportError as exc:
        print(f"cannot train the re-ranker ({exc}): pip install -e '.[test]'", file=sys.stderr)
        return 1
    sets = {name: read_set(args.eval_dir / file) for name, file in SETS}
    say("building the shipped advisor (index, memory, re-ranker)")
    advisor = Advisor.build()
    corpus = advisor.corpus
    index = advisor.retriever.index
    say("building the jieba + BM25 baseline")
    baseline = Baseline(corpus)
    unsupervised = retriever_ranking(Retriever(index), corpus)
    shipped = retriever_ranking(advisor.retriever, corpus)

    results: dict[str, dict[str, list[list[Key]]]] = {}
    for name, items in sets.items():
        say(f"{name}: baseline and unsupervised rankings")
        texts = [i.question.question for i in items]
        results[name] = {
            "jieba+BM25 baseline": [baseline.rank(t) for t in texts],
            "fields+vocabulary (no learning)": [unsupervised(t) for t in texts],
        }
    say(f"dev: {args.folds}-fold cross-validation of memory + re-ranker (a few minutes)")
    oof = cross_validate(
        index, [i.question for i in sets["dev"]], args.folds, TrainParams(), progress=say
    )
    results["dev"][f"+memory+re-ranker ({args.folds}-fold OOF)"] = [
        oof[i.question.id] for i in sets["dev"]
    ]
    for name in ("silver", "synthetic"):
        say(f"{name}: shipped model (trained on dev only)")
        results[name]["+memory+re-ranker (shipped)"] = [
            shipped(i.question.question) for i in sets[name]
        ]

    print("\nCitation retrieval")
    report("dev: citations_dev.jsonl, labels by legal professionals", results["dev"], sets["dev"])
    report("silver: citations_dev_silver.jsonl, noisy labels", results["silver"], sets["silver"])
    report("synthetic: citations_dev_synthetic.jsonl", results["synthetic"], sets["synthetic"])

    say("latency")
    all_texts = [i.question.question for items in sets.values() for i in items]
    for text in all_texts[:50]:
        shipped(text)  # warm caches before timing
    ours_latency = latency(shipped, all_texts)
    base_latency = latency(baseline.rank, all_texts)
    print(
        f"\nQuery latency over the whole corpus ({len(corpus)} articles, {len(all_texts)} queries)"
    )
    print(ours_latency.row("advisor"))
    print(base_latency.row("baseline"))

    topic_accuracy(advisor, [i for items in sets.values() for i in items])

    dev = results["dev"]
    base = score(dev["jieba+BM25 baseline"], sets["dev"])
    ours = score(list(dev.values())[-1], sets["dev"])
    goals = [
        (
            f"dev R@5 >= baseline + {GOAL_RECALL_GAIN:.2f} ({base.r5 + GOAL_RECALL_GAIN:.3f})",
            ours.r5 >= base.r5 + GOAL_RECALL_GAIN,
        ),
        (f"dev hit@5 >= {GOAL_HIT5:.2f}", ours.hit5 >= GOAL_HIT5),
        (f"p99 <= {GOAL_P99_MS:.0f} ms", ours_latency.p99 <= GOAL_P99_MS),
    ]
    print("\nGoals")
    for text, met in goals:
        print(f"  {'met   ' if met else 'MISSED'} {text}")
    load1 = _load_average()
    if load1 is not None:
        print(f"  (load average while measuring: {load1:.2f} on this machine)")
    return 0 if all(met for _, met in goals) else 1


def _load_average() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


if __name__ == "__main__":
    sys.exit(main())
