"""The learned re-ranker: gradient-boosted trees over candidate features, evaluated with numpy.

`python -m advisor.train` trains the trees with LightGBM and exports them here as plain arrays
(`advisor/data/ranker.json`). Evaluating them needs only numpy: all trees step down one level
at a time for all candidates at once, so a query costs a handful of vector operations rather
than a call into LightGBM with its per-call overhead (and LightGBM is not needed at run time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from advisor.corpus import DATA_DIR

RANKER_PATH = DATA_DIR / "ranker.json"
RANKER_FORMAT = 1


class Ranker(Protocol):
    def score(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


class RankerFormatError(ValueError):
    """The model file is not one this evaluator can run."""


class TreeRanker:
    """An additive ensemble of binary trees with `x <= threshold` splits.

    All nodes of all trees live in flat arrays. A leaf is a node whose threshold is +inf and
    whose children are itself, so after `depth` steps every walk rests on a leaf and no step
    needs a mask."""

    def __init__(
        self,
        features: tuple[str, ...],
        roots: npt.NDArray[np.int32],
        split_feature: npt.NDArray[np.int32],
        threshold: npt.NDArray[np.float64],
        left: npt.NDArray[np.int32],
        right: npt.NDArray[np.int32],
        value: npt.NDArray[np.float64],
        depth: int,
    ) -> None:
        self.features = features
        self._roots = roots
        self._feature = split_feature
        self._threshold = threshold
        self._left = left
        self._right = right
        self._value = value
        self._depth = depth
        # children[2n] is n's left child, children[2n + 1] its right: one lookup per step.
        self._children = np.stack([left, right], axis=1).ravel().astype(np.int32)

    @property
    def tree_count(self) -> int:
        return len(self._roots)

    def score(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        rows, width = matrix.shape
        flat = matrix.astype(np.float64).ravel()
        # One walk per (tree, candidate), all advanced together one level per step.
        node = np.repeat(self._roots, rows)
        base = np.tile(np.arange(rows, dtype=np.int32) * np.int32(width), len(self._roots))
        for _ in range(self._depth):
            value = flat.take(base + self._feature.take(node))
            right = value > self._threshold.take(node)
            node = self._children.take(2 * node + right)
        out: npt.NDArray[np.float32] = (
            self._value.take(node).reshape(len(self._roots), rows).sum(axis=0).astype(np.float32)
        )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RANKER_FORMAT,
            "features": list(self.features),
            "depth": self._depth,
            "roots": self._roots.tolist(),
            "split_feature": self._feature.tolist(),
            # JSON has no infinity: leaves are marked by null thresholds.
            "threshold": [None if np.isinf(t) else float(t) for t in self._threshold],
            "left": self._left.tolist(),
            "right": self._right.tolist(),
            "value": self._value.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], features: tuple[str, ...]) -> TreeRanker:
        if data.get("format") != RANKER_FORMAT:
            raise RankerFormatError(f"ranker format {data.get('format')!r} not supported")
        if tuple(data["features"]) != features:
            raise RankerFormatError(
                "ranker was trained on other features; retrain with python -m advisor.train"
            )
        return cls(
            features,
            np.array(data["roots"], np.int32),
            np.array(data["split_feature"], np.int32),
            np.array([np.inf if t is None else t for t in data["threshold"]], np.float64),
            np.array(data["left"], np.int32),
            np.array(data["right"], np.int32),
            np.array(data["value"], np.float64),
            int(data["depth"]),
        )

    @classmethod
    def load(cls, features: tuple[str, ...], path: Path = RANKER_PATH) -> TreeRanker:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")), features)

    @classmethod
    def from_lightgbm_dump(cls, dump: dict[str, Any], features: tuple[str, ...]) -> TreeRanker:
        """Convert `lightgbm.Booster.dump_model()` output."""
        if tuple(dump["feature_names"]) != features:
            raise RankerFormatError("booster was trained on other features")
        nodes = _Nodes()
        roots = [nodes.add(t["tree_structure"], 0) for t in dump["tree_info"]]
        return cls(
            features,
            np.array(roots, np.int32),
            np.array(nodes.feature, np.int32),
            np.array(nodes.threshold, np.float64),
            np.array(nodes.left, np.int32),
            np.array(nodes.right, np.int32),
            np.array(nodes.value, np.float64),
            max(nodes.depth, 1),
        )


class _Nodes:
    """Flat node arrays being filled from dumped trees."""

    def __init__(self) -> None:
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.value: list[float] = []
        self.depth = 0

    def add(self, node: dict[str, Any], level: int) -> int:
        index = len(self.feature)
        self.feature.append(0)
        self.threshold.append(np.inf)
        self.left.append(index)
        self.right.append(index)
        self.value.append(0.0)
        if "leaf_value" in node:
            self.value[index] = float(node["leaf_value"])
            self.depth = max(self.depth, level)
            return index
        if node.get("decision_type") != "<=":
            raise RankerFormatError(f"unsupported split {node.get('decision_type')!r}")
        if node.get("missing_type") not in ("None", "NaN"):
            # Zero-as-missing would send zeros down the default branch; our features have
            # meaningful zeros and no NaNs, so such a model would be evaluated wrongly.
            raise RankerFormatError(f"unsupported missing type {node.get('missing_type')!r}")
        self.feature[index] = int(node["split_feature"])
        self.threshold[index] = float(node["threshold"])
        self.left[index] = self.add(node["left_child"], level + 1)
        self.right[index] = self.add(node["right_child"], level + 1)
        return index
