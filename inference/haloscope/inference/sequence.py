"""A request's state while the engine works on it."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

import numpy as np
from haloscope.inference.sampling import ChoiceConstraint, SamplingParams

_ids = itertools.count()


class SequenceStatus(enum.Enum):
    """Where a sequence is in its life: queued, holding KV blocks, or done."""

    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class Sequence:
    """Token ids (prompt then generated), KV block table and per-request sampling state.

    ``num_computed_tokens`` counts tokens whose K/V are in the cache; tokens after it are
    prefilled (possibly over several steps) before the sequence decodes. A preempted
    sequence drops its blocks and recomputes from its cached prefix when readmitted.
    ``score_token_ids`` turns the request into a scoring request: at the end of the prompt the
    engine records the log-probabilities of those tokens and finishes without decoding.
    ``score_from`` turns it into a continuation-scoring request instead: the engine records
    the log-probability of every token from that position on (``token_logprobs``) and finishes
    once the prompt is computed.
    ``block_hashes`` memoises the chained prefix hash of each full block (tokens only grow).
    """

    token_ids: list[int]
    params: SamplingParams
    index: int = 0
    score_token_ids: tuple[int, ...] | None = None
    seq_id: int = field(default_factory=lambda: next(_ids))
    num_prompt_tokens: int = 0
    status: SequenceStatus = SequenceStatus.WAITING
    block_table: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    num_cached_tokens: int = 0
    num_hashed_blocks: int = 0
    block_hashes: list[int] = field(default_factory=list)
    output_logprobs: list[float] = field(default_factory=list)
    output_top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    score_logprobs: list[float] | None = None
    hidden: np.ndarray | None = None
    score_from: int | None = None
    token_logprobs: list[float] = field(default_factory=list)
    finish_reason: str | None = None
    stop_text: str | None = None
    constraint: ChoiceConstraint | None = None
    max_len: int = 0

    def __post_init__(self) -> None:
        self.num_prompt_tokens = len(self.token_ids)

    @property
    def first_logit_position(self) -> int:
        """The first position whose logits the engine reads: K/V before it may come from the
        prefix cache, from it on they are computed."""
        if self.score_from is not None:
            return self.score_from - 1
        return len(self.token_ids) - 1

    @property
    def output_token_ids(self) -> list[int]:
        """Generated tokens so far."""
        return self.token_ids[self.num_prompt_tokens :]

    @property
    def num_uncomputed(self) -> int:
        """Tokens still to run through the model before the next sampling step."""
        return len(self.token_ids) - self.num_computed_tokens

    @property
    def is_decoding(self) -> bool:
        """True once only the newest sampled token lacks K/V (prefill is complete)."""
        return len(self.token_ids) > self.num_prompt_tokens and self.num_uncomputed == 1
