"""A trained verdict head: logistic regression over the judge model's hidden state.

The judge reads the rubric, the context, the question and the answer; the residual stream at
its last token (after ``layer`` decoder layers) carries its verdict far better than its
next-token P(Yes) does. The head reads that vector followed by the scalar features named in
``extra_features`` (see :func:`haloscope.evaluators.hallucination_detector.head_features`),
standardises them and maps them to a probability of "hallucinated". It belongs to one judge
model (``model`` in its metadata) and is trained by
``evaluators/training/train_hallucination_head.py``; the JSON file records the data's hash,
the seed and the fitted figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HEAD_DIR = Path(__file__).parent / "heads"


@dataclass(frozen=True)
class VerdictHead:
    """``p = sigmoid(((x - mean) / scale) @ weights + bias)`` for ``x`` = hidden state then
    ``extra_features``; labelled at ``threshold``."""

    layer: int
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float = 0.5
    extra_features: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of "hallucinated" for feature rows ``[n, dim]``."""
        features = np.asarray(features, dtype=np.float64)
        if features.shape[-1] != self.weights.shape[0]:
            raise ValueError(
                f"features have {features.shape[-1]} dimensions; this head reads "
                f"{self.weights.shape[0]} (judge model {self.meta.get('model', '?')})"
            )
        return ((features - self.mean) / self.scale) @ self.weights + self.bias

    def probability(self, features: np.ndarray) -> np.ndarray:
        """Probability of "hallucinated" for feature rows ``[n, dim]``."""
        from scipy import special  # imported when used: scipy takes ~1 s to import

        return special.expit(self.logits(features))

    def save(self, path: Path) -> None:
        """Write as JSON (vectors as lists of floats)."""
        data = {
            "layer": self.layer,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "threshold": self.threshold,
            "extra_features": list(self.extra_features),
            "meta": self.meta,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> VerdictHead:
        """Read a head written by :meth:`save`."""
        data = json.loads(path.read_text())
        return cls(
            layer=int(data["layer"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            extra_features=tuple(data.get("extra_features", ())),
            meta=dict(data.get("meta", {})),
        )


def head_path(name: str, version: str) -> Path:
    """Where the verdict head of evaluator ``name`` at ``version`` is stored."""
    return HEAD_DIR / f"{name}-{version}.json"


def load_head(name: str, version: str) -> VerdictHead:
    """The shipped head of an evaluator version (a missing file is a packaging error)."""
    path = head_path(name, version)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the verdict head of {name}@{version} ships with the package; "
            "retrain it with evaluators/training/train_hallucination_head.py"
        )
    return VerdictHead.load(path)
