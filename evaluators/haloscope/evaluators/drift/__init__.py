"""Drift statistics over arrays: numerical, categorical and embedding features."""

from haloscope.evaluators.drift.categorical import CategoricalDrift, categorical_drift
from haloscope.evaluators.drift.distributions import jensen_shannon, psi
from haloscope.evaluators.drift.embedding import EmbeddingDrift, embedding_drift
from haloscope.evaluators.drift.numeric import NumericDrift, numeric_drift
from haloscope.evaluators.drift.report import DriftReport, FeatureDrift, drift_report, feature_kind

__all__ = [
    "CategoricalDrift",
    "DriftReport",
    "EmbeddingDrift",
    "FeatureDrift",
    "NumericDrift",
    "categorical_drift",
    "drift_report",
    "embedding_drift",
    "feature_kind",
    "jensen_shannon",
    "numeric_drift",
    "psi",
]
