"""Sampling parameters and next-token selection: greedy, temperature, top-p, seeds, choices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

MAX_TOP_LOGPROBS = 20


@dataclass(frozen=True)
class SamplingParams:
    """How to decode one request.

    ``temperature`` 0 is greedy. ``seed`` makes sampling reproducible per prompt (prompt ``i``
    of a call uses ``seed + i``, so results do not depend on batch composition). Generation
    stops at EOS, at ``max_tokens``, or at the first ``stop`` string (excluded from the text).
    ``choices`` constrains the output to exactly one of the given strings (token-level trie).
    ``top_logprobs`` asks for that many most likely alternatives at every generated position.
    """

    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    top_logprobs: int = 0

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 <= self.top_logprobs <= MAX_TOP_LOGPROBS:
            raise ValueError(f"top_logprobs must be in [0, {MAX_TOP_LOGPROBS}]")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        if self.choices is not None and not self.choices:
            raise ValueError("choices, when given, must not be empty")


class ChoiceConstraint:
    """Restricts decoding to one of a fixed set of token sequences (a trie walk)."""

    def __init__(self, choice_token_ids: Sequence[Sequence[int]]) -> None:
        if any(len(ids) == 0 for ids in choice_token_ids):
            raise ValueError("every choice must tokenize to at least one token")
        self._choices = [tuple(ids) for ids in choice_token_ids]
        self._generated: list[int] = []

    def allowed_tokens(self) -> list[int]:
        """Token ids that keep the output a prefix of some choice."""
        n = len(self._generated)
        prefix = tuple(self._generated)
        return sorted({c[n] for c in self._choices if len(c) > n and c[:n] == prefix})

    def advance(self, token_id: int) -> bool:
        """Record ``token_id``; True once the output equals a complete choice."""
        self._generated.append(token_id)
        return tuple(self._generated) in self._choices


def select_tokens(
    logits: torch.Tensor,
    params: Sequence[SamplingParams],
    generators: Sequence[torch.Generator | None],
    allowed: Sequence[list[int] | None],
) -> tuple[list[int], torch.Tensor]:
    """Pick one token per row of ``logits``; also return the rows' log-softmax (unprocessed)."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    chosen: list[int] = []
    for row, p, generator, allow in zip(logprobs, params, generators, allowed, strict=True):
        if allow is not None:
            mask = torch.full_like(row, float("-inf"))
            mask[allow] = 0.0
            row = row + mask
        if p.temperature == 0:
            chosen.append(int(torch.argmax(row)))
            continue
        probs = torch.softmax(row / p.temperature, dim=-1)
        if p.top_p < 1:
            probs = _top_p_filter(probs, p.top_p)
        chosen.append(int(torch.multinomial(probs, 1, generator=generator)))
    return chosen, logprobs


def _top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose mass reaches ``top_p``."""
    sorted_probs, order = torch.sort(probs, descending=True)
    before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    sorted_probs[before >= top_p] = 0.0
    kept = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return kept / kept.sum()
