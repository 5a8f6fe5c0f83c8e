"""Fit the Platt calibration of the raw judge, ``hallucination.rag@1``, on HaluEval QA training
rows (never a dev slice), and store it beside the evaluator version:

    .venv/bin/python evaluators/training/calibrate_judge.py [--rows 200]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from augment import qa_pairs  # noqa: E402
from haloscope.evaluators import EvalInput, create_evaluator  # noqa: E402
from haloscope.evaluators.calibration import calibration_path, fit_calibration  # noqa: E402
from haloscope.evaluators.metrics import binary_metrics  # noqa: E402
from train_hallucination_head import DATA, REPO, read_rows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rows", type=int, default=200)
    args = parser.parse_args()
    rows, data_sha = read_rows(args.data, args.rows)
    items = [
        EvalInput(input=p.question, output=answer, contexts=(p.knowledge,))
        for p in qa_pairs(rows)
        for answer in (p.faithful, p.hallucinated)
    ]
    labels = np.tile([False, True], len(rows))
    judge = create_evaluator("hallucination.rag", version="1", config={"calibrated": False})
    raw = np.array([r.metrics["raw_probability"] for r in judge.evaluate(items)])
    calibration = fit_calibration(
        raw,
        labels,
        data=str(args.data.relative_to(REPO)),
        data_sha256=data_sha,
        rows=len(rows),
        model="SmolLM2-135M-Instruct (default torch engine)",
        command="evaluators/training/calibrate_judge.py",
    )
    fitted = binary_metrics(calibration.probability(raw), labels, calibration.threshold)
    calibration.meta["fit_metrics"] = asdict(fitted)
    path = calibration_path(judge.name, judge.version)
    calibration.save(path)
    print(f"{fitted}; wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
