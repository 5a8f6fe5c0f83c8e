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


def test_custom_judge_runs_on_vllm_and_refuses_shared_first_tokens() -> None:
    # Not run without a GPU (see pytestmark); the same JudgeEngine.score_choices path that the
    # torch and OpenAI-compatible backends are tested through.
    from haloscope.evaluators import EvalInput, Resources
    from haloscope.evaluators.custom_judge import CustomJudge

    engine = load_engine("vllm", model=default_judge_model_path(), gpu_memory_utilization=0.3)
    spec = {
        "name": "even",
        "system": "Reply Yes or No.",
        "template": "Is {{ output }} even?",
        "choices": ["Yes", "No"],
        "positive": "Yes",
    }
    items = [EvalInput(output=str(n)) for n in (2, 3)]
    for result in CustomJudge(spec, 1, None, Resources(engine=engine)).evaluate(items):
        assert result.error is None and 0 <= result.score <= 1
    # "Correct" and "Correctly" share SmolLM2's first token 38323.
    shared = {**spec, "choices": ["Correct", "Correctly"], "positive": "Correct"}
    for result in CustomJudge(shared, 1, None, Resources(engine=engine)).evaluate(items):
        assert result.score is None and "must start with distinct tokens" in result.error
