"""Every supported family, as a tiny random model, computes what transformers computes.

Each family's special features are switched on: Llama 3 / linear / dynamic RoPE scaling with a
short original context so the scaling matters, Mistral's sliding window (8, every layer),
Qwen2's non-zero Q/K/V biases and sliding window (8, from layer 1 on: ``max_window_layers``),
Qwen3's non-trivial per-head Q/K norms and a head_dim unlike hidden / heads.
Gemma 2 / 3: tied embeddings, random (1 + w) norms, head_dim 32, query_pre_attn_scalar 24, a
window of 6 on sliding layers (Gemma 2: alternating, 3 layers; Gemma 3: every 6th global, 7
layers, so the last layer is sliding in both), Q/K weights x10 so that Gemma 2's attention
soft-cap (2.0) bites, final soft-cap 1.0; Gemma 3's local RoPE base 10000 and global 1e6 with
linear scaling (factor 4).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from haloscope.inference import JudgePrompt, SamplingParams, UnsupportedModelError
from haloscope.inference.config import EngineConfig, ModelConfig
from haloscope.inference.engine import TorchJudgeEngine
from haloscope.inference.loader import LoadedModel, load_model
from transformers import AutoModelForCausalLM

from tests.inference.conftest import DEVICE, TINY_SHAPE, save_tiny_model, tiny_prompt
from tests.inference.gguf_export import export_gguf

LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 16,
}
FAMILIES = {
    "llama3": ("LlamaConfig", "LlamaForCausalLM", {"rope_parameters": LLAMA3_ROPE}),
    "llama-linear": (
        "LlamaConfig",
        "LlamaForCausalLM",
        {"rope_parameters": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0}},
    ),
    "llama-dynamic": (
        "LlamaConfig",
        "LlamaForCausalLM",
        {"rope_parameters": {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}},
    ),
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": 8}),
    "qwen2": (
        "Qwen2Config",
        "Qwen2ForCausalLM",
        {"use_sliding_window": True, "sliding_window": 8, "max_window_layers": 1},
    ),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {"head_dim": 32}),
}
GEMMA = {"tie_word_embeddings": True, "head_dim": 32, "query_pre_attn_scalar": 24}
GEMMA3_ROPE = {
    "full_attention": {"rope_type": "linear", "factor": 4.0, "rope_theta": 1e6},
    "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
}
FAMILIES |= {
    "gemma2": (
        "Gemma2Config",
        "Gemma2ForCausalLM",
        GEMMA
        | {"num_hidden_layers": 3, "sliding_window": 6}
        | {"attn_logit_softcapping": 2.0, "final_logit_softcapping": 1.0},
    ),
    "gemma3": (
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        GEMMA | {"num_hidden_layers": 7, "sliding_window": 6, "rope_parameters": GEMMA3_ROPE},
    ),
}
RUBRIC = tiny_prompt(100, 13) + " "


def _randomise_special_weights(model: torch.nn.Module) -> None:
    """Biases and Q/K norms start at 0 and 1 in transformers, Gemma's norms at 0 (times 1) and
    its attention scores near 0; make them matter."""
    gemma = model.config.model_type.startswith("gemma")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("_proj.bias"):
                param.normal_(0.0, 0.5)
            elif gemma and name.endswith("norm.weight"):
                param.uniform_(-0.5, 0.5)
            elif name.endswith(("q_norm.weight", "k_norm.weight")):
                param.uniform_(0.5, 1.5)
            elif gemma and name.endswith(("q_proj.weight", "k_proj.weight")):
                param.mul_(10.0)


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request, tmp_path_factory) -> tuple[str, Path]:
    """(name, directory) of a tiny random model of one family, saved as safetensors."""
    import transformers

    config_name, model_name, features = FAMILIES[request.param]
    torch.manual_seed(0)
    config = getattr(transformers, config_name)(**(TINY_SHAPE | features))
    model = getattr(transformers, model_name)(config)
    _randomise_special_weights(model)
    return request.param, save_tiny_model(tmp_path_factory.mktemp(request.param), model)


def _engine(loaded: LoadedModel, **options: object) -> TorchJudgeEngine:
    options = {"num_threads": 1, "block_size": 4, "device": DEVICE, **options}
    return TorchJudgeEngine(loaded, EngineConfig(**options))  # type: ignore[arg-type]


WINDOW_OFF = {
    "mistral": {"sliding_window": None},
    "qwen2": {"layer_types": ["full_attention"] * TINY_SHAPE["num_hidden_layers"]},
}
"""transformers overrides that drop Mistral's / Qwen2's window (GGUF carries none)."""


def _reference(directory: Path, **overrides: object) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(
        str(directory), dtype=torch.float32, **overrides
    ).eval()


def _ids(engine: TorchJudgeEngine, prompt: JudgePrompt) -> list[int]:
    return engine.tokenizer.encode(prompt.prefix) + engine.tokenizer.encode(prompt.suffix)


def _assert_logits_match(engine: TorchJudgeEngine, reference: torch.nn.Module) -> None:
    ids = _ids(engine, JudgePrompt(RUBRIC, tiny_prompt(2, 14)))
    with torch.no_grad():
        expected = reference(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(engine.prompt_logits(ids), expected, atol=1e-4, rtol=1e-4)


def _assert_rope_matches(engine: TorchJudgeEngine, reference: torch.nn.Module) -> None:
    """Global and local (Gemma 3: sliding layers') inverse frequencies, bit for bit."""
    rotary = reference.model.rotary_emb
    if hasattr(rotary, "inv_freq"):
        expected = rotary.inv_freq, rotary.inv_freq
    else:
        expected = rotary.full_attention_inv_freq, rotary.sliding_attention_inv_freq
    assert torch.equal(engine.model.inv_freq.cpu(), expected[0])
    assert torch.equal(engine.model.local_inv_freq.cpu(), expected[1])


def test_logits_and_greedy_generation_match_transformers(family) -> None:
    _, directory = family
    engine, reference = _engine(load_model(directory)), _reference(directory)
    _assert_rope_matches(engine, reference)
    _assert_logits_match(engine, reference)
    prompts = [JudgePrompt(RUBRIC, tiny_prompt(i, 4 + 3 * i)) for i in range(3)]
    result = engine.generate(prompts, SamplingParams(max_tokens=12))
    for prompt, generation in zip(prompts, result.generations, strict=True):
        ids = _ids(engine, prompt)
        out = reference.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)
        assert generation.token_ids == out[0, len(ids) :].tolist()


def test_prefix_cache_on_and_off_give_identical_outputs(family) -> None:
    loaded = load_model(family[1])
    prompts = [JudgePrompt(RUBRIC, tiny_prompt(i, 5 + 2 * i)) for i in range(4)]
    runs = {}
    for caching in (True, False):
        result = _engine(loaded, enable_prefix_caching=caching).generate(
            prompts, SamplingParams(max_tokens=8)
        )
        runs[caching] = result
    assert runs[True].stats.cached_tokens > 0 and runs[False].stats.cached_tokens == 0
    for cached, plain in zip(runs[True].generations, runs[False].generations, strict=True):
        assert cached.token_ids == plain.token_ids
        assert cached.logprobs == pytest.approx(plain.logprobs, abs=1e-4)


@pytest.mark.parametrize("family", ["gemma2", "gemma3"], indirect=True)
def test_gemma_masks_its_window_instead_of_capping_the_context(family) -> None:
    engine = _engine(load_model(family[1]))
    assert engine.max_model_len == TINY_SHAPE["max_position_embeddings"]
    window_layers = {"gemma2": (0, 2), "gemma3": (0, 1, 2, 3, 4, 6)}[family[0]]
    assert engine.model_config.local_layers == window_layers


@pytest.mark.parametrize("family", ["mistral", "qwen2"], indirect=True)
def test_sliding_window_is_masked_past_the_window(family) -> None:
    """A 30-token prompt through a window of 8: logits and greedy tokens equal transformers'
    eager attention (which applies the window, as its SDPA path does), and differ from the
    same model without its window; the context is not capped at the window."""
    name, directory = family
    engine = _engine(load_model(directory))
    assert engine.max_model_len == TINY_SHAPE["max_position_embeddings"]
    assert engine.model_config.local_layers == {"mistral": (0, 1), "qwen2": (1,)}[name]
    eager = _reference(directory, attn_implementation="eager")
    ids = _ids(engine, JudgePrompt("", tiny_prompt(7, 30)))
    assert len(ids) == 30
    ours = engine.prompt_logits(ids)
    with torch.no_grad():
        expected = eager(torch.tensor([ids])).logits[0]
        unwindowed = _reference(directory, **WINDOW_OFF[name])(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)
    assert (ours - unwindowed).abs().max() > 0.05  # measured: 3.2 Mistral, 0.088 Qwen2
    out = eager.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)
    result = engine.generate([JudgePrompt("", tiny_prompt(7, 30))], SamplingParams(max_tokens=12))
    assert result.generations[0].token_ids == out[0, 30:].tolist()


@pytest.mark.parametrize(
    ("config", "window", "layers"),
    [
        ({"model_type": "mistral", "sliding_window": 4096}, 4096, (0, 1, 2, 3)),
        ({"model_type": "mistral", "sliding_window": None}, None, ()),
        ({"model_type": "qwen2", "sliding_window": 131072, "max_window_layers": 2}, None, ()),
        (
            {"model_type": "qwen3", "use_sliding_window": True, "sliding_window": 64}
            | {"max_window_layers": 2},
            64,
            (2, 3),
        ),
        (
            {"model_type": "qwen2", "sliding_window": 64}
            | {"layer_types": ["full_attention", "sliding_attention"] * 2},
            64,
            (1, 3),
        ),
    ],
)
def test_sliding_window_layers_are_read_as_transformers_reads_them(config, window, layers):
    shape = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4}
    hf_config = shape | {"num_hidden_layers": 4, "vocab_size": 10} | config
    model_config = ModelConfig.from_hf_config(hf_config, "config.json")
    assert (model_config.masked_window, model_config.local_layers) == (window, layers)


def test_gguf_export_loads_the_same_weights_and_logits(family, tmp_path) -> None:
    name, directory = family
    reference = _reference(directory)
    from_gguf = load_model(export_gguf(reference, directory, tmp_path / f"{name}.gguf"))
    from_dir = load_model(directory)
    assert from_gguf.weights.keys() == from_dir.weights.keys()
    for key, tensor in from_dir.weights.items():
        got = from_gguf.weights[key]
        if name.startswith("gemma") and key.endswith("norm.weight"):
            # GGUF stores 1 + w; the engine's multiplier 1 + w is the same, w up to rounding.
            tensor, got = 1 + tensor, 1 + got
        assert torch.equal(got, tensor), key
    # The GGUF's BPE vocabulary cannot spell the tiny words; the directory's tokenizer does.
    loaded = LoadedModel(from_gguf.source, from_gguf.config, from_gguf.weights, from_dir.tokenizer)
    if name in WINDOW_OFF:  # llama.cpp writes no window for Mistral or Qwen2, so none applies
        assert from_gguf.config.local_layers == ()
        reference = _reference(directory, **WINDOW_OFF[name])
    _assert_logits_match(_engine(loaded), reference)


@pytest.mark.parametrize("family", ["llama-dynamic"], indirect=True)
def test_dynamic_rope_runs_only_within_the_unscaled_context(family) -> None:
    # transformers rescales dynamic NTK RoPE only past max_position_embeddings.
    assert _engine(load_model(family[1])).max_model_len == TINY_SHAPE["max_position_embeddings"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"model_type": "phi3"},
            "model_type 'phi3' is not supported; supported: llama, mistral",
        ),
        ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "'yarn' is not supported"),
        ({"attention_bias": True}, "attention_bias=true is not supported"),
    ],
)
def test_unsupported_architectures_and_features_are_named(tmp_path, overrides, message) -> None:
    config = {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4} | overrides
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match=message):
        load_model(tmp_path)
