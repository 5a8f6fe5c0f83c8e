"""Fixtures: the packaged SmolLM2 judge (ours and transformers'), a tiny random Llama on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"

from haloscope.inference import default_judge_model_path  # noqa: E402
from haloscope.inference.config import EngineConfig  # noqa: E402
from haloscope.inference.engine import TorchJudgeEngine  # noqa: E402
from haloscope.inference.loader import LoadedModel, load_model  # noqa: E402

TINY_WORDS = [f"w{i}" for i in range(120)]
DEVICE = os.environ.get("HALOSCOPE_TEST_DEVICE", "cpu")
"""Device the engines under test run on; ``HALOSCOPE_TEST_DEVICE=cuda`` on a GPU machine (the
transformers references stay on the CPU)."""


@pytest.fixture(scope="session")
def smollm_loaded() -> LoadedModel:
    """SmolLM2-135M-Instruct from the packaged GGUF, dequantized once per session."""
    return load_model(default_judge_model_path())


@pytest.fixture(scope="session")
def smollm(smollm_loaded: LoadedModel) -> TorchJudgeEngine:
    """The default judge engine (prefix caching on, 2 threads)."""
    return TorchJudgeEngine(
        smollm_loaded, EngineConfig(num_threads=1, kv_cache_bytes=64 << 20, device=DEVICE)
    )


@pytest.fixture(scope="session")
def smollm_reference() -> torch.nn.Module:
    """transformers' own LlamaForCausalLM loaded from the same GGUF file."""
    from transformers import AutoModelForCausalLM

    path = Path(default_judge_model_path())
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    return model.eval()


TINY_SHAPE = {
    "vocab_size": len(TINY_WORDS) + 3,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
"""The tiny models' shared shape: GQA (4 query heads over 2 KV heads), untied head."""


def save_tiny_model(directory: Path, model: torch.nn.Module) -> Path:
    """Save a tiny random ``model`` with the tiny word-level tokenizer; the LM head is scaled
    by 8 so that greedy choices are unambiguous."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2} | {w: i + 3 for i, w in enumerate(TINY_WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(directory / "tokenizer.json"))
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)
    model.save_pretrained(str(directory), safe_serialization=True)
    (directory / "tokenizer_config.json").write_text(json.dumps({"add_bos_token": False}))
    return directory


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama (GQA, untied head) saved as safetensors."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**TINY_SHAPE, rope_theta=500000.0))
    return save_tiny_model(tmp_path_factory.mktemp("tiny-llama"), model)


@pytest.fixture(scope="session")
def tiny_loaded(tiny_llama_dir: Path) -> LoadedModel:
    """The tiny model loaded by our loader."""
    return load_model(tiny_llama_dir)


def tiny_prompt(seed: int, length: int) -> str:
    """A deterministic pseudo-random word sequence for the tiny model."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(TINY_WORDS) - 1, (length,), generator=generator)
    return " ".join(TINY_WORDS[int(i)] for i in picks)
