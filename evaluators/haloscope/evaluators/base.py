"""The evaluator base class and the shared resources (judge engine, embedder) it may use."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from haloscope.evaluators.config import build_config, config_json_schema
from haloscope.evaluators.results import EvalInput, EvalResult, Evidence

if TYPE_CHECKING:
    from haloscope.evaluators.embeddings import Embedder
    from haloscope.inference import JudgeEngine


class Resources:
    """Models shared by evaluators, loaded on first use unless given.

    Pass an engine (any :class:`~haloscope.inference.JudgeEngine` backend) or an embedder to
    reuse one across evaluators; otherwise they are loaded lazily: the engine from ``backend``,
    ``model`` and ``engine_options`` (default: the torch engine with SmolLM2-135M-Instruct),
    the embedder from the packaged all-MiniLM-L6-v2. Safe to share between threads: each model
    is loaded once, by the first caller, while the others wait (concurrent first loads raced
    in transformers' lazy imports and failed judge items).
    """

    def __init__(
        self,
        engine: JudgeEngine | None = None,
        embedder: Embedder | None = None,
        *,
        backend: str = "torch",
        model: str | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ):
        self._engine = engine
        self._embedder = embedder
        self._backend = backend
        self._model = model
        self._engine_options = dict(engine_options or {})
        self._loading = threading.Lock()

    @property
    def engine(self) -> JudgeEngine:
        """The judge engine: ``load_engine(backend, model, **engine_options)`` on first use
        (default: the torch engine with the packaged SmolLM2)."""
        if self._engine is None:
            with self._loading:
                if self._engine is None:
                    from haloscope.inference import load_engine

                    self._engine = load_engine(self._backend, self._model, **self._engine_options)
        return self._engine

    @property
    def embedder(self) -> Embedder:
        """The sentence embedder (default: the packaged all-MiniLM-L6-v2)."""
        if self._embedder is None:
            with self._loading:
                if self._embedder is None:
                    from haloscope.evaluators.embeddings import Embedder

                    self._embedder = Embedder.default()
        return self._embedder


@dataclass(frozen=True)
class Outcome:
    """What an evaluator decides for one item; the base class adds identity and latency."""

    score: float | None
    label: str | None
    reason: str | None = None
    evidence: tuple[Evidence, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class NoConfig:
    """Configuration of an evaluator that takes none."""


class Evaluator(abc.ABC):
    """Scores batches of :class:`EvalInput` into :class:`EvalResult` records.

    Subclasses set ``name``, ``version``, ``description``, ``config_class`` (a frozen
    dataclass) and ``requires`` (the :class:`EvalInput` fields that must be non-empty), and
    implement :meth:`score_batch`. Items missing a required field get an error result without
    reaching :meth:`score_batch`.

    An evaluator that decides between two classes sets ``binary_labels`` to its
    ``(negative, positive)`` labels: its score is the probability (or degree) of the positive
    class and a score at or above its threshold is labelled positive. Agreement with people
    and project recalibration (``haloscope.platform.feedback``) read it.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type] = NoConfig
    requires: ClassVar[tuple[str, ...]] = ("output",)
    binary_labels: ClassVar[tuple[str, str] | None] = None

    def __init__(
        self, config: Mapping[str, Any] | None = None, resources: Resources | None = None
    ) -> None:
        self.config = build_config(self.config_class, config, self.key)
        self.resources = resources or Resources()

    @property
    def key(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """JSON Schema of this evaluator's configuration."""
        return config_json_schema(cls.config_class)

    @abc.abstractmethod
    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        """One outcome per item, in order; items are already checked for required fields."""

    def evaluate(self, items: Sequence[EvalInput]) -> list[EvalResult]:
        """Score a batch; each result carries its share of the batch's wall time."""
        started = time.perf_counter()
        missing = [self._missing_fields(item) for item in items]
        valid = [item for item, miss in zip(items, missing, strict=True) if not miss]
        outcomes = iter(self.score_batch(valid) if valid else [])
        latency_ms = (time.perf_counter() - started) * 1000 / max(len(items), 1)
        results = []
        for miss in missing:
            if miss:
                outcome = Outcome(None, None, error=f"item lacks required field(s): {miss}")
            else:
                outcome = next(outcomes)
            results.append(self._result(outcome, latency_ms))
        return results

    def evaluate_one(self, item: EvalInput) -> EvalResult:
        """Score a single item (a batch of one)."""
        return self.evaluate([item])[0]

    def _missing_fields(self, item: EvalInput) -> str:
        return ", ".join(f for f in self.requires if not getattr(item, f))

    def _result(self, outcome: Outcome, latency_ms: float) -> EvalResult:
        return EvalResult(
            evaluator=self.name,
            version=self.version,
            score=outcome.score,
            label=outcome.label,
            reason=outcome.reason,
            evidence=outcome.evidence,
            metrics=dict(outcome.metrics),
            latency_ms=latency_ms,
            error=outcome.error,
        )
