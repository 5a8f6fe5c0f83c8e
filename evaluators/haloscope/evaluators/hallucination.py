"""LLM-as-judge hallucination evaluators: RAG answers, context-free answers, tool calls.

The judge's probability of "Yes, hallucinated" (one forward pass, no decoding) is mapped
through the evaluator version's stored Platt calibration and labelled at its threshold.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from haloscope.evaluators.base import Evaluator, Outcome
from haloscope.evaluators.calibration import Calibration, load_calibration
from haloscope.evaluators.judge import JudgeVerdict, judge_reasons, judge_verdicts
from haloscope.evaluators.registry import register
from haloscope.evaluators.results import EvalInput, ToolCall
from haloscope.evaluators.rubrics import (
    QA_HALLUCINATION_V1,
    RAG_HALLUCINATION_V1,
    TOOL_HALLUCINATION_V1,
    Rubric,
)

HALLUCINATED, FAITHFUL = "hallucinated", "faithful"


@dataclass(frozen=True)
class JudgeConfig:
    """``explain``: also generate a one-sentence reason (costs a short decode per item).
    ``calibrated``: apply the stored calibration (else raw probability, threshold 0.5).
    ``threshold``: override the decision threshold on the (calibrated) probability.
    ``max_context_chars``: contexts are cut to this many characters before prompting."""

    explain: bool = False
    max_reason_tokens: int = 48
    calibrated: bool = True
    threshold: float | None = None
    max_context_chars: int = 4000

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.max_reason_tokens < 1 or self.max_context_chars < 1:
            raise ValueError("max_reason_tokens and max_context_chars must be >= 1")


class HallucinationJudge(Evaluator):
    """Shared machinery: render the rubric per item, score it, calibrate, label, explain."""

    rubric: ClassVar[Rubric]
    config_class = JudgeConfig
    binary_labels = (FAITHFUL, HALLUCINATED)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = load_calibration(self.name, self.version) if self.config.calibrated else None
        self.calibration = stored or Calibration(meta={"source": "uncalibrated"})
        self.threshold = (
            self.config.threshold
            if self.config.threshold is not None
            else self.calibration.threshold
        )

    @abc.abstractmethod
    def item_text(self, item: EvalInput) -> str:
        """The rubric's per-item text for ``item``."""

    def precheck(self, item: EvalInput) -> Outcome | None:
        """A verdict reached without the judge, or None to ask it. Default: always ask."""
        return None

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [self.precheck(item) for item in items]
        pending = [i for i, o in enumerate(outcomes) if o is None]
        if pending:
            texts = [self.item_text(items[i]) for i in pending]
            engine = self.resources.engine
            verdicts = judge_verdicts(engine, self.rubric, texts)
            reasons: list[str | None] = [None] * len(texts)
            if self.config.explain:
                reasons = judge_reasons(engine, self.rubric, texts, self.config.max_reason_tokens)
            for i, verdict, reason in zip(pending, verdicts, reasons, strict=True):
                outcomes[i] = self._outcome(verdict, reason)
        return [o for o in outcomes if o is not None]

    def _outcome(self, verdict: JudgeVerdict, reason: str | None) -> Outcome:
        raw = verdict.probability
        if raw is None:
            return Outcome(None, None, error=verdict.error or "judge failed")
        probability = float(self.calibration.probability(np.array([raw]))[0])
        label = HALLUCINATED if probability >= self.threshold else FAITHFUL
        metrics = {
            "raw_probability": raw,
            "choice_mass": verdict.choice_mass,
            "threshold": self.threshold,
        }
        return Outcome(probability, label, reason, metrics=metrics)


@register
class RagHallucination(HallucinationJudge):
    """Is the answer unfaithful to the retrieved context?"""

    name = "hallucination.rag"
    version = "1"
    description = "LLM judge: answer not supported by, or contradicting, the provided context."
    rubric = RAG_HALLUCINATION_V1
    requires = ("output", "contexts")

    def item_text(self, item: EvalInput) -> str:
        return render_item(item, item.output, self.config.max_context_chars)


@register
class QaHallucination(HallucinationJudge):
    """Is the answer hallucinated with respect to the question, with no context given?"""

    name = "hallucination.qa"
    version = "1"
    description = "LLM judge: answer with invented or false facts (no context available)."
    rubric = QA_HALLUCINATION_V1
    requires = ("input", "output")

    def item_text(self, item: EvalInput) -> str:
        return self.rubric.render(question=item.input, answer=item.output)


@register
class ToolHallucination(HallucinationJudge):
    """Is a tool call inconsistent with its schema, or the answer with the tool's result?

    Arguments that are not JSON or that violate the declared schema are labelled
    hallucinated (score 1.0) without asking the judge; each violation is evidence.
    """

    name = "hallucination.tool"
    version = "1"
    description = "Tool call arguments violating the tool schema, or answer misstating its result."
    rubric = TOOL_HALLUCINATION_V1
    requires = ("tool",)

    def precheck(self, item: EvalInput) -> Outcome | None:
        assert item.tool is not None
        try:
            arguments = _arguments(item.tool)
        except ValueError as exc:
            return Outcome(1.0, HALLUCINATED, str(exc))
        if item.tool.schema is None:
            return None
        from haloscope.evaluators.checks import schema_violations
        from jsonschema import Draft202012Validator

        violations = schema_violations(Draft202012Validator(item.tool.schema), arguments)
        if not violations:
            return None
        reason = f"arguments violate the tool schema: {violations[0].text}"
        return Outcome(
            1.0, HALLUCINATED, reason, violations, {"schema_violations": len(violations)}
        )

    def item_text(self, item: EvalInput) -> str:
        tool = item.tool
        assert tool is not None
        return self.rubric.render(
            question=item.input or "(none)",
            tool=tool.name,
            schema=json.dumps(tool.schema) if tool.schema is not None else "(not given)",
            arguments=json.dumps(_arguments(tool)),
            result=(tool.result or "(not given)")[: self.config.max_context_chars],
            answer=item.output or "(none)",
        )


def render_item(item: EvalInput, answer: str, max_context_chars: int = 4000) -> str:
    """The RAG rubric's text for ``answer`` to ``item`` (contexts joined, then cut)."""
    context = "\n\n".join(item.contexts)[:max_context_chars]
    return RAG_HALLUCINATION_V1.render(
        context=context, question=item.input or "(none)", answer=answer
    )


def _arguments(tool: ToolCall) -> Mapping[str, Any] | Any:
    """The call's arguments as a JSON value (parsed when given as a string)."""
    if not isinstance(tool.arguments, str):
        return tool.arguments
    try:
        return json.loads(tool.arguments)
    except json.JSONDecodeError as exc:
        raise ValueError(f"tool arguments are not valid JSON: {exc}") from exc
