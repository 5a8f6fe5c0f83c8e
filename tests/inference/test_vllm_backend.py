"""The vLLM backend on a real GPU; skipped, with the reason, where CUDA or vllm is missing."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from haloscope.inference import SamplingParams, default_judge_model_path, load_engine

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
