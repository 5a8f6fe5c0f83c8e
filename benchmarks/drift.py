"""Wall time of a full drift report over 1M rows x 10 features (target < 5 s).

The baseline computes the same numerical statistics with one ``scipy.stats`` call each
(``ks_2samp``, ``wasserstein_distance``) plus PSI/Jensen-Shannon on ``np.quantile`` bins and
``np.histogram``, feature by feature; the ratio is printed.

    .venv/bin/python benchmarks/drift.py [--rows 1000000] [--features 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from haloscope.evaluators.drift import drift_report, jensen_shannon, psi
from scipy import stats


def make_data(rows: int, features: int, seed: int = 0):
    """Reference and current samples; every other feature shifted by 0.05 to 0.45 std."""
    rng = np.random.default_rng(seed)
    reference = {f"f{i}": rng.normal(size=rows) for i in range(features)}
    current = {f"f{i}": rng.normal(0.05 * i * (i % 2), size=rows) for i in range(features)}
    return reference, current


def scipy_baseline(reference: dict, current: dict) -> dict:
    """The same statistics, one scipy call per statistic and feature."""
    out = {}
    for name, ref in reference.items():
        cur = current[name]
        edges = np.quantile(ref, np.linspace(0, 1, 11))
        edges[0], edges[-1] = -np.inf, np.inf
        ref_counts, cur_counts = np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]
        out[name] = (
            stats.ks_2samp(ref, cur, method="asymp").pvalue,
            stats.wasserstein_distance(ref, cur),
            psi(ref_counts, cur_counts),
            jensen_shannon(ref_counts, cur_counts),
        )
    return out


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reference, current = make_data(args.rows, args.features)
    report = drift_report(reference, current)
    ours = median_time(lambda: drift_report(reference, current), args.repeats)
    baseline = median_time(lambda: scipy_baseline(reference, current), args.repeats)
    print(f"drift_report, {args.rows:,} rows x {args.features} features (reference and current)")
    print(f"  haloscope drift_report    median {ours:6.2f} s  (target < 5 s)")
    print(f"  scipy one-call baseline   median {baseline:6.2f} s  ratio {baseline / ours:.2f}x")
    print(f"  drifted features: {report.drifted}")


if __name__ == "__main__":
    main()
