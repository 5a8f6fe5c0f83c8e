"""Quality cards: how well an evaluator version separates faithful from hallucinated answers.

A card is measured, never typed in: ``benchmarks/halueval.py --write-cards`` scores the labelled
dev slices and writes ``cards/<name>-<version>.json`` with, per slice, the pairwise accuracy,
AUROC, the accuracy of the shipped label at the shipped threshold, the best-threshold accuracy
and the flag rate, beside the length-only and word-overlap baselines, and the SHA-256 of the
data. A version whose AUROC is below :data:`MIN_RELIABLE_AUROC` on any dev slice is
*unreliable*: it is listed with that mark and is never a default.

:func:`measure_evaluator` gives any binary evaluator (a built-in one or a custom judge) the
same figures on a dataset whose items carry the expected verdict: label accuracy (agreement
with the expected labels at the evaluator's threshold), AUROC, the best-threshold accuracy,
the flag rate and the Brier score (calibration of the score as a probability).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from haloscope.evaluators.base import Evaluator
    from haloscope.evaluators.results import EvalInput

CARD_DIR = Path(__file__).parent / "cards"
MIN_RELIABLE_AUROC = 0.6


@dataclass(frozen=True)
class SliceFigures:
    """One detector (or baseline) on one labelled slice; rates are shares in [0, 1].
    ``pairwise`` is None on a slice of unpaired items, ``brier`` where it was not measured."""

    pairwise: float | None
    auroc: float
    label_accuracy: float | None
    best_accuracy: float
    flag_rate: float | None
    answers_per_s: float | None = None
    brier: float | None = None


@dataclass(frozen=True)
class SliceCard:
    """A dev slice: where it comes from, its size, the evaluator's figures and the baselines'."""

    data: str
    sha256: str
    rows: int
    figures: SliceFigures
    baselines: dict[str, SliceFigures] = field(default_factory=dict)
    failed: int = 0


@dataclass(frozen=True)
class QualityCard:
    """The measured quality of ``name@version`` on its dev slices."""

    name: str
    version: str
    slices: dict[str, SliceCard]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def reliable(self) -> bool:
        """Whether the AUROC reaches :data:`MIN_RELIABLE_AUROC` on every slice."""
        return bool(self.slices) and all(
            s.figures.auroc >= MIN_RELIABLE_AUROC for s in self.slices.values()
        )

    def as_dict(self) -> dict[str, Any]:
        """The card's JSON form (what :meth:`from_dict` reads back)."""
        return asdict(self)

    def save(self, path: Path | None = None) -> Path:
        """Write the card as JSON (default: its place in ``cards/``)."""
        path = path or card_path(self.name, self.version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityCard:
        """Rebuild a card from its JSON form."""
        slices = {
            key: SliceCard(
                data=s["data"],
                sha256=s["sha256"],
                rows=int(s["rows"]),
                figures=SliceFigures(**s["figures"]),
                baselines={k: SliceFigures(**v) for k, v in s.get("baselines", {}).items()},
                failed=int(s.get("failed", 0)),
            )
            for key, s in data["slices"].items()
        }
        return cls(data["name"], data["version"], slices, dict(data.get("meta", {})))


def card_path(name: str, version: str) -> Path:
    """Where the card of ``name@version`` is stored."""
    return CARD_DIR / f"{name}-{version}.json"


def load_card(name: str, version: str) -> QualityCard | None:
    """The stored card of an evaluator version, or None when it was never measured."""
    path = card_path(name, version)
    return QualityCard.from_dict(json.loads(path.read_text())) if path.exists() else None


_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


def expected_verdict(value: Any, labels: tuple[str, str]) -> bool:
    """Whether an expected verdict is the positive class: one of the evaluator's
    ``(negative, positive)`` labels, a boolean, 0/1 or true/false. ValueError otherwise."""
    negative, positive = labels
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value in labels:  # the labels first: a judge's labels may be "No" / "Yes"
            return value == positive
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
    raise ValueError(
        f"expected verdict {value!r} is none of {negative!r}, {positive!r}, true, false"
    )


def measure_evaluator(
    evaluator: Evaluator,
    items: Sequence[EvalInput],
    expected: Sequence[bool],
    slice_name: str,
    data: str = "",
    sha256: str = "",
    meta: dict[str, Any] | None = None,
) -> QualityCard:
    """Score ``items`` with a binary evaluator and compare with the expected verdicts
    (True = the positive label, e.g. hallucinated or ``incorrect``): a card with one slice.
    Items the evaluator fails on are counted in ``failed`` and left out of the figures.
    ValueError when the evaluator is not binary or the scored items lack a class."""
    import time

    import numpy as np
    from haloscope.evaluators.metrics import auroc, best_threshold, brier_score

    if evaluator.binary_labels is None:
        raise ValueError(f"{evaluator.key} is not a binary evaluator; it has no quality card")
    if len(items) != len(expected):
        raise ValueError(f"{len(items)} items but {len(expected)} expected verdicts")
    positive = evaluator.binary_labels[1]
    start = time.perf_counter()
    results = evaluator.evaluate(items)
    wall = time.perf_counter() - start
    scored = [(r, e) for r, e in zip(results, expected, strict=True) if r.error is None]
    y = np.array([e for _, e in scored], dtype=bool)
    if not (y.any() and (~y).any()):
        failed = len(results) - len(scored)
        raise ValueError(
            f"the {len(scored)} scored items (of {len(results)}; {failed} failed) need both "
            "expected verdicts, positive and negative"
        )
    scores = np.array([float(r.score) for r, _ in scored])
    flagged = np.array([r.label == positive for r, _ in scored], dtype=bool)
    cut = best_threshold(scores, y)
    figures = SliceFigures(
        pairwise=None,
        auroc=round(auroc(scores, y), 4),
        label_accuracy=round(float(np.mean(flagged == y)), 4),
        best_accuracy=round(float(np.mean((scores >= cut) == y)), 4),
        flag_rate=round(float(np.mean(flagged)), 4),
        answers_per_s=round(len(results) / wall, 2) if wall > 0 else None,
        brier=round(brier_score(scores, y), 4),
    )
    card = SliceCard(data, sha256, len(results), figures, failed=len(results) - len(scored))
    return QualityCard(evaluator.name, evaluator.version, {slice_name: card}, dict(meta or {}))
