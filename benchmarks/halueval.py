"""Hallucination detectors on HaluEval QA: accuracy, AUROC, F1 and items/s, beside baselines.

Each HaluEval item gives one faithful and one hallucinated answer to the same knowledge and
question; every answer is one scored item (label: hallucinated). Detectors are calibrated on
the first half of the items and reported on the second. The dataset has artifacts (the
hallucinated answer is usually the longer one, and plain word overlap with the knowledge
separates most pairs), so a length-only and a word-overlap baseline are printed beside every
detector; no detector sees the answer's length.

    .venv/bin/python benchmarks/halueval.py [--items 40] [--fit]

``--items`` limits the judge (and the combination) to that many items of each half; ``--fit``
stores the judge's calibration with the evaluator version
(``evaluators/haloscope/evaluators/calibration/hallucination.rag-1.json``).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from haloscope.evaluators import EvalInput, Resources, create_evaluator
from haloscope.evaluators.calibration import (
    calibration_path,
    fit_calibration,
    fit_logistic,
    logit,
)
from haloscope.evaluators.metrics import best_threshold, binary_metrics

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "halueval_qa_dev.jsonl"
CHATGPT_ACCURACY = 0.6259  # HaluEval paper, ChatGPT recognising hallucinated QA answers
_WORD = re.compile(r"\w+")


def load_items(path: Path) -> tuple[list[EvalInput], np.ndarray]:
    """Two scored answers per HaluEval row (faithful, hallucinated) and their labels."""
    items, labels = [], []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        for answer, hallucinated in (
            (row["right_answer"], False),
            (row["hallucinated_answer"], True),
        ):
            items.append(
                EvalInput(input=row["question"], output=answer, contexts=(row["knowledge"],))
            )
            labels.append(hallucinated)
    return items, np.array(labels)


def length_baseline(items: list[EvalInput]) -> np.ndarray:
    """Baseline: longer answer = hallucinated (the dataset's main artifact)."""
    return np.array([len(i.output.split()) for i in items], dtype=float)


def overlap_baseline(items: list[EvalInput]) -> np.ndarray:
    """Baseline: share of the answer's words absent from the knowledge."""
    scores = []
    for item in items:
        words = _WORD.findall(item.output.lower())
        known = set(_WORD.findall(" ".join(item.contexts).lower()))
        scores.append(1 - sum(w in known for w in words) / max(len(words), 1))
    return np.array(scores)


def timed(score: Callable[[list[EvalInput]], np.ndarray], items: list[EvalInput]):
    """Scores and items/s."""
    start = time.perf_counter()
    scores = score(items)
    return scores, len(items) / (time.perf_counter() - start)


def report(name: str, fit_scores, fit_labels, test_scores, test_labels, rate: float | None):
    """Fit a threshold on the calibration half, print test-half metrics."""
    threshold = best_threshold(fit_scores, fit_labels)
    m = binary_metrics(test_scores, test_labels, threshold)
    rate_text = f"{rate:9.1f}" if rate is not None else "        -"
    versus = (m.accuracy - CHATGPT_ACCURACY) * 100
    print(
        f"  {name:<34} acc {m.accuracy:6.1%}  AUROC {m.auroc:.3f}  F1 {m.f1:.3f}  "
        f"items/s {rate_text}  vs ChatGPT {versus:+5.1f} pts"
    )
    return m


def baselines(fit: list[EvalInput], fit_y, test: list[EvalInput], test_y) -> None:
    for name, fn in (
        ("baseline: length only", length_baseline),
        ("baseline: word overlap", overlap_baseline),
    ):
        report(name, fn(fit), fit_y, fn(test), test_y, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--items", type=int, default=40, help="judge items per half")
    parser.add_argument("--fit", action="store_true", help="store the judge calibration")
    args = parser.parse_args()

    items, labels = load_items(args.data)
    half = (len(items) // 4) * 2  # keep both answers of a row in the same half
    fit_items, test_items = items[:half], items[half:]
    fit_y, test_y = labels[:half], labels[half:]
    resources = Resources()
    faithfulness = create_evaluator("faithfulness", resources=resources)

    def embedding_score(batch: list[EvalInput]) -> np.ndarray:
        results = faithfulness.evaluate(batch)
        return np.array([1 - r.metrics["mean_support"] for r in results])

    print(
        f"HaluEval QA: {len(items) // 2} rows, {len(items)} answers; calibrate on "
        f"{len(fit_items)}, report on {len(test_items)}"
    )
    embedding_score(fit_items[:8])  # load the embedding model outside the timings
    emb_fit, _ = timed(embedding_score, fit_items)
    emb_test, emb_rate = timed(embedding_score, test_items)
    print(f"\nall {len(test_items)} test answers:")
    baselines(fit_items, fit_y, test_items, test_y)
    report("embedding faithfulness", emb_fit, fit_y, emb_test, test_y, emb_rate)

    n = 2 * args.items
    judge = create_evaluator("hallucination.rag", config={"calibrated": False}, resources=resources)

    def judge_score(batch: list[EvalInput]) -> np.ndarray:
        return np.array([r.metrics["raw_probability"] for r in judge.evaluate(batch)])

    judge_score(fit_items[:2])  # load the engine outside the timings
    j_fit, _ = timed(judge_score, fit_items[:n])
    j_test, j_rate = timed(judge_score, test_items[:n])
    calibration = fit_calibration(
        j_fit,
        fit_y[:n],
        dataset="halueval_qa_dev",
        rows=f"first {args.items} rows",
        model="SmolLM2-135M-Instruct (default torch engine)",
    )
    fitted = binary_metrics(calibration.probability(j_fit), fit_y[:n], calibration.threshold)
    calibration.meta["fit_metrics"] = asdict(fitted)
    combo_x_fit = np.column_stack([logit(j_fit), emb_fit[:n]])
    combo_x_test = np.column_stack([logit(j_test), emb_test[:n]])
    weights, intercept = fit_logistic(combo_x_fit, fit_y[:n])
    combo_fit, combo_test = combo_x_fit @ weights + intercept, combo_x_test @ weights + intercept

    print(
        f"\nfirst {n} test answers (judge subset; calibrated on the first {n} of the other half):"
    )
    baselines(fit_items[:n], fit_y[:n], test_items[:n], test_y[:n])
    report("embedding faithfulness", emb_fit[:n], fit_y[:n], emb_test[:n], test_y[:n], emb_rate)
    report(
        "judge verdict (SmolLM2-135M)",
        calibration.probability(j_fit),
        fit_y[:n],
        calibration.probability(j_test),
        test_y[:n],
        j_rate,
    )
    combo_rate = 1 / (1 / j_rate + 1 / emb_rate)
    report("judge + embedding (logistic)", combo_fit, fit_y[:n], combo_test, test_y[:n], combo_rate)
    print(f"\nHaluEval paper, ChatGPT: {CHATGPT_ACCURACY:.2%} accuracy")
    print(
        f"judge calibration: slope {calibration.slope:.3f} intercept {calibration.intercept:.3f} "
        f"threshold {calibration.threshold:.3f}"
    )
    if args.fit:
        path = calibration_path(judge.name, judge.version)
        calibration.save(path)
        print(f"stored {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
