"""The vLLM backend on a real GPU; skipped, with the reason, where CUDA or vllm is missing."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from haloscope.inference import (
    JudgePrompt,
    SamplingParams,
    default_judge_model_path,
    load_engine,
)

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="vllm backend needs a CUDA GPU"),
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed"),
]


def test_vllm_scores_and_generates_with_prefix_caching() -> None:
    engine = load_engine("vllm", model=default_judge_model_path(), gpu_memory_utilization=0.3)
    prompts = [engine.chat_prompt("Reply Yes or No.", f"Is {n} even?") for n in (2, 3, 4)]
    scores = engine.score_choices(prompts, ["Yes", "No"])
    assert all(abs(sum(s.probs.values()) - 1) < 1e-6 for s in scores.scores)
    generated = engine.generate(prompts, SamplingParams(max_tokens=4, choices=("Yes", "No")))
    assert all(g.text in {"Yes", "No"} for g in generated.generations)
    assert generated.stats.prefix_cache_hit_rate > 0


def test_vllm_continuation_logprobs_match_the_torch_engine() -> None:
    engine = load_engine("vllm", model=default_judge_model_path(), gpu_memory_utilization=0.3)
    torch_engine = load_engine("torch")
    prompts = [JudgePrompt("CONTEXT: The Nile flows through Egypt.\n", "ANSWER:\n")] * 2
    answers = ["The Nile is in Egypt.", "The Nile is in Brazil."]
    got = engine.score_tokens(prompts, answers).scores
    want = torch_engine.score_tokens(prompts, answers).scores
    for g, w in zip(got, want, strict=True):
        assert g.error is None and g.offsets == w.offsets
        # vLLM runs the Q4_1 weights with its GGUF kernels, the torch engine dequantized float32
        assert g.logprobs == pytest.approx(w.logprobs, abs=0.25)
