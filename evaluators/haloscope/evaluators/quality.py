"""Quality cards: how well an evaluator version separates faithful from hallucinated answers.

A card is measured, never typed in: ``benchmarks/halueval.py --write-cards`` scores the labelled
dev slices and writes ``cards/<name>-<version>.json`` with, per slice, the pairwise accuracy,
AUROC, the accuracy of the shipped label at the shipped threshold, the best-threshold accuracy
and the flag rate, beside the length-only and word-overlap baselines, and the SHA-256 of the
data. A version whose AUROC is below :data:`MIN_RELIABLE_AUROC` on any dev slice is
*unreliable*: it is listed with that mark and is never a default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CARD_DIR = Path(__file__).parent / "cards"
MIN_RELIABLE_AUROC = 0.6


@dataclass(frozen=True)
class SliceFigures:
    """One detector (or baseline) on one labelled slice; rates are shares in [0, 1]."""

    pairwise: float
    auroc: float
    label_accuracy: float | None
    best_accuracy: float
    flag_rate: float | None
    answers_per_s: float | None = None


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

    def save(self, path: Path | None = None) -> Path:
        """Write the card as JSON (default: its place in ``cards/``)."""
        path = path or card_path(self.name, self.version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
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
