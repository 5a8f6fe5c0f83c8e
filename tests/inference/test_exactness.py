"""The engine computes what transformers computes: logits, greedy generations, choice scores."""

from __future__ import annotations

import torch
from haloscope.inference import JudgePrompt, SamplingParams
from haloscope.inference.config import EngineConfig
from haloscope.inference.engine import TorchJudgeEngine
from transformers import LlamaForCausalLM

from tests.inference.conftest import DEVICE, tiny_prompt

RUBRIC = "You judge answers. Reply Yes if the answer is supported by the knowledge, else No."
ITEMS = [
    "Knowledge: Paris is the capital of France.\nAnswer: Paris.\nSupported?",
    "Knowledge: The Nile flows through Egypt.\nAnswer: The Nile is in Brazil.\nSupported?",
]


def _ids(engine: TorchJudgeEngine, prompt: JudgePrompt) -> list[int]:
    tok = engine.tokenizer
    return tok.encode(prompt.prefix, add_bos=True) + tok.encode(prompt.suffix)


def _reference_greedy(model: torch.nn.Module, ids: list[int], n: int) -> list[int]:
    out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False)
    return out[0, len(ids) :].tolist()


def test_smollm_logits_match_transformers(smollm, smollm_reference) -> None:
    ids = _ids(smollm, smollm.chat_prompt(RUBRIC, ITEMS[0]))
    ours = smollm.prompt_logits(ids)
    with torch.no_grad():
        reference = smollm_reference(torch.tensor([ids])).logits[0]
    assert ours.shape == reference.shape
    torch.testing.assert_close(ours, reference, atol=2e-3, rtol=1e-4)


def test_smollm_greedy_generation_matches_transformers(smollm, smollm_reference) -> None:
    prompts = [smollm.chat_prompt(RUBRIC, item) for item in ITEMS]
    result = smollm.generate(prompts, SamplingParams(max_tokens=8))
    for prompt, generation in zip(prompts, result.generations, strict=True):
        expected = _reference_greedy(smollm_reference, _ids(smollm, prompt), 8)
        assert generation.token_ids == expected[: len(generation.token_ids)]
        assert generation.finish_reason in {"stop", "length"}
        if generation.finish_reason == "length":
            assert len(generation.token_ids) == 8


def test_smollm_choice_scores_match_transformers_softmax(smollm, smollm_reference) -> None:
    prompts = [smollm.chat_prompt(RUBRIC, item) for item in ITEMS]
    result = smollm.score_choices(prompts, ["Yes", "No"])
    yes, no = smollm.tokenizer.encode("Yes")[0], smollm.tokenizer.encode("No")[0]
    for prompt, score in zip(prompts, result.scores, strict=True):
        with torch.no_grad():
            last = smollm_reference(torch.tensor([_ids(smollm, prompt)])).logits[0, -1]
        full = torch.softmax(last, dim=-1)
        expected = torch.softmax(last[[yes, no]], dim=-1)
        assert abs(score.probs["Yes"] - expected[0].item()) < 1e-4
        assert abs(score.probs["No"] - expected[1].item()) < 1e-4
        assert abs(score.choice_mass - (full[yes] + full[no]).item()) < 1e-4
    assert result.stats.decode_tokens == 0


def test_tiny_random_llama_matches_transformers(tiny_llama_dir, tiny_loaded) -> None:
    reference = LlamaForCausalLM.from_pretrained(str(tiny_llama_dir), dtype=torch.float32).eval()
    engine = TorchJudgeEngine(tiny_loaded, EngineConfig(num_threads=1, block_size=4, device=DEVICE))
    prompt = JudgePrompt(prefix=tiny_prompt(1, 9) + " ", suffix=tiny_prompt(2, 14))
    ids = _ids(engine, prompt)
    with torch.no_grad():
        expected_logits = reference(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(engine.prompt_logits(ids), expected_logits, atol=1e-4, rtol=1e-4)
    generation = engine.generate([prompt], SamplingParams(max_tokens=12)).generations[0]
    expected = _reference_greedy(reference, ids, 12)
    assert generation.token_ids == expected[: len(generation.token_ids)]
    assert len(generation.token_ids) == len(expected)


def test_smollm_hidden_states_match_transformers(smollm, smollm_reference) -> None:
    prompts = [smollm.chat_prompt(RUBRIC, item) for item in ITEMS]
    result = smollm.score_choices(prompts, ["Yes", "No"], hidden_layer=15)
    plain = smollm.score_choices(prompts, ["Yes", "No"])
    for prompt, score, same in zip(prompts, result.scores, plain.scores, strict=True):
        with torch.no_grad():
            states = smollm_reference(
                torch.tensor([_ids(smollm, prompt)]), output_hidden_states=True
            ).hidden_states
        torch.testing.assert_close(
            torch.from_numpy(score.hidden), states[15][0, -1], atol=2e-3, rtol=1e-4
        )
        assert score.probs == same.probs and same.hidden is None
