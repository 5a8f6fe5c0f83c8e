"""Judge backend on an embedded ``vllm.LLM`` (GPU): PagedAttention and automatic prefix caching."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from haloscope.inference.interface import (
    ChoiceScores,
    EngineStats,
    GenerateResult,
    Generation,
    JudgeEngine,
    JudgePrompt,
    ScoreResult,
    TokenScoreResult,
    TokenScores,
    refuse_hidden_states,
    split_chat_prompt,
)
from haloscope.inference.sampling import MAX_TOP_LOGPROBS, SamplingParams


class VllmJudgeEngine(JudgeEngine):
    """Wraps ``vllm.LLM(model, enable_prefix_caching=True, **options)``; vllm is imported lazily.

    ``score_choices`` runs one decoding step with ``logprobs=20`` and reads the choices' first
    tokens from it; a choice outside the top 20 gets probability 0 before normalisation.
    """

    def __init__(self, model: str, **options: Any) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise ImportError(
                "the vllm backend needs the 'vllm' package (pip install 'haloscope[vllm]') "
                "and a CUDA GPU"
            ) from exc
        self._vllm = vllm
        options.setdefault("enable_prefix_caching", True)
        self.llm = vllm.LLM(model=model, **options)
        self.tokenizer = self.llm.get_tokenizer()

    def chat_prompt(self, rubric: str, item: str) -> JudgePrompt:
        """Rubric as system turn, item as user turn, with the model's chat template."""

        def render(messages: list[dict[str, str]]) -> str:
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )

        return split_chat_prompt(render, rubric, item)

    def score_choices(
        self,
        prompts: Sequence[JudgePrompt],
        choices: Sequence[str],
        hidden_layer: int | None = None,
    ) -> ScoreResult:
        """Choice probabilities from the first token's top-20 log-probabilities."""
        refuse_hidden_states(hidden_layer, "vllm")
        first = [self.tokenizer.encode(c, add_special_tokens=False)[:1] for c in choices]
        if not all(first) or len({f[0] for f in first}) != len(first):
            raise ValueError(f"choices {list(choices)!r} must start with distinct tokens")
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, logprobs=MAX_TOP_LOGPROBS)
        outputs, stats = self._run(prompts, params)
        scores = []
        for output in outputs:
            if isinstance(output, str):
                scores.append(ChoiceScores(error=output))
                continue
            top = output.outputs[0].logprobs[0]
            mass = {
                c: math.exp(top[f[0]].logprob) if f[0] in top else 0.0
                for c, f in zip(choices, first, strict=True)
            }
            total = sum(mass.values())
            if total == 0:
                scores.append(ChoiceScores(error="no choice among the top-20 tokens"))
            else:
                scores.append(ChoiceScores({c: m / total for c, m in mass.items()}, total))
        return ScoreResult(scores, stats)

    def score_tokens(
        self, prompts: Sequence[JudgePrompt], continuations: Sequence[str]
    ) -> TokenScoreResult:
        """Continuation logprobs from vLLM's ``prompt_logprobs`` over prompt + continuation
        tokens (the continuation tokenized on its own, as the torch engine does)."""
        if len(prompts) != len(continuations):
            raise ValueError(
                f"{len(prompts)} prompts but {len(continuations)} continuations; pair them up"
            )
        encoded = [
            self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            for text in continuations
        ]
        prompt_ids = [self.tokenizer.encode(p.text, add_special_tokens=False) for p in prompts]
        token_lists = [
            ids + list(e["input_ids"]) for ids, e in zip(prompt_ids, encoded, strict=True)
        ]
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outputs, stats = self._run_tokens(token_lists, params)
        scores = []
        for output, ids, e in zip(outputs, prompt_ids, encoded, strict=True):
            continuation = list(e["input_ids"])
            if isinstance(output, str):
                scores.append(TokenScores(error=output))
                continue
            if not continuation:
                scores.append(TokenScores(error="empty continuation"))
                continue
            steps = output.prompt_logprobs[len(ids) :]
            scores.append(
                TokenScores(
                    tokens=[self.tokenizer.decode([t]) for t in continuation],
                    logprobs=[step[t].logprob for step, t in zip(steps, continuation, strict=True)],
                    offsets=[tuple(span) for span in e["offset_mapping"]],
                )
            )
        return TokenScoreResult(scores, stats)

    def generate(self, prompts: Sequence[JudgePrompt], params: SamplingParams) -> GenerateResult:
        """Decode with vLLM's sampler (``choices`` map to guided decoding)."""
        options: dict[str, Any] = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "stop": list(params.stop) or None,
            "logprobs": max(params.top_logprobs, 1),
        }
        if params.choices is not None:
            guided = self._vllm.sampling_params.GuidedDecodingParams(choice=list(params.choices))
            options["guided_decoding"] = guided
        outputs, stats = self._run(prompts, self._vllm.SamplingParams(**options))
        generations = []
        for output in outputs:
            if isinstance(output, str):
                generations.append(Generation(error=output))
                continue
            completion = output.outputs[0]
            steps = completion.logprobs or []
            generations.append(
                Generation(
                    text=completion.text,
                    token_ids=list(completion.token_ids),
                    logprobs=[
                        step[t].logprob
                        for step, t in zip(steps, completion.token_ids, strict=False)
                    ],
                    top_logprobs=[
                        [(lp.decoded_token or "", lp.logprob) for lp in step.values()][
                            : params.top_logprobs
                        ]
                        for step in steps
                    ]
                    if params.top_logprobs
                    else [],
                    finish_reason=completion.finish_reason,
                )
            )
        stats.decode_tokens = sum(len(g.token_ids) for g in generations)
        return GenerateResult(generations, stats)

    def _run(self, prompts: Sequence[JudgePrompt], params: Any) -> tuple[list[Any], EngineStats]:
        """Generate for the prompts that fit the context window; others get an error string."""
        return self._run_tokens(
            [self.tokenizer.encode(p.text, add_special_tokens=False) for p in prompts], params
        )

    def _run_tokens(
        self, token_lists: Sequence[list[int]], params: Any
    ) -> tuple[list[Any], EngineStats]:
        """Generate for the token lists that fit the context window; others get an error."""
        start = time.perf_counter()
        limit = self.llm.llm_engine.model_config.max_model_len
        valid = [i for i, ids in enumerate(token_lists) if len(ids) < limit]
        results: list[Any] = [
            f"prompt has {len(ids)} tokens; the context window is {limit}" for ids in token_lists
        ]
        if valid:
            inputs = [{"prompt_token_ids": token_lists[i]} for i in valid]
            for i, output in zip(
                valid, self.llm.generate(inputs, params, use_tqdm=False), strict=True
            ):
                results[i] = output
        stats = EngineStats(num_prompts=len(token_lists))
        for output in results:
            if isinstance(output, str):
                continue
            stats.prompt_tokens += len(output.prompt_token_ids)
            cached = getattr(output, "num_cached_tokens", 0) or 0
            stats.cached_tokens += cached
            stats.prefill_tokens += len(output.prompt_token_ids) - cached
        stats.wall_s = time.perf_counter() - start
        return results, stats
