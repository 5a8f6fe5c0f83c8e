"""Model and engine configuration: the decoder's shape, read from GGUF metadata or HF config.json."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from haloscope.inference.rope import RopeScaling, RopeScalingError

SUPPORTED_ARCHITECTURES = ("llama", "mistral", "qwen2", "qwen3")
"""Architectures the torch engine can run (GGUF ``general.architecture`` / HF ``model_type``)."""

_QKV_BIAS = frozenset({"qwen2"})
"""Families whose Q/K/V projections always carry a bias."""
_QK_NORM = frozenset({"qwen3"})
"""Families that RMS-normalise each head of Q and K before RoPE."""


class UnsupportedModelError(ValueError):
    """The model file exists but its architecture or format is not one the engine runs."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a Llama-family decoder, and the per-family features the one decoder reads.

    ``qkv_bias``: Q/K/V projections have biases (Qwen2). ``qk_norm``: per-head RMSNorm of Q
    and K before RoPE (Qwen3). ``rope_scaling``: rescaled RoPE frequencies (Llama 3.1+).
    ``sliding_window``: attention span of sliding-window layers; the engine caps its context
    there (:attr:`context_length`), where a window mask equals the causal mask.
    """

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
    architecture: str = "llama"
    qkv_bias: bool = False
    qk_norm: bool = False
    rope_scaling: RopeScaling | None = None
    sliding_window: int | None = None

    @property
    def context_length(self) -> int:
        """Longest sequence the engine computes exactly: the model's, capped at the window."""
        if self.sliding_window is None:
            return self.max_position_embeddings
        return min(self.max_position_embeddings, self.sliding_window)

    @classmethod
    def from_hf_config(cls, config: dict[str, Any], source: str) -> ModelConfig:
        """Build from a Hugging Face ``config.json`` dict; ``source`` names the file in errors."""
        model_type = _check_architecture(
            config.get("model_type", "<missing>"), "model_type", source
        )
        for flag in ("attention_bias", "mlp_bias"):
            if config.get(flag):
                raise UnsupportedModelError(f"{source}: {flag}=true is not supported")
        # transformers >= 5 writes rope settings under "rope_parameters"; older: top level.
        rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
        rope_scaling = _rope_scaling(rope, source)
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
            architecture=model_type,
            qkv_bias=model_type in _QKV_BIAS,
            qk_norm=model_type in _QK_NORM,
            rope_scaling=rope_scaling,
            sliding_window=_hf_sliding_window(config),
        )

    @classmethod
    def from_gguf_metadata(
        cls, meta: dict[str, Any], vocab_size: int, has_output: bool, source: str
    ) -> ModelConfig:
        """Build from GGUF key/values (``<arch>.*``); ``has_output`` is False for tied embeddings.

        Llama 3 scaling arrives as the ``rope_freqs`` tensor, which the loader adds.
        """
        arch = _check_architecture(
            meta.get("general.architecture", "<missing>"), "architecture", source
        )
        heads = int(meta[f"{arch}.attention.head_count"])
        hidden = int(meta[f"{arch}.embedding_length"])
        scaling_type = meta.get(f"{arch}.rope.scaling.type") or "none"
        scaling = {"none": "default"}.get(scaling_type, scaling_type)
        head_dim = meta.get(f"{arch}.attention.key_length") or meta.get(
            f"{arch}.rope.dimension_count"
        )
        return cls(
            vocab_size=vocab_size,
            hidden_size=hidden,
            intermediate_size=int(meta[f"{arch}.feed_forward_length"]),
            num_layers=int(meta[f"{arch}.block_count"]),
            num_heads=heads,
            num_kv_heads=int(meta.get(f"{arch}.attention.head_count_kv", heads)),
            head_dim=int(head_dim or hidden // heads),
            rms_norm_eps=float(meta.get(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)),
            rope_theta=float(meta.get(f"{arch}.rope.freq_base", 10000.0)),
            max_position_embeddings=int(meta.get(f"{arch}.context_length", 2048)),
            tie_word_embeddings=not has_output,
            architecture=arch,
            qkv_bias=arch in _QKV_BIAS,
            qk_norm=arch in _QK_NORM,
            rope_scaling=_rope_scaling(
                {"type": scaling, "factor": meta.get(f"{arch}.rope.scaling.factor")}, source
            ),
        )

    def kv_bytes_per_token(self, dtype: torch.dtype) -> int:
        """Bytes of K and V cache one token occupies across all layers."""
        element = torch.empty((), dtype=dtype).element_size()
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * element


def _check_architecture(found: str, key: str, source: str) -> str:
    if found not in SUPPORTED_ARCHITECTURES:
        raise UnsupportedModelError(
            f"{source}: {key} {found!r} is not supported; "
            f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    return found


def _rope_scaling(params: dict[str, Any], source: str) -> RopeScaling | None:
    try:
        return RopeScaling.from_hf(params)
    except RopeScalingError as error:
        raise UnsupportedModelError(f"{source}: {error}") from None


def _hf_sliding_window(config: dict[str, Any]) -> int | None:
    """The window if any layer uses one: Mistral's ``sliding_window``, Qwen's sliding layers."""
    window = config.get("sliding_window")
    if config.get("model_type") == "mistral" or window is None:
        return window
    layer_types = config.get("layer_types")
    if layer_types is None:
        return window if config.get("use_sliding_window") else None
    return window if "sliding_attention" in layer_types else None


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
