"""Batch calls to the judge engine for a rubric: verdict probabilities and short reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from haloscope.evaluators.rubrics import REASON_SUFFIX, Rubric

if TYPE_CHECKING:
    from haloscope.inference import JudgeEngine


@dataclass(frozen=True)
class JudgeVerdict:
    """The probability of a rubric's ``positive`` choice for one item.

    ``choice_mass`` is how much of the model's next-token probability fell on the choices at
    all; ``error`` is set (probability ``None``) when the engine failed on this item.
    """

    probability: float | None
    choice_mass: float
    error: str | None = None


def judge_verdicts(
    engine: JudgeEngine, rubric: Rubric, item_texts: Sequence[str]
) -> list[JudgeVerdict]:
    """Score every item against ``rubric`` in one ``score_choices`` batch (shared prefix)."""
    prompts = [engine.chat_prompt(rubric.system, text) for text in item_texts]
    result = engine.score_choices(prompts, rubric.choices)
    return [
        JudgeVerdict(None, 0.0, s.error)
        if s.error
        else JudgeVerdict(s.probs[rubric.positive], s.choice_mass)
        for s in result.scores
    ]


def judge_texts(
    engine: JudgeEngine,
    rubric: Rubric,
    item_texts: Sequence[str],
    max_tokens: int,
    suffix: str = "",
) -> list[str | None]:
    """Greedy completions of the rubric for every item (``None`` where the engine failed)."""
    from haloscope.inference import SamplingParams

    prompts = [engine.chat_prompt(rubric.system, text + suffix) for text in item_texts]
    result = engine.generate(prompts, SamplingParams(max_tokens=max_tokens, stop=("\n\n",)))
    return [None if g.error else g.text.strip() for g in result.generations]


def judge_reasons(
    engine: JudgeEngine, rubric: Rubric, item_texts: Sequence[str], max_tokens: int
) -> list[str | None]:
    """A one-sentence justification per item, generated after the rubric's question."""
    return judge_texts(engine, rubric, item_texts, max_tokens, REASON_SUFFIX)
