"""Engine behaviour: caching, preemption and batching never change outputs; budgets hold."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from haloscope.inference import JudgePrompt, SamplingParams, UnsupportedModelError, load_engine
from haloscope.inference.block_manager import BlockManager
from haloscope.inference.config import EngineConfig
from haloscope.inference.engine import TorchJudgeEngine
from haloscope.inference.sequence import Sequence

from tests.inference.conftest import DEVICE, tiny_prompt

RUBRIC = tiny_prompt(100, 40) + " "
GREEDY = SamplingParams(max_tokens=10)


def _prompts(n: int) -> list[JudgePrompt]:
    return [JudgePrompt(RUBRIC, tiny_prompt(i, 5 + 3 * i)) for i in range(n)]


def _engine(tiny_loaded, **options) -> TorchJudgeEngine:
    options = {"num_threads": 1, "block_size": 4, "device": DEVICE, **options}
    return TorchJudgeEngine(tiny_loaded, EngineConfig(**options))


def _outputs(result) -> list[tuple[list[int], list[float]]]:
    return [(g.token_ids, g.logprobs) for g in result.generations]


def _assert_same(a, b) -> None:
    for (ids_a, lp_a), (ids_b, lp_b) in zip(a, b, strict=True):
        assert ids_a == ids_b
        assert lp_a == pytest.approx(lp_b, abs=1e-4)


def test_prefix_caching_on_and_off_give_identical_outputs(tiny_loaded) -> None:
    cached = _engine(tiny_loaded).generate(_prompts(6), GREEDY)
    uncached = _engine(tiny_loaded, enable_prefix_caching=False).generate(_prompts(6), GREEDY)
    _assert_same(_outputs(cached), _outputs(uncached))
    assert cached.stats.prefix_cache_hit_rate > 0.5
    assert uncached.stats.prefix_cache_hit_rate == 0.0
    assert cached.stats.prefill_tokens < uncached.stats.prefill_tokens


def _tokens(engine: TorchJudgeEngine, prompt: JudgePrompt) -> list[int]:
    return engine.tokenizer.encode(prompt.prefix, add_bos=True) + engine.tokenizer.encode(
        prompt.suffix
    )


def _reusable_tokens(ids: list[int], earlier: list[list[int]], block_size: int) -> int:
    """Tokens of ``ids`` in full blocks an earlier prompt holds (never the last token's block)."""
    best = 0
    for other in earlier:
        pairs = enumerate(zip(ids, other, strict=False))
        common = next((i for i, (a, b) in pairs if a != b), min(len(ids), len(other)))
        best = max(best, min(common, len(ids) - 1) // block_size * block_size)
    return best


@pytest.mark.parametrize("token_budget", [1024, 7])
def test_prompts_admitted_together_compute_each_shared_block_once(
    tiny_loaded, token_budget: int
) -> None:
    shared_item = tiny_prompt(50, 30)
    prompts = [JudgePrompt(RUBRIC, f"{shared_item} {tiny_prompt(60 + i, 3 + i)}") for i in range(4)]
    prompts.append(JudgePrompt(RUBRIC, tiny_prompt(70, 12)))
    engine = _engine(tiny_loaded, max_num_batched_tokens=token_budget)
    ids = sorted(_tokens(engine, p) for p in prompts)
    reusable = sum(_reusable_tokens(x, ids[:i], 4) for i, x in enumerate(ids))
    assert reusable > len(ids[0])  # the rubric and the shared item span many blocks

    cold = engine.score_choices(prompts, ["w1", "w2"])
    assert cold.stats.cached_tokens == reusable
    assert cold.stats.prefill_tokens == sum(map(len, ids)) - reusable
    uncached = _engine(tiny_loaded, enable_prefix_caching=False).score_choices(
        prompts, ["w1", "w2"]
    )
    for ours, reference in zip(cold.scores, uncached.scores, strict=True):
        assert ours.probs == pytest.approx(reference.probs, abs=1e-5)


def test_preemption_under_tiny_kv_budget_resumes_with_identical_outputs(tiny_loaded) -> None:
    roomy = _engine(tiny_loaded).generate(_prompts(6), GREEDY)
    config = tiny_loaded.config
    budget = 40 * 4 * config.kv_bytes_per_token(EngineConfig().dtype)  # 40 blocks of 4 tokens
    tight_engine = _engine(tiny_loaded, kv_cache_bytes=budget)
    tight = tight_engine.generate(_prompts(6), GREEDY)
    _assert_same(_outputs(roomy), _outputs(tight))
    assert tight.stats.preemptions > 0
    assert tight_engine.cache.nbytes <= budget
    assert tight.stats.kv_blocks_used_peak <= tight.stats.kv_blocks_total == 40
    assert tight.stats.kv_blocks_free == 40  # everything returned after the call


def test_batch_composition_and_chunking_do_not_change_outputs(tiny_loaded) -> None:
    prompts = _prompts(5)
    together = _outputs(_engine(tiny_loaded).generate(prompts, GREEDY))
    alone = [_outputs(_engine(tiny_loaded).generate([p], GREEDY))[0] for p in prompts]
    reversed_ = _outputs(_engine(tiny_loaded).generate(prompts[::-1], GREEDY))[::-1]
    chunked = _outputs(_engine(tiny_loaded, max_num_batched_tokens=7).generate(prompts, GREEDY))
    for other in (alone, reversed_, chunked):
        _assert_same(together, other)


def test_calls_from_several_threads_take_turns_and_match_sequential_calls(tiny_loaded) -> None:
    engine = _engine(tiny_loaded)
    prompts = _prompts(4)
    sequential = [_outputs(engine.generate(prompts[i : i + 2], GREEDY)) for i in (0, 2)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(engine.generate, prompts[i : i + 2], GREEDY) for i in (0, 2, 0, 2)]
        concurrent = [_outputs(f.result(timeout=120)) for f in futures]
    for index, outputs in enumerate(concurrent):
        _assert_same(sequential[index % 2], outputs)
    assert engine.blocks.num_free == engine.cache.num_blocks


def test_block_manager_shares_prefixes_and_evicts_lru() -> None:
    manager = BlockManager(num_blocks=6, block_size=2, enable_prefix_caching=True)
    first = Sequence([1, 2, 3, 4, 5], SamplingParams())
    assert manager.allocate(first) and first.num_cached_tokens == 0
    first.num_computed_tokens = 5
    manager.register_computed(first)
    second = Sequence([1, 2, 3, 4, 9], SamplingParams())
    assert manager.allocate(second)
    assert second.num_cached_tokens == 4
    assert second.block_table[:2] == first.block_table[:2]
    assert manager.num_used == 4  # two shared blocks + one private block each
    manager.free(first)
    manager.free(second)
    assert manager.num_free == 6
    # Cached blocks survive in the pool until reuse needs them, least recently freed first.
    third = Sequence([1, 2, 3, 4, 7], SamplingParams())
    assert manager.allocate(third) and third.num_cached_tokens == 4
    manager.free(third)
    hog = Sequence(list(range(100, 112)), SamplingParams())  # needs all 6 blocks
    assert manager.allocate(hog)
    manager.free(hog)
    fourth = Sequence([1, 2, 3, 4, 7], SamplingParams())
    assert manager.allocate(fourth) and fourth.num_cached_tokens == 0
    assert not manager.allocate(Sequence(list(range(20)), SamplingParams()))


def test_too_long_prompt_fails_alone(tiny_loaded) -> None:
    engine = _engine(tiny_loaded, max_model_len=64)
    prompts = [_prompts(1)[0], JudgePrompt(RUBRIC, tiny_prompt(7, 80)), _prompts(2)[1]]
    result = engine.generate(prompts, GREEDY)
    assert (
        result.generations[1].error is not None
        and "context window 64" in result.generations[1].error
    )
    assert result.generations[0].error is None and result.generations[0].token_ids
    assert result.generations[2].error is None and result.generations[2].token_ids
    scores = engine.score_choices(prompts, ["w1", "w2"]).scores
    assert scores[1].error is not None and scores[0].error is None
    assert sum(scores[0].probs.values()) == pytest.approx(1.0)


def test_constrained_choices_stop_strings_and_seeds(smollm) -> None:
    prompt = smollm.chat_prompt("Answer with one word.", "Is water wet? Yes or No?")
    choices = ("Absolutely not", "Yes indeed")
    constrained = smollm.generate([prompt], SamplingParams(max_tokens=8, choices=choices))
    assert constrained.generations[0].text in choices
    sampled = SamplingParams(max_tokens=6, temperature=1.0, top_p=0.9, seed=7)
    runs = [smollm.generate([prompt, prompt], sampled).generations for _ in range(2)]
    assert [g.token_ids for g in runs[0]] == [g.token_ids for g in runs[1]]
    free = smollm.generate([prompt], SamplingParams(max_tokens=12)).generations[0]
    stop_at = free.text.strip().split()[0][:3]
    stopped = smollm.generate([prompt], SamplingParams(max_tokens=12, stop=(stop_at,)))
    assert stop_at not in stopped.generations[0].text
    assert stopped.generations[0].finish_reason == "stop"


def test_bad_models_and_choices_are_refused(tmp_path, tiny_loaded) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(FileNotFoundError, match="nope.gguf"):
        load_engine("torch", model=str(missing))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UnsupportedModelError, match="'gpt2'.*supported: llama"):
        load_engine("torch", model=str(tmp_path))
    with pytest.raises(ValueError, match="unknown backend"):
        load_engine("tensorrt")
    with pytest.raises(ValueError, match="share a first token"):
        _engine(tiny_loaded).score_choices(_prompts(1), ["w1 w2", "w1 w3"])
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(temperature=-1)


def test_last_layer_computes_only_the_rows_whose_logits_are_read(tiny_loaded) -> None:
    engine = _engine(tiny_loaded, max_num_batched_tokens=7)  # chunks that end mid-prompt, too
    prompts = _prompts(3)
    scores = engine.score_choices(prompts, ["w1", "w2"]).scores
    choice_ids = [engine.tokenizer.encode(w)[0] for w in ("w1", "w2")]
    for prompt, score in zip(prompts, scores, strict=True):
        last = engine.prompt_logits(_tokens(engine, prompt))[-1]  # every row, every layer
        expected = torch.softmax(last[choice_ids], dim=0).tolist()
        assert [score.probs["w1"], score.probs["w2"]] == pytest.approx(expected, abs=1e-5)
