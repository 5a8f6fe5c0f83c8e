"""The default hallucination detector: the judge's hidden state read by a trained verdict head.

``hallucination.rag@2`` splits the answer into claims, picks for each claim the passages most
similar to it, renders the raw judge's rubric (``hallucination.rag@1``) for that claim and
window, runs it through the judge model once, and reads the residual stream at the rubric's
last token with a logistic head trained on labelled answers
(:mod:`haloscope.evaluators.verdict_head`). The answer is as hallucinated as its least
supported claim; the evidence names each claim, its probability and the context sentence it
was checked against.

Where the engine cannot expose hidden states (the ``vllm`` and ``openai`` backends) or runs
another model than the head was trained for, the detector falls back to the judge's own
P(Yes) labelled at 0.5, and says so in ``metrics["head"]`` (0) and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from haloscope.evaluators.base import Evaluator, Outcome
from haloscope.evaluators.hallucination import FAITHFUL, HALLUCINATED, render_item
from haloscope.evaluators.registry import register
from haloscope.evaluators.results import EvalInput, Evidence
from haloscope.evaluators.rubrics import RAG_HALLUCINATION_V1
from haloscope.evaluators.support import support_grids
from haloscope.evaluators.text_split import split_claims, unsupported_numbers
from haloscope.evaluators.verdict_head import VerdictHead, load_head

if TYPE_CHECKING:
    from haloscope.inference import JudgeEngine


@dataclass(frozen=True)
class DetectorConfig:
    """``threshold``: override the head's decision threshold on P(hallucinated).
    ``window_chars``: each claim is checked against the passages most similar to it, cut to
    this many characters (a long passage gives its most similar sentences)."""

    threshold: float | None = None
    window_chars: int = 1500

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.window_chars < 100:
            raise ValueError("window_chars must be >= 100")


@dataclass(frozen=True)
class Verdicts:
    """Per prompt: P(hallucinated) (None where the engine failed) and the engine's error."""

    probabilities: list[float | None]
    errors: list[str | None]
    from_head: bool


@register
class RagHallucinationDetector(Evaluator):
    """Is the answer unfaithful to the retrieved context? (trained head on the judge's state)

    The answer is split into claims; each claim is checked against the passages most similar
    to it (all-MiniLM-L6-v2), so an unrelated retrieved passage does not blur the verdict; the
    answer's probability of being hallucinated is its least supported claim's.
    """

    name = "hallucination.rag"
    version = "2"
    description = (
        "Default detector: each claim checked against its closest passages by a verdict head "
        "trained on the judge's hidden state; falls back to the judge's P(Yes) without a head."
    )
    config_class = DetectorConfig
    requires = ("output", "contexts")
    binary_labels = (FAITHFUL, HALLUCINATED)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.head: VerdictHead = load_head(self.name, self.version)

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        grids = support_grids(
            self.resources.embedder,
            [split_claims(item.output) or [item.output] for item in items],
            [item.contexts for item in items],
            [item.input for item in items],
        )
        checks, owners = [], []
        for index, (item, grid) in enumerate(zip(items, grids, strict=True)):
            for claim_index, claim in enumerate(grid.claims):
                window = grid.context_window(claim_index, self.config.window_chars)
                checks.append(EvalInput(input=item.input, output=claim, contexts=(window,)))
                owners.append(index)
        verdicts = self._verdicts(checks)
        threshold = self.config.threshold
        if threshold is None:
            threshold = self.head.threshold if verdicts.from_head else 0.5
        per_item: list[list[tuple[float | None, str | None]]] = [[] for _ in items]
        for owner, probability, error in zip(
            owners, verdicts.probabilities, verdicts.errors, strict=True
        ):
            per_item[owner].append((probability, error))
        outcomes = []
        for grid, claims in zip(grids, per_item, strict=True):
            error = next((e or "judge failed" for p, e in claims if p is None), None)
            if error is not None:
                outcomes.append(Outcome(None, None, error=error))
                continue
            evidence = tuple(
                Evidence(
                    "claim",
                    claim,
                    score=p,
                    label="unsupported" if p >= threshold else "supported",
                    reference=grid.best_sentence[c][grid.best_passage(c)],
                )
                for c, (claim, (p, _)) in enumerate(zip(grid.claims, claims, strict=True))
            )
            worst = max(p for p, _ in claims)
            outcomes.append(self._outcome(worst, threshold, evidence, verdicts.from_head))
        return outcomes

    def _verdicts(self, checks: list[EvalInput]) -> Verdicts:
        """Per claim (its window as the one context): head probabilities where the engine runs
        the head's model, else the judge's P(Yes)."""
        engine = self.resources.engine
        texts = [render_item(check, check.output) for check in checks]
        if _runs_model(engine, self.head.meta.get("model", "")):
            states, errors = judge_states(engine, texts, self.head.layer)
            probabilities = self.head.probability(head_features(states, checks)).tolist()
            return Verdicts(
                [None if e else p for p, e in zip(probabilities, errors, strict=True)],
                errors,
                from_head=True,
            )
        rubric = RAG_HALLUCINATION_V1
        prompts = [engine.chat_prompt(rubric.system, text) for text in texts]
        scores = engine.score_choices(prompts, rubric.choices).scores
        return Verdicts(
            [None if s.error else s.probs[rubric.positive] for s in scores],
            [s.error for s in scores],
            from_head=False,
        )

    @staticmethod
    def _outcome(
        probability: float, threshold: float, evidence: tuple[Evidence, ...], from_head: bool
    ) -> Outcome:
        label = HALLUCINATED if probability >= threshold else FAITHFUL
        if label == HALLUCINATED:
            worst = max(evidence, key=lambda e: e.score or 0.0)
            reason = f"not supported: {worst.text!r}; closest context: {worst.reference!r}"
        else:
            reason = f"all {len(evidence)} claim(s) supported by the context"
        if not from_head:
            reason += " (judge P(Yes): this backend or model has no trained head)"
        metrics = {"threshold": threshold, "claims": float(len(evidence)), "head": float(from_head)}
        return Outcome(probability, label, reason, evidence, metrics)


EXTRA_FEATURES = ("unsupported_number",)


def head_features(states: np.ndarray, checks: Sequence[EvalInput]) -> np.ndarray:
    """What the verdict head reads per checked answer: the judge's hidden state, then
    whether the answer states a number that neither its context nor the question holds."""
    numbers = [
        float(bool(unsupported_numbers(c.output, "\n".join(c.contexts), c.input))) for c in checks
    ]
    return np.hstack([states, np.array(numbers)[:, None]])


def judge_states(
    engine: JudgeEngine, texts: Sequence[str], layer: int
) -> tuple[np.ndarray, list[str | None]]:
    """The judge's last-token hidden states after ``layer`` layers for rubric texts (rows of
    zeros where the engine failed) and the per-text errors: what a verdict head reads, at
    scoring time and in training alike."""
    rubric = RAG_HALLUCINATION_V1
    prompts = [engine.chat_prompt(rubric.system, text) for text in texts]
    result = engine.score_choices(prompts, rubric.choices, layer)
    hidden = [s.hidden for s in result.scores]
    width = next((h.shape[0] for h in hidden if h is not None), 0)
    states = np.zeros((len(texts), width))
    for row, vector in enumerate(hidden):
        if vector is not None:
            states[row] = vector
    return states, [s.error for s in result.scores]


def _runs_model(engine: JudgeEngine, model: str) -> bool:
    """Whether ``engine`` is the torch engine running the model file the head was trained on."""
    source = getattr(engine, "source", None)
    return bool(model) and source is not None and Path(source).name == model
