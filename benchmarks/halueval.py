"""Hallucination detectors on HaluEval slices, beside a length-only and a word-overlap baseline.

Every HaluEval row gives one faithful and one hallucinated answer to the same input; each answer
is one scored item. Per slice and detector it prints:

* pairwise: share of rows whose hallucinated answer scores above its faithful twin (ties half);
* AUROC over all answers;
* label acc: accuracy of the label the evaluator ships, at its shipped threshold (nothing is
  fitted here), and best acc: the accuracy of the best threshold chosen on the slice itself
  (an upper bound that shows whether the shipped calibration transfers);
* flagged: share of answers labelled hallucinated; answers/s; failed items.

The baselines have no shipped label: only their ranking figures and best accuracy are shown.
No detector sees the answer's length. ``--ablate-context`` scores the default detector again
with the knowledge replaced by "(no context given)": what is left is what it reads from the
question and answer alone.

    .venv/bin/python benchmarks/halueval.py [--rows 1000] [--data FILE ...] [--write-cards]

Defaults are the dev slices shipped in ``benchmarks/data/halueval`` (QA and dialogue); other
HaluEval files (summarization, more QA rows) are read by ``--data``. ``--write-cards`` stores
each evaluator's figures as its quality card (``haloscope evaluators list`` shows them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from haloscope.evaluators import EvalInput, Resources, create_evaluator
from haloscope.evaluators.metrics import auroc, best_threshold, pairwise_accuracy
from haloscope.evaluators.quality import QualityCard, SliceCard, SliceFigures, load_card

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "benchmarks" / "data" / "halueval"
DEV_SLICES = (DATA_DIR / "qa_dev.jsonl", DATA_DIR / "dialogue_dev.jsonl")
DETECTORS = (("hallucination.rag", "2"), ("hallucination.rag", "1"), ("faithfulness", "1"))
NO_CONTEXT = "(no context given)"
CARD_META = {
    "measured_by": "benchmarks/halueval.py --write-cards",
    "backend": "torch engine, packaged SmolLM2-135M-Instruct and all-MiniLM-L6-v2, CPU",
}
_WORD = re.compile(r"\w+")
# (input field, faithful field, hallucinated field, context field) per HaluEval task type
FORMATS = {
    "qa": ("question", "right_answer", "hallucinated_answer", "knowledge"),
    "dialogue": ("dialogue_history", "right_response", "hallucinated_response", "knowledge"),
    "summarization": (None, "right_summary", "hallucinated_summary", "document"),
}


@dataclass(frozen=True)
class Slice:
    """A labelled slice: items alternate faithful, hallucinated (one row = two items)."""

    name: str
    path: Path
    sha256: str
    items: list[EvalInput]
    labels: np.ndarray


def load_slice(path: Path, rows: int | None) -> Slice:
    """Read a HaluEval file of any paired task type (the format is read off the fields)."""
    lines = path.read_text().splitlines()[:rows]
    first = json.loads(lines[0])
    kind = next((k for k, f in FORMATS.items() if f[1] in first), None)
    if kind is None:
        raise SystemExit(
            f"{path}: not a paired HaluEval file (expected one of "
            f"{[f[1] for f in FORMATS.values()]}); unpaired files such as 'general' carry no "
            "context for a RAG detector"
        )
    question, right, wrong, context = FORMATS[kind]
    items = []
    for line in lines:
        row = json.loads(line)
        for answer in (row[right], row[wrong]):
            items.append(
                EvalInput(
                    input=row[question] if question else "Summarize the document.",
                    output=answer,
                    contexts=(row[context],),
                )
            )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    labels = np.tile([False, True], len(lines))
    return Slice(path.stem, path, digest, items, labels)


def length_baseline(items: list[EvalInput]) -> np.ndarray:
    """Baseline: the longer answer is the hallucinated one (the QA data's main artifact)."""
    return np.array([len(i.output.split()) for i in items], dtype=float)


def overlap_baseline(items: list[EvalInput]) -> np.ndarray:
    """Baseline: share of the answer's words absent from the context."""
    scores = []
    for item in items:
        words = _WORD.findall(item.output.lower())
        known = set(_WORD.findall(" ".join(item.contexts).lower()))
        scores.append(1 - sum(w in known for w in words) / max(len(words), 1))
    return np.array(scores)


@dataclass(frozen=True)
class Scored:
    """A detector's scores on a slice, its labels (None for baselines) and its speed."""

    scores: np.ndarray
    flagged: np.ndarray | None
    answers_per_s: float | None
    failed: int = 0


def figures(scored: Scored, labels: np.ndarray) -> SliceFigures:
    """The card's figures for one detector on one slice (failed items score 0.5)."""
    s = scored.scores
    best = float(np.mean((s >= best_threshold(s, labels)) == labels))
    flagged = scored.flagged
    return SliceFigures(
        pairwise=round(pairwise_accuracy(s), 4),
        auroc=round(auroc(s, labels), 4),
        label_accuracy=None if flagged is None else round(float(np.mean(flagged == labels)), 4),
        best_accuracy=round(best, 4),
        flag_rate=None if flagged is None else round(float(np.mean(flagged)), 4),
        answers_per_s=None if scored.answers_per_s is None else round(scored.answers_per_s, 2),
    )


def run_evaluator(
    name: str, version: str, items: list[EvalInput], resources: Resources, batch: int
) -> Scored:
    """Score ``items`` in batches; the score is the evaluator's hallucination direction."""
    evaluator = create_evaluator(name, version=version, resources=resources)
    evaluator.evaluate(items[:2])  # load the models outside the timing
    started, results = time.perf_counter(), []
    for start in range(0, len(items), batch):
        results += evaluator.evaluate(items[start : start + batch])
    rate = len(items) / (time.perf_counter() - started)
    failed = sum(r.score is None for r in results)
    if name == "faithfulness":  # share of supported claims: invert, and "unfaithful" flags
        scores = [0.5 if r.score is None else 1 - r.score for r in results]
        flagged = [r.label == "unfaithful" for r in results]
    else:
        scores = [0.5 if r.score is None else r.score for r in results]
        flagged = [r.label == "hallucinated" for r in results]
    return Scored(np.array(scores), np.array(flagged), rate, failed)


def print_row(name: str, fig: SliceFigures, failed: int | None = None) -> None:
    def pct(value: float | None) -> str:
        return "     -" if value is None else f"{value:6.1%}"

    rate = "      -" if fig.answers_per_s is None else f"{fig.answers_per_s:7.1f}"
    fails = "" if failed is None else f"  failed {failed}"
    print(
        f"  {name:<32} pairwise {pct(fig.pairwise)}  AUROC {fig.auroc:.3f}  "
        f"label acc {pct(fig.label_accuracy)}  best acc {pct(fig.best_accuracy)}  "
        f"flagged {pct(fig.flag_rate)}  answers/s {rate}{fails}"
    )


def ablated(items: list[EvalInput]) -> list[EvalInput]:
    """The items with their context replaced by a placeholder."""
    return [EvalInput(input=i.input, output=i.output, contexts=(NO_CONTEXT,)) for i in items]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEV_SLICES))
    parser.add_argument("--rows", type=int, help="rows per slice (default: all)")
    parser.add_argument("--batch", type=int, default=32, help="items per evaluate() call")
    parser.add_argument("--detectors", default=",".join(f"{n}@{v}" for n, v in DETECTORS))
    parser.add_argument("--ablate-context", action="store_true")
    parser.add_argument("--write-cards", action="store_true")
    args = parser.parse_args()

    detectors = [tuple(spec.split("@", 1)) for spec in args.detectors.split(",")]
    resources = Resources()
    cards: dict[tuple[str, str], dict[str, SliceCard]] = {d: {} for d in detectors}
    for path in args.data:
        data = load_slice(path, args.rows)
        rows = len(data.items) // 2
        print(f"\n{data.name}: {rows} rows, {len(data.items)} answers ({path.name})")
        baselines: dict[str, SliceFigures] = {}
        for label, baseline in (("length", length_baseline), ("word_overlap", overlap_baseline)):
            fig = figures(Scored(baseline(data.items), None, None), data.labels)
            baselines[label] = fig
            print_row(f"baseline: {label.replace('_', ' ')}", fig)
        for name, version in detectors:
            scored = run_evaluator(name, version, data.items, resources, args.batch)
            fig = figures(scored, data.labels)
            print_row(f"{name}@{version}", fig, scored.failed)
            cards[(name, version)][data.name] = SliceCard(
                str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
                data.sha256,
                rows,
                fig,
                baselines,
                scored.failed,
            )
        if args.ablate_context:
            name, version = detectors[0]
            scored = run_evaluator(name, version, ablated(data.items), resources, args.batch)
            print_row(f"{name}@{version}, no context", figures(scored, data.labels))
    if args.write_cards:
        for (name, version), slices in cards.items():
            old = load_card(name, version)
            merged = {**(old.slices if old else {}), **slices}
            path = QualityCard(name, version, merged, CARD_META).save()
            print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
