"""Load weights, config and tokenizer from a Hugging Face safetensors directory or a GGUF file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from haloscope.inference.config import ModelConfig, UnsupportedModelError
from haloscope.inference.rope import RopeScaling
from haloscope.inference.tokenizer import TextTokenizer, tokenizer_from_dir, tokenizer_from_gguf

SUPPORTED_FORMATS = "a .gguf file or a directory with config.json + *.safetensors + tokenizer.json"

_GGUF_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GGUF_GEMMA_LAYER_NAMES = _GGUF_LAYER_NAMES | {
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
}
"""Gemma's four norms per layer; its ``ffn_norm`` is the MLP's input norm, as in Llama."""
_GGUF_GEMMA = frozenset({"gemma2", "gemma3"})
"""Architectures whose norm weights llama.cpp stores as 1 + w (HF stores w)."""
_GGUF_GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_GGUF_ROPE_FREQS = "rope_freqs.weight"
"""llama.cpp's per-frequency divisors for Llama 3 RoPE scaling."""
_GGUF_PERMUTED_QK = frozenset({"llama"})
"""Architectures whose Q/K rows llama.cpp permutes for its interleaved RoPE."""
_GGUF_LAYER_RE = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")


@dataclass
class LoadedModel:
    """Everything needed to build the engine: shape, HF-named float tensors, tokenizer."""

    source: str
    config: ModelConfig
    weights: dict[str, torch.Tensor]
    tokenizer: TextTokenizer


def load_model(path: str | Path) -> LoadedModel:
    """Load a supported model (``SUPPORTED_ARCHITECTURES``) from a GGUF file or safetensors dir."""
    path = Path(path)
    if path.is_file() and path.suffix == ".gguf":
        return _load_gguf(path)
    if path.is_dir() and (path / "config.json").is_file():
        return _load_safetensors_dir(path)
    if not path.exists():
        raise FileNotFoundError(
            f"model path {str(path)!r} does not exist; expected {SUPPORTED_FORMATS}"
        )
    raise UnsupportedModelError(f"model path {str(path)!r} is not {SUPPORTED_FORMATS}")


def _load_safetensors_dir(model_dir: Path) -> LoadedModel:
    from safetensors.torch import load_file

    hf_config = json.loads((model_dir / "config.json").read_text())
    config = ModelConfig.from_hf_config(hf_config, str(model_dir / "config.json"))
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{model_dir}: no *.safetensors weight files")
    weights: dict[str, torch.Tensor] = {}
    for file in files:
        weights.update(load_file(str(file)))
    return LoadedModel(str(model_dir), config, weights, tokenizer_from_dir(model_dir, hf_config))


def _load_gguf(path: Path) -> LoadedModel:
    config, weights, meta = read_gguf(path)
    return LoadedModel(str(path), config, weights, tokenizer_from_gguf(meta, str(path)))


def read_gguf(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """A GGUF file's config, its weights dequantized to float32 under HF names, and its
    metadata (for the tokenizer, which :func:`load_model` builds from it)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(path))
    meta = _gguf_metadata(reader)
    names = {t.name for t in reader.tensors}
    embed = next(t for t in reader.tensors if t.name == "token_embd.weight")
    config = ModelConfig.from_gguf_metadata(
        meta, vocab_size=int(embed.shape[1]), has_output="output.weight" in names, source=str(path)
    )
    weights: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        shape = [int(d) for d in reversed(tensor.shape)]
        array = dequantize(tensor.data, tensor.tensor_type).reshape(shape)
        if tensor.name == _GGUF_ROPE_FREQS:
            factors = tuple(float(f) for f in array)
            config = replace(config, rope_scaling=RopeScaling("factors", freq_factors=factors))
            continue
        name = _hf_name(tensor.name, config.architecture, str(path))
        if config.architecture in _GGUF_PERMUTED_QK:
            array = _unpermute_qk(name, array, config)
        if config.architecture in _GGUF_GEMMA and name.endswith("norm.weight"):
            array = array - np.float32(1.0)
        weights[name] = torch.tensor(array, dtype=torch.float32)
    return config, weights, meta


def read_gguf_metadata(path: str | Path) -> dict[str, Any]:
    """A GGUF file's key/values (config, tokenizer, chat template), without its tensors."""
    from gguf import GGUFReader

    return _gguf_metadata(GGUFReader(str(path)))


def _gguf_metadata(reader: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        meta[key] = field.contents()
    return meta


def _hf_name(gguf_name: str, arch: str, source: str) -> str:
    if gguf_name in _GGUF_GLOBAL_NAMES:
        return _GGUF_GLOBAL_NAMES[gguf_name]
    layer_names = _GGUF_GEMMA_LAYER_NAMES if arch in _GGUF_GEMMA else _GGUF_LAYER_NAMES
    match = _GGUF_LAYER_RE.fullmatch(gguf_name)
    if match is None or match.group(2) not in layer_names:
        raise UnsupportedModelError(f"{source}: unexpected GGUF tensor {gguf_name!r} for {arch}")
    layer, part, kind = match.groups()
    return f"model.layers.{layer}.{layer_names[part]}.{kind}"


def _unpermute_qk(name: str, array: np.ndarray, config: ModelConfig) -> np.ndarray:
    if name.endswith(("q_proj.weight", "q_proj.bias")):
        return _unpermute_rope(array, config.num_heads)
    if name.endswith(("k_proj.weight", "k_proj.bias")):
        return _unpermute_rope(array, config.num_kv_heads)
    return array


def _unpermute_rope(weight: np.ndarray, num_heads: int) -> np.ndarray:
    """Undo llama.cpp's Q/K row permutation (interleaved RoPE pairs -> HF's rotate-half halves)."""
    rows = weight.shape[0]
    half = rows // num_heads // 2
    return (
        weight.reshape(num_heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )
