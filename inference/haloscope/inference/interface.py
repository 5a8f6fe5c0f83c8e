"""The judge-engine interface shared by every backend, with its prompt and result types."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from haloscope.inference.sampling import SamplingParams


class UnsupportedSignalError(RuntimeError):
    """The backend cannot provide a signal an evaluator asked for (hidden states, prompt
    logprobs); the message names the backend and what provides it."""


def refuse_hidden_states(hidden_layer: int | None, backend: str) -> None:
    """Raise :class:`UnsupportedSignalError` when a backend without hidden states is asked
    for them (``hidden_layer`` set)."""
    if hidden_layer is not None:
        raise UnsupportedSignalError(
            f"the {backend} backend exposes no hidden states; verdict heads run on the torch "
            "backend"
        )


@dataclass(frozen=True)
class JudgePrompt:
    """A judge prompt split into the shared ``prefix`` (the rubric) and a per-item ``suffix``.

    Backends process ``prefix + suffix``; the split lets them compute the prefix once. The
    prefix and suffix are tokenized separately, so put the split at a natural boundary
    (a newline, the end of a chat turn header). ``messages`` optionally carries the same
    prompt as chat messages for chat-only endpoints (the OpenAI backend's chat mode).
    """

    prefix: str
    suffix: str
    messages: tuple[dict[str, str], ...] | None = None

    @property
    def text(self) -> str:
        """The full prompt text."""
        return self.prefix + self.suffix


@dataclass
class EngineStats:
    """What one call cost. Fields a backend cannot observe are ``None``."""

    num_prompts: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    prefill_tokens: int = 0
    decode_tokens: int = 0
    wall_s: float = 0.0
    kv_blocks_total: int | None = None
    kv_blocks_used_peak: int | None = None
    kv_blocks_free: int | None = None
    preemptions: int = 0
    steps: int = 0

    @property
    def prefix_cache_hit_rate(self) -> float:
        """Share of prompt tokens whose K/V came from the prefix cache."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Tokens run through the model (prefill + decode) per second of wall time."""
        total = self.prefill_tokens + self.decode_tokens
        return total / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict including the derived rates (for logs and benchmarks)."""
        data: dict[str, float | int | None] = dict(vars(self))
        data["prefix_cache_hit_rate"] = self.prefix_cache_hit_rate
        data["tokens_per_s"] = self.tokens_per_s
        return data


@dataclass
class ChoiceScores:
    """Per prompt: probability of each choice, normalised over the choices' first tokens.

    ``choice_mass`` is the unnormalised probability the model put on those tokens together (a
    low value means the model wanted to say something else). ``hidden`` is the prompt's
    last-token hidden state when the call asked for one. ``error`` is set, and the other
    fields empty, when this item failed.
    """

    probs: dict[str, float] = field(default_factory=dict)
    choice_mass: float = 0.0
    error: str | None = None
    hidden: np.ndarray | None = None

    @property
    def best(self) -> str | None:
        """The most probable choice, or None for a failed item."""
        return max(self.probs, key=self.probs.__getitem__) if self.probs else None


@dataclass
class ScoreResult:
    """Result of :meth:`JudgeEngine.score_choices`."""

    scores: list[ChoiceScores]
    stats: EngineStats


@dataclass
class TokenScores:
    """Per prompt: the continuation's tokens and each one's log-probability given the prompt
    and the continuation tokens before it (teacher forcing, no decoding).

    ``offsets`` are each token's ``(start, end)`` character span in the continuation text.
    ``error`` is set, and the other fields empty, when this item failed.
    """

    tokens: list[str] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)
    error: str | None = None


@dataclass
class TokenScoreResult:
    """Result of :meth:`JudgeEngine.score_tokens`."""

    scores: list[TokenScores]
    stats: EngineStats


@dataclass
class Generation:
    """One generated completion; ``error`` is set (and the rest empty) when the item failed."""

    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[str, float]]] = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None


@dataclass
class GenerateResult:
    """Result of :meth:`JudgeEngine.generate`."""

    generations: list[Generation]
    stats: EngineStats


class JudgeEngine(abc.ABC):
    """A batch-oriented LLM judge: verdict probabilities without decoding, or short generations.

    Both calls take the whole batch at once so the backend can share the rubric prefix and
    batch the work. A bad item (e.g. longer than the context window) fails alone: its result
    carries ``error`` and the rest of the batch is computed.
    """

    @abc.abstractmethod
    def score_choices(
        self,
        prompts: Sequence[JudgePrompt],
        choices: Sequence[str],
        hidden_layer: int | None = None,
    ) -> ScoreResult:
        """Probability of each of ``choices`` as the next output, from one forward pass.

        ``hidden_layer`` also asks for each prompt's last-token residual stream after that
        many decoder layers (what a trained verdict head reads). Backends that cannot expose
        hidden states raise :class:`UnsupportedSignalError` when it is set.
        """

    @abc.abstractmethod
    def score_tokens(
        self, prompts: Sequence[JudgePrompt], continuations: Sequence[str]
    ) -> TokenScoreResult:
        """Log-probability of every token of ``continuations[i]`` following ``prompts[i]``.

        The continuation is tokenized on its own and appended to the prompt's tokens, so its
        token boundaries do not depend on the prompt. Items pair up by index.
        """

    @abc.abstractmethod
    def generate(self, prompts: Sequence[JudgePrompt], params: SamplingParams) -> GenerateResult:
        """Decode a completion for each prompt."""

    @abc.abstractmethod
    def chat_prompt(self, rubric: str, item: str) -> JudgePrompt:
        """A prompt with ``rubric`` as the system turn and ``item`` as the user turn."""

    def close(self) -> None:
        """Release resources (connections, GPU memory). The default holds none."""
        return None


def split_chat_prompt(
    render: Callable[[list[dict[str, str]]], str], rubric: str, item: str
) -> JudgePrompt:
    """Render a system+user chat and split it right before the user's text.

    ``render`` applies a chat template (with the generation prompt). The prefix covers the
    system turn and the user turn's header, so it is identical for every item.
    """
    marker = "\x00HALOSCOPE_ITEM\x00"
    messages = [{"role": "system", "content": rubric}, {"role": "user", "content": marker}]
    rendered = render(messages)
    if rendered.count(marker) != 1:
        raise ValueError("the chat template did not render the user message verbatim")
    prefix, rest = rendered.split(marker)
    return JudgePrompt(
        prefix=prefix,
        suffix=item + rest,
        messages=({"role": "system", "content": rubric}, {"role": "user", "content": item}),
    )
