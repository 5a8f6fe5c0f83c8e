"""Pure scoring for Haloscope: data in, typed result records out; no store access.

Evaluators are looked up by name and version (:func:`create_evaluator`), take batches of
:class:`EvalInput` and return :class:`EvalResult` records. Drift statistics live in
:mod:`haloscope.evaluators.drift`.
"""

from haloscope.evaluators import (  # noqa: F401  (registration)
    checks,
    hallucination,
    hallucination_detector,
    rag,
)
from haloscope.evaluators.base import Evaluator, Outcome, Resources
from haloscope.evaluators.calibration import Calibration, fit_calibration, load_calibration
from haloscope.evaluators.config import ConfigError
from haloscope.evaluators.registry import (
    EvaluatorSpec,
    UnknownEvaluatorError,
    create_evaluator,
    evaluator_class,
    list_evaluators,
    register,
)
from haloscope.evaluators.results import EvalInput, EvalResult, Evidence, ToolCall

__all__ = [
    "Calibration",
    "ConfigError",
    "EvalInput",
    "EvalResult",
    "Evaluator",
    "EvaluatorSpec",
    "Evidence",
    "Outcome",
    "Resources",
    "ToolCall",
    "UnknownEvaluatorError",
    "create_evaluator",
    "evaluator_class",
    "fit_calibration",
    "list_evaluators",
    "load_calibration",
    "register",
]
