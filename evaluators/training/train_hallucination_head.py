"""Train the verdict head of ``hallucination.rag@2`` (the default hallucination detector).

One command, fixed seed, from a clean checkout (about 25 minutes on 2 CPU cores):

    .venv/bin/python evaluators/training/train_hallucination_head.py

It reads HaluEval QA training rows (``benchmarks/data/halueval/qa_train.jsonl``, never a dev
slice), adds the style-matched pairs of :mod:`augment`, renders every answer with the judge's
rubric exactly as the detector does, runs the packaged SmolLM2 judge once per answer to read
its last-token hidden state, fits an L2-regularised logistic regression on the standardised
states, and writes ``evaluators/haloscope/evaluators/heads/hallucination.rag-2.json`` with the
data's SHA-256, the model file and its hash, the seed and the training figures. Dev figures
come from ``benchmarks/halueval.py --write-cards``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))

from augment import (  # noqa: E402
    Pair,
    counterfactual_pairs,
    qa_pairs,
    span_pairs,
    swapped_pairs,
)
from haloscope.evaluators.calibration import fit_logistic  # noqa: E402
from haloscope.evaluators.hallucination import render_item  # noqa: E402
from haloscope.evaluators.hallucination_detector import (  # noqa: E402
    EXTRA_FEATURES,
    RagHallucinationDetector,
    head_features,
    judge_states,
)
from haloscope.evaluators.metrics import auroc, best_threshold, pairwise_accuracy  # noqa: E402
from haloscope.evaluators.results import EvalInput  # noqa: E402
from haloscope.evaluators.verdict_head import VerdictHead, head_path  # noqa: E402
from haloscope.inference import load_engine  # noqa: E402

DATA = REPO / "benchmarks" / "data" / "halueval" / "qa_train.jsonl"


def read_rows(path: Path, limit: int) -> tuple[list[dict[str, str]], str]:
    """The first ``limit`` rows and the SHA-256 of exactly those lines."""
    import json

    lines = path.read_text().splitlines()[:limit]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return [json.loads(line) for line in lines], digest


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checks(pairs: list[Pair]) -> tuple[list[EvalInput], np.ndarray]:
    """Each pair's faithful then hallucinated answer as one checked item; labels."""
    items = [
        EvalInput(input=pair.question, output=answer, contexts=(pair.knowledge,))
        for pair in pairs
        for answer in (pair.faithful, pair.hallucinated)
    ]
    return items, np.tile([False, True], len(pairs))


def pair_figures(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Pairwise accuracy (ties half), AUROC and accuracy at ``threshold``."""
    return {
        "pairs": int(len(scores) // 2),
        "pairwise": round(pairwise_accuracy(scores), 4),
        "auroc": round(auroc(scores, labels), 4),
        "accuracy": round(float(np.mean((scores >= threshold) == labels)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="HaluEval QA training rows")
    parser.add_argument("--rows", type=int, default=2000, help="training rows read")
    parser.add_argument("--swapped-rows", type=int, default=1000, help="rows for swapped pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layer", type=int, default=15, help="hidden layer the head reads")
    parser.add_argument("--l2", type=float, default=166.7, help="L2 penalty on the weights")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--states", type=Path, help="cache of extracted states (.npz)")
    parser.add_argument("--out", type=Path, default=head_path("hallucination.rag", "2"))
    args = parser.parse_args()

    rows, data_sha = read_rows(args.data, args.rows)
    pairs = qa_pairs(rows) + counterfactual_pairs(rows) + span_pairs(rows)
    pairs += swapped_pairs(rows[: args.swapped_rows], seed=args.seed)
    items, labels = checks(pairs)
    texts = [render_item(item, item.output) for item in items]
    kinds = np.repeat([p.kind for p in pairs], 2)
    print(
        f"{len(rows)} rows -> {len(pairs)} pairs: "
        + ", ".join(f"{k} {int(np.sum(kinds == k)) // 2}" for k in dict.fromkeys(kinds))
    )
    engine = load_engine("torch")
    model_file = Path(engine.source)
    cache = _load_cache(args.states, f"{model_file.name}:{args.layer}")
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    if missing:
        cache.update(zip(missing, _extract(engine, missing, args.layer, args.batch), strict=True))
        if args.states:
            _save_cache(args.states, f"{model_file.name}:{args.layer}", cache)
    features = head_features(np.stack([cache[t] for t in texts]), items)

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    weights, bias = fit_logistic((features - mean) / scale, labels, l2=args.l2)
    head = VerdictHead(args.layer, mean, scale, weights, bias, extra_features=EXTRA_FEATURES)
    scores = head.probability(features)
    threshold = best_threshold(scores, labels)
    figures = {"all": pair_figures(scores, labels, threshold)}
    for kind in dict.fromkeys(kinds):
        mask = kinds == kind
        figures[kind] = pair_figures(scores[mask], labels[mask], threshold)
    meta = {
        "model": model_file.name,
        "model_sha256": file_sha256(model_file),
        "data": str(args.data.relative_to(REPO))
        if args.data.is_relative_to(REPO)
        else str(args.data),
        "data_sha256": data_sha,
        "rows": len(rows),
        "seed": args.seed,
        "l2": args.l2,
        "rubric": f"{RagHallucinationDetector.name}@1 rubric",
        "train_figures": figures,
        "command": "evaluators/training/train_hallucination_head.py",
    }
    VerdictHead(args.layer, mean, scale, weights, bias, threshold, EXTRA_FEATURES, meta).save(
        args.out
    )
    for kind, fig in figures.items():
        print(f"  train {kind:<15} {fig}")
    print(f"threshold {threshold:.4f}; wrote {args.out}")


def _load_cache(path: Path | None, key: str) -> dict[str, np.ndarray]:
    """States extracted before, by rubric text (empty for another model or layer)."""
    if path is None or not path.exists():
        return {}
    cached = np.load(path)
    if str(cached["key"]) != key:
        return {}
    return dict(zip(cached["texts"].tolist(), cached["states"], strict=True))


def _save_cache(path: Path, key: str, cache: dict[str, np.ndarray]) -> None:
    texts = list(cache)
    states = np.stack([cache[t] for t in texts])
    np.savez_compressed(path, key=key, texts=np.array(texts), states=states)


def _extract(engine: object, texts: list[str], layer: int, batch: int) -> np.ndarray:
    """Hidden states for every text, in batches, with progress."""
    started, parts = time.perf_counter(), []
    for start in range(0, len(texts), batch):
        states, errors = judge_states(engine, texts[start : start + batch], layer)  # type: ignore[arg-type]
        failed = [e for e in errors if e]
        if failed:
            raise SystemExit(f"the judge failed on a training item: {failed[0]}")
        parts.append(states)
        done = start + len(states)
        rate = done / (time.perf_counter() - started)
        print(f"  {done}/{len(texts)} answers, {rate:.1f}/s", flush=True)
    return np.vstack(parts)


if __name__ == "__main__":
    main()
