"""RAG metrics without the ragas package: faithfulness, answer relevancy, context relevance,
context precision and context recall (definitions beside RAGAS's in docs/evaluators.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from haloscope.evaluators.base import Evaluator, Outcome
from haloscope.evaluators.checks import refusal_regex
from haloscope.evaluators.judge import judge_texts, judge_verdicts
from haloscope.evaluators.registry import register
from haloscope.evaluators.results import EvalInput, Evidence
from haloscope.evaluators.rubrics import CLAIM_DECOMPOSITION_V1, CLAIM_SUPPORT_V1
from haloscope.evaluators.support import SupportGrid, support_grids
from haloscope.evaluators.text_split import split_claims, split_sentences


def _check_unit(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class FaithfulnessConfig:
    """``claims``: split the answer with the sentence/clause splitter or ask the judge LLM.
    ``support``: score claims by embedding similarity x key-term coverage, by the judge's
    entailment probability, or by the mean of both. ``max_claim_tokens`` bounds the judge's
    claim list with ``claims: llm``. A claim is supported when its score reaches
    ``support_threshold``; the item is labelled faithful when the supported share reaches
    ``pass_threshold``."""

    claims: Literal["sentences", "llm"] = "sentences"
    support: Literal["embedding", "judge", "both"] = "embedding"
    support_threshold: float = 0.5
    pass_threshold: float = 1.0
    check_key_terms: bool = True
    max_context_chars: int = 4000
    max_claim_tokens: int = 128

    def __post_init__(self) -> None:
        _check_unit("support_threshold", self.support_threshold)
        _check_unit("pass_threshold", self.pass_threshold)
        if self.max_context_chars < 1 or self.max_claim_tokens < 1:
            raise ValueError("max_context_chars and max_claim_tokens must be >= 1")


@register
class Faithfulness(Evaluator):
    """Share of the answer's claims supported by the retrieved passages."""

    name = "faithfulness"
    version = "1"
    description = "Supported claims / claims, each claim checked against the context passages."
    config_class = FaithfulnessConfig
    requires = ("output", "contexts")
    binary_labels = ("unfaithful", "faithful")

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        claims = self._claims(items)
        grids = support_grids(
            self.resources.embedder,
            claims,
            [item.contexts for item in items],
            [item.input for item in items],
            self.config.check_key_terms,
        )
        support = [grid.claim_support() for grid in grids]
        errors: list[str | None] = [None] * len(items)
        if self.config.support != "embedding":
            judged, errors = self._judge_support(items, claims)
            support = [
                j if self.config.support == "judge" else (e + j) / 2
                for e, j in zip(support, judged, strict=True)
            ]
        return [
            Outcome(None, None, error=error) if error else self._outcome(grid, item_support)
            for grid, item_support, error in zip(grids, support, errors, strict=True)
        ]

    def _claims(self, items: Sequence[EvalInput]) -> list[list[str]]:
        split = [split_claims(item.output) or [item.output] for item in items]
        if self.config.claims == "sentences":
            return split
        texts = [CLAIM_DECOMPOSITION_V1.render(question=i.input, answer=i.output) for i in items]
        generated = judge_texts(
            self.resources.engine, CLAIM_DECOMPOSITION_V1, texts, self.config.max_claim_tokens
        )
        return [parse_claim_lines(g or "") or s for g, s in zip(generated, split, strict=True)]

    def _judge_support(
        self, items: Sequence[EvalInput], claims: list[list[str]]
    ) -> tuple[list[np.ndarray], list[str | None]]:
        """The judge's P(supported) per claim, and per item the first engine error if any."""
        texts = [
            CLAIM_SUPPORT_V1.render(
                context="\n\n".join(item.contexts)[: self.config.max_context_chars], claim=claim
            )
            for item, item_claims in zip(items, claims, strict=True)
            for claim in item_claims
        ]
        verdicts = judge_verdicts(self.resources.engine, CLAIM_SUPPORT_V1, texts)
        bounds = np.cumsum([0] + [len(c) for c in claims])
        support, errors = [], []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            item_verdicts = verdicts[a:b]
            failed = next((v.error for v in item_verdicts if v.probability is None), None)
            errors.append(f"judge failed on a claim: {failed}" if failed else None)
            support.append(np.array([v.probability or 0.0 for v in item_verdicts]))
        return support, errors

    def _outcome(self, grid: SupportGrid, support: np.ndarray) -> Outcome:
        supported = support >= self.config.support_threshold
        score = float(supported.mean()) if supported.size else 0.0
        evidence = []
        for c, claim in enumerate(grid.claims):
            p = grid.best_passage(c)
            evidence.append(
                Evidence(
                    "claim",
                    claim,
                    score=float(support[c]),
                    label="supported" if supported[c] else "unsupported",
                    reference=grid.best_sentence[c][p],
                )
            )
        unsupported = [e.text for e in evidence if e.label == "unsupported"]
        reason = f"{int(supported.sum())} of {len(grid.claims)} claims supported"
        if unsupported:
            reason += f"; unsupported: {unsupported[0]!r}"
        metrics = {
            "claims": float(len(grid.claims)),
            "supported": float(supported.sum()),
            "mean_support": float(support.mean()) if support.size else 0.0,
        }
        label = "faithful" if score >= self.config.pass_threshold else "unfaithful"
        return Outcome(score, label, reason, tuple(evidence), metrics)


def parse_claim_lines(text: str) -> list[str]:
    """Claims from an LLM's one-per-line list (bullets and numbering stripped)."""
    lines = (line.strip().lstrip("-*•").strip() for line in text.splitlines())
    stripped = (
        line.split(". ", 1)[1] if line[:1].isdigit() and ". " in line else line for line in lines
    )
    return [line for line in stripped if any(ch.isalnum() for ch in line)]


@dataclass(frozen=True)
class RelevanceConfig:
    """``threshold``: similarity at which a text counts as relevant to the question."""

    threshold: float = 0.5

    def __post_init__(self) -> None:
        _check_unit("threshold", self.threshold)


@register
class AnswerRelevancy(Evaluator):
    """Cosine similarity of the answer to the question; a refusal scores 0 (noncommittal)."""

    name = "answer_relevancy"
    version = "1"
    description = "How directly the answer addresses the question (embedding similarity)."
    config_class = RelevanceConfig
    requires = ("input", "output")
    binary_labels = ("irrelevant", "relevant")

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        embedder = self.resources.embedder
        questions = embedder.encode([item.input for item in items])
        answers = embedder.encode([item.output for item in items])
        similarity = np.clip(np.sum(questions * answers, axis=1), 0, 1)
        refusal = refusal_regex()
        outcomes = []
        for item, sim in zip(items, similarity, strict=True):
            noncommittal = refusal.search(item.output) is not None
            score = 0.0 if noncommittal else float(sim)
            label = "relevant" if score >= self.config.threshold else "irrelevant"
            reason = "the answer is a refusal" if noncommittal else None
            outcomes.append(Outcome(score, label, reason, metrics={"similarity": float(sim)}))
        return outcomes


@register
class ContextRelevance(Evaluator):
    """Share of context sentences relevant to the question; evidence per passage."""

    name = "context_relevance"
    version = "1"
    description = "Share of retrieved context sentences similar enough to the question."
    config_class = RelevanceConfig
    requires = ("input", "contexts")

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        sentences = [[split_sentences(p) or [p] for p in item.contexts] for item in items]
        flat = [s for item in sentences for passage in item for s in passage]
        embedder = self.resources.embedder
        questions = embedder.encode([item.input for item in items])
        vectors = embedder.encode(flat)
        outcomes, start = [], 0
        for question, item_sentences in zip(questions, sentences, strict=True):
            evidence, relevant, total = [], 0, 0
            for passage in item_sentences:
                sims = np.clip(vectors[start : start + len(passage)] @ question, 0, 1)
                start += len(passage)
                relevant += int(np.sum(sims >= self.config.threshold))
                total += len(passage)
                best = int(np.argmax(sims))
                is_relevant = sims[best] >= self.config.threshold
                evidence.append(
                    Evidence(
                        "passage",
                        passage[best],
                        score=float(sims[best]),
                        label="relevant" if is_relevant else "irrelevant",
                    )
                )
            score = relevant / total
            label = "relevant" if relevant else "irrelevant"
            outcomes.append(
                Outcome(
                    score,
                    label,
                    f"{relevant} of {total} sentences relevant",
                    tuple(evidence),
                    {"sentences": float(total)},
                )
            )
        return outcomes


@dataclass(frozen=True)
class ReferenceConfig:
    """``support_threshold``: support score at which a reference claim counts as covered."""

    support_threshold: float = 0.5
    check_key_terms: bool = True

    def __post_init__(self) -> None:
        _check_unit("support_threshold", self.support_threshold)


class _ReferenceMetric(Evaluator):
    """Base of the metrics comparing the passages with a reference answer's claims."""

    config_class = ReferenceConfig
    requires = ("contexts", "reference")

    def _grids(self, items: Sequence[EvalInput]) -> list[SupportGrid]:
        claims = [split_claims(i.reference or "") or [i.reference or ""] for i in items]
        return support_grids(
            self.resources.embedder,
            claims,
            [i.contexts for i in items],
            [i.input for i in items],
            self.config.check_key_terms,
        )


@register
class ContextPrecision(_ReferenceMetric):
    """Rank-aware share of useful passages: mean precision@k over the useful ranks.

    A passage is useful when it supports at least one claim of the reference answer.
    """

    name = "context_precision"
    version = "1"
    description = "Are the passages that support the reference ranked first? (needs reference)"

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        outcomes = []
        for grid in self._grids(items):
            best = grid.scores.max(axis=0)
            useful = best >= self.config.support_threshold
            precision_at_k = np.cumsum(useful) / np.arange(1, useful.size + 1)
            score = float(np.sum(precision_at_k * useful) / useful.sum()) if useful.any() else 0.0
            evidence = tuple(
                Evidence("passage", p, score=float(s), label="useful" if u else "not_useful")
                for p, s, u in zip(grid.passages, best, useful, strict=True)
            )
            reason = f"{int(useful.sum())} of {useful.size} passages support the reference"
            outcomes.append(Outcome(score, None, reason, evidence))
        return outcomes


@register
class ContextRecall(_ReferenceMetric):
    """Share of the reference answer's claims supported by some passage."""

    name = "context_recall"
    version = "1"
    description = "Share of the reference answer's claims found in the passages (needs reference)."

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        outcomes = []
        for grid in self._grids(items):
            support = grid.claim_support()
            covered = support >= self.config.support_threshold
            evidence = tuple(
                Evidence(
                    "claim",
                    claim,
                    score=float(support[c]),
                    label="covered" if covered[c] else "missing",
                    reference=grid.best_sentence[c][grid.best_passage(c)],
                )
                for c, claim in enumerate(grid.claims)
            )
            reason = f"{int(covered.sum())} of {covered.size} reference claims covered"
            outcomes.append(Outcome(float(covered.mean()), None, reason, evidence))
        return outcomes
