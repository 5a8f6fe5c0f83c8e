"""Model and engine configuration: the decoder's shape, read from GGUF metadata or HF config.json."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

SUPPORTED_ARCHITECTURES = ("llama",)
"""Architectures the torch engine can run (GGUF ``general.architecture`` / HF ``model_type``)."""


class UnsupportedModelError(ValueError):
    """The model file exists but its architecture or format is not one the engine runs."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a Llama-family decoder."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    tie_word_embeddings: bool

    @classmethod
    def from_hf_config(cls, config: dict[str, Any], source: str) -> ModelConfig:
        """Build from a Hugging Face ``config.json`` dict; ``source`` names the file in errors."""
        model_type = config.get("model_type", "<missing>")
        if model_type not in SUPPORTED_ARCHITECTURES:
            raise UnsupportedModelError(
                f"{source}: model_type {model_type!r} is not supported; "
                f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
            )
        # transformers >= 5 writes rope settings under "rope_parameters"; older: top level.
        rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
        _reject_rope_scaling(rope, source)
        heads = config["num_attention_heads"]
        hidden = config["hidden_size"]
        return cls(
            vocab_size=config["vocab_size"],
            hidden_size=hidden,
            intermediate_size=config["intermediate_size"],
            num_layers=config["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or hidden // heads,
            rms_norm_eps=config.get("rms_norm_eps", 1e-6),
            rope_theta=rope.get("rope_theta") or config.get("rope_theta", 10000.0),
            max_position_embeddings=config.get("max_position_embeddings", 2048),
            tie_word_embeddings=config.get("tie_word_embeddings", False),
        )

    @classmethod
    def from_gguf_metadata(
        cls, meta: dict[str, Any], vocab_size: int, has_output: bool, source: str
    ) -> ModelConfig:
        """Build from GGUF key/values (``llama.*``); ``has_output`` is False for tied embeddings."""
        arch = meta.get("general.architecture", "<missing>")
        if arch not in SUPPORTED_ARCHITECTURES:
            raise UnsupportedModelError(
                f"{source}: architecture {arch!r} is not supported; "
                f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
            )
        heads = int(meta[f"{arch}.attention.head_count"])
        hidden = int(meta[f"{arch}.embedding_length"])
        if meta.get(f"{arch}.rope.scaling.type", "none") not in ("none", None):
            _reject_rope_scaling({"type": meta[f"{arch}.rope.scaling.type"]}, source)
        return cls(
            vocab_size=vocab_size,
            hidden_size=hidden,
            intermediate_size=int(meta[f"{arch}.feed_forward_length"]),
            num_layers=int(meta[f"{arch}.block_count"]),
            num_heads=heads,
            num_kv_heads=int(meta.get(f"{arch}.attention.head_count_kv", heads)),
            head_dim=int(meta.get(f"{arch}.rope.dimension_count", hidden // heads)),
            rms_norm_eps=float(meta.get(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)),
            rope_theta=float(meta.get(f"{arch}.rope.freq_base", 10000.0)),
            max_position_embeddings=int(meta.get(f"{arch}.context_length", 2048)),
            tie_word_embeddings=not has_output,
        )

    def kv_bytes_per_token(self, dtype: torch.dtype) -> int:
        """Bytes of K and V cache one token occupies across all layers."""
        element = torch.empty((), dtype=dtype).element_size()
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * element


def _reject_rope_scaling(rope_scaling: dict[str, Any] | None, source: str) -> None:
    if not rope_scaling:
        return
    kind = rope_scaling.get("rope_type") or rope_scaling.get("type")
    if kind not in (None, "default"):
        raise UnsupportedModelError(
            f"{source}: rope scaling {kind!r} is not supported; supported: plain RoPE (rope_theta)"
        )


@dataclass(frozen=True)
class EngineConfig:
    """Runtime knobs of the torch engine; every field has a sensible default.

    ``kv_cache_bytes`` is the hard budget for the paged KV cache: the block pool is sized so
    that its tensors never exceed it. ``max_model_len`` caps the context window below the
    model's own. ``max_num_batched_tokens`` is the per-step token budget of the scheduler,
    which also bounds one prefill chunk.
    """

    device: str = "cpu"
    dtype: torch.dtype | str = torch.float32
    num_threads: int | None = None
    kv_cache_bytes: int = 256 * 1024 * 1024
    block_size: int = 16
    max_num_seqs: int = 64
    max_num_batched_tokens: int = 1024
    max_model_len: int | None = None
    enable_prefix_caching: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.dtype, str):
            resolved = getattr(torch, self.dtype, None)
            if not isinstance(resolved, torch.dtype):
                raise ValueError(f"unknown dtype {self.dtype!r}; use float32, bfloat16 or float16")
            object.__setattr__(self, "dtype", resolved)
        if self.block_size <= 0 or self.max_num_seqs <= 0 or self.max_num_batched_tokens <= 0:
            raise ValueError("block_size, max_num_seqs and max_num_batched_tokens must be > 0")
        if self.kv_cache_bytes <= 0:
            raise ValueError("kv_cache_bytes must be > 0")


def resolve_device(device: str | None) -> str:
    """``None``/"auto" picks CUDA when present, else CPU; anything else is validated."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return device


def configure_threads(num_threads: int | None) -> int:
    """Set torch's intra-op threads (default: the CPUs this process may use) and return it."""
    if num_threads is None:
        num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    num_threads = max(1, num_threads)
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
    return num_threads
