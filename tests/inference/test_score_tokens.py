"""Continuation scoring (``score_tokens``): teacher-forced logprobs equal transformers', and
prefix caching, chunked prefill, batching and a tight KV budget never change them."""

from __future__ import annotations

import pytest
import torch
from haloscope.inference import JudgePrompt, SamplingParams
from haloscope.inference.config import EngineConfig
from haloscope.inference.engine import TorchJudgeEngine

from tests.inference.conftest import DEVICE, tiny_prompt

RUBRIC = "You judge answers against the context."
CONTEXT = "CONTEXT: The Oberoi Group is a hotel company with its head office in Delhi.\n"


def _reference_logprobs(model, prefix_ids: list[int], continuation: list[int]) -> list[float]:
    ids = torch.tensor([prefix_ids + continuation])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    rows = logprobs[len(prefix_ids) - 1 : -1]
    return rows.gather(1, torch.tensor(continuation)[:, None])[:, 0].tolist()


def test_smollm_continuation_logprobs_match_transformers(smollm, smollm_reference) -> None:
    prompt = smollm.chat_prompt(RUBRIC, CONTEXT + "ANSWER: ")
    answers = ["Delhi", "The head office is in Mumbai, India."]
    result = smollm.score_tokens([prompt, prompt], answers)
    tok = smollm.tokenizer
    prefix_ids = tok.encode(prompt.prefix, add_bos=True) + tok.encode(prompt.suffix)
    for answer, scores in zip(answers, result.scores, strict=True):
        ids = tok.encode(answer)
        assert scores.error is None
        assert len(scores.logprobs) == len(ids) == len(scores.tokens) == len(scores.offsets)
        assert "".join(scores.tokens) == answer
        assert [answer[a:b] for a, b in scores.offsets] == scores.tokens
        expected = _reference_logprobs(smollm_reference, prefix_ids, ids)
        assert scores.logprobs == pytest.approx(expected, abs=2e-3)
    assert result.stats.decode_tokens == 0


def _engine(tiny_loaded, **options) -> TorchJudgeEngine:
    options = {"num_threads": 1, "block_size": 4, "device": DEVICE, **options}
    return TorchJudgeEngine(tiny_loaded, EngineConfig(**options))


def _cases() -> tuple[list[JudgePrompt], list[str]]:
    """Prompts sharing a long prefix; continuations sharing their first tokens too, so a naive
    prefix cache would skip the rows whose logits are read."""
    rubric = tiny_prompt(100, 23) + " "
    prompts = [JudgePrompt(rubric, tiny_prompt(i % 3, 6 + i % 3) + " ") for i in range(8)]
    continuations = [tiny_prompt(50, 3 + i) for i in range(8)]
    return prompts, continuations


def test_caching_chunking_batching_and_kv_budget_do_not_change_logprobs(tiny_loaded) -> None:
    prompts, continuations = _cases()
    block_bytes = 4 * tiny_loaded.config.kv_bytes_per_token(EngineConfig().dtype)
    baseline = _engine(tiny_loaded, enable_prefix_caching=False).score_tokens(
        prompts, continuations
    )
    expected = [s.logprobs for s in baseline.scores]
    assert all(len(lp) == len(c.split()) for lp, c in zip(expected, continuations, strict=True))
    variants = {
        "prefix cache": _engine(tiny_loaded),
        "chunked prefill": _engine(tiny_loaded, max_num_batched_tokens=7),
        "one at a time": _engine(tiny_loaded, max_num_seqs=1),
        "12 KV blocks": _engine(tiny_loaded, kv_cache_bytes=12 * block_bytes),
    }
    for name, engine in variants.items():
        # a decoding call in the same engine first fills the cache with the shared prefix
        engine.generate(prompts[:2], SamplingParams(max_tokens=4))
        result = engine.score_tokens(prompts, continuations)
        for got, want in zip(result.scores, expected, strict=True):
            assert got.error is None, name
            assert got.logprobs == pytest.approx(want, abs=1e-4), name
    cached = variants["prefix cache"].score_tokens(prompts, continuations).stats
    assert cached.prefix_cache_hit_rate > 0.3


def test_scoring_and_decoding_in_one_batch_from_two_threads(tiny_loaded) -> None:
    from concurrent.futures import ThreadPoolExecutor

    prompts, continuations = _cases()
    engine = _engine(tiny_loaded)
    alone_scores = engine.score_tokens(prompts, continuations)
    alone_text = engine.generate(prompts, SamplingParams(max_tokens=5))
    with ThreadPoolExecutor(2) as pool:
        scores = pool.submit(engine.score_tokens, prompts, continuations)
        texts = pool.submit(engine.generate, prompts, SamplingParams(max_tokens=5))
    for got, want in zip(scores.result().scores, alone_scores.scores, strict=True):
        assert got.logprobs == pytest.approx(want.logprobs, abs=1e-4)
    assert [g.token_ids for g in texts.result().generations] == [
        g.token_ids for g in alone_text.generations
    ]


def test_bad_items_fail_alone(tiny_loaded) -> None:
    engine = _engine(tiny_loaded, max_model_len=40)
    prompt = JudgePrompt(tiny_prompt(1, 5) + " ", tiny_prompt(2, 5))
    ok, empty, too_long = engine.score_tokens(
        [prompt] * 3, [tiny_prompt(3, 4), "", tiny_prompt(4, 60)]
    ).scores
    assert ok.error is None and len(ok.logprobs) == 4
    assert empty.error == "empty continuation"
    assert "limit is 39" in too_long.error
    with pytest.raises(ValueError, match="pair them up"):
        engine.score_tokens([prompt], ["w1", "w2"])
