"""``drift_report``: per-feature drift tests with Benjamini-Hochberg control across features."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from haloscope.evaluators.drift.categorical import categorical_drift
from haloscope.evaluators.drift.embedding import embedding_drift
from haloscope.evaluators.drift.numeric import finite_values, numeric_drift
from scipy import stats

FeatureKind = Literal["numeric", "categorical", "embedding"]
DriftStatus = Literal["drift", "no_drift", "insufficient_data"]

DEFAULT_MIN_SAMPLES: dict[str, int] = {"numeric": 30, "categorical": 30, "embedding": 20}
DEFAULT_MIN_PSI = 0.1
_TEST_OF_KIND = {"numeric": "ks", "categorical": "chi2", "embedding": "mmd_permutation"}


@dataclass(frozen=True)
class FeatureDrift:
    """The drift verdict for one feature.

    ``p_value`` is the raw p-value of the kind's test (``test``), ``p_adjusted`` the
    Benjamini-Hochberg adjusted one; ``significant`` says whether the test rejects "same
    distribution" at the report's FDR level. ``status`` is ``drift`` when the shift is both
    significant and large enough (PSI >= ``min_psi`` for numeric and categorical features;
    significance alone for embeddings), ``insufficient_data`` (with ``message``) when either
    side has fewer than the minimum number of usable values.
    """

    name: str
    kind: FeatureKind
    status: DriftStatus
    test: str
    n_reference: int
    n_current: int
    p_value: float | None = None
    p_adjusted: float | None = None
    significant: bool = False
    statistics: dict[str, float] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True)
class DriftReport:
    """Per-feature drift results of one comparison."""

    features: dict[str, FeatureDrift]
    fdr: float

    @property
    def drifted(self) -> list[str]:
        """Names of the features whose status is ``drift``."""
        return [name for name, f in self.features.items() if f.status == "drift"]


def feature_kind(values: np.ndarray, force_categorical: bool = False) -> FeatureKind:
    """``embedding`` for 2-D arrays, ``numeric`` for int/float 1-D, else ``categorical``."""
    if values.ndim == 2:
        return "embedding"
    if values.ndim != 1:
        raise ValueError(f"feature arrays must be 1-D (or 2-D embeddings), got {values.ndim}-D")
    if not force_categorical and values.dtype.kind in "iuf":
        return "numeric"
    return "categorical"


def drift_report(
    reference: Mapping[str, np.ndarray],
    current: Mapping[str, np.ndarray],
    *,
    fdr: float = 0.05,
    categorical: Collection[str] = (),
    min_samples: Mapping[str, int] | None = None,
    min_psi: float = DEFAULT_MIN_PSI,
    bins: int = 10,
    permutations: int = 200,
    seed: int = 0,
) -> DriftReport:
    """Test every feature of ``reference`` against ``current`` and decide drift per feature.

    Feature kinds are inferred (see :func:`feature_kind`); name integer-coded features in
    ``categorical``. P-values of the features with enough data are adjusted together with
    Benjamini-Hochberg at false discovery rate ``fdr``. ``min_samples`` overrides the minimum
    number of usable values per side, by kind.
    """
    if set(reference) != set(current):
        raise ValueError(
            f"reference and current must have the same features; only in reference: "
            f"{sorted(set(reference) - set(current))}, only in current: "
            f"{sorted(set(current) - set(reference))}"
        )
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1), got {fdr}")
    minimum = {**DEFAULT_MIN_SAMPLES, **(min_samples or {})}
    names = list(reference)

    def test_one(name: str) -> FeatureDrift:
        return _test_feature(
            name,
            np.asarray(reference[name]),
            np.asarray(current[name]),
            force_categorical=name in categorical,
            minimum=minimum,
            bins=bins,
            permutations=permutations,
            seed=seed,
        )

    with ThreadPoolExecutor(max_workers=min(4, max(len(names), 1))) as pool:
        results = dict(zip(names, pool.map(test_one, names), strict=True))
    return DriftReport(_decide(results, fdr, min_psi), fdr)


def _test_feature(
    name: str,
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    force_categorical: bool,
    minimum: Mapping[str, int],
    bins: int,
    permutations: int,
    seed: int,
) -> FeatureDrift:
    kind = feature_kind(ref, force_categorical)
    if feature_kind(cur, force_categorical) != kind:
        raise ValueError(f"feature {name!r}: reference and current have different kinds")
    if kind == "numeric":
        ref, cur = finite_values(ref), finite_values(cur)
    base = FeatureDrift(name, kind, "no_drift", _TEST_OF_KIND[kind], len(ref), len(cur))
    need = minimum[kind]
    if min(len(ref), len(cur)) < need:
        message = (
            f"not enough data: {len(ref)} reference and {len(cur)} current values, "
            f"{need} needed on each side"
        )
        return dataclasses.replace(base, status="insufficient_data", message=message)
    if kind == "numeric":
        numeric = numeric_drift(ref, cur, bins=bins)
        p_value, values = numeric.ks_pvalue, dataclasses.asdict(numeric)
    elif kind == "categorical":
        categories = categorical_drift(ref, cur)
        p_value, values = categories.chi2_pvalue, dataclasses.asdict(categories)
    else:
        embedding = embedding_drift(ref, cur, permutations=permutations, seed=seed)
        p_value, values = embedding.mmd_pvalue, dataclasses.asdict(embedding)
    statistics = {key: float(value) for key, value in values.items()}
    return dataclasses.replace(base, p_value=p_value, statistics=statistics)


def _decide(
    results: dict[str, FeatureDrift], fdr: float, min_psi: float
) -> dict[str, FeatureDrift]:
    tested = [name for name, r in results.items() if r.p_value is not None]
    if not tested:
        return results
    adjusted = stats.false_discovery_control([results[n].p_value for n in tested], method="bh")
    decided = dict(results)
    for name, p_adj in zip(tested, adjusted, strict=True):
        result = results[name]
        significant = bool(p_adj <= fdr)
        large = result.kind == "embedding" or result.statistics["psi"] >= min_psi
        decided[name] = dataclasses.replace(
            result,
            p_adjusted=float(p_adj),
            significant=significant,
            status="drift" if significant and large else "no_drift",
        )
    return decided
