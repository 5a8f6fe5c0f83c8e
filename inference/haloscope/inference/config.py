"""Model and engine configuration: the decoder's shape, read from GGUF metadata or HF config.json."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from haloscope.inference.rope import RopeScaling, RopeScalingError

SUPPORTED_ARCHITECTURES = ("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "gemma3_text")
"""Architectures the torch engine can run (GGUF ``general.architecture`` / HF ``model_type``;
Gemma 3 is ``gemma3`` in GGUF and ``gemma3_text`` in HF, whose ``gemma3`` is multimodal)."""

_QKV_BIAS = frozenset({"qwen2"})
"""Families whose Q/K/V projections always carry a bias."""
_QK_NORM = frozenset({"qwen3", "gemma3", "gemma3_text"})
"""Families that RMS-normalise each head of Q and K before RoPE."""
_GEMMA = frozenset({"gemma2", "gemma3", "gemma3_text"})
"""Families with Gemma's block: scaled embeddings, (1 + w) norms, sandwich norms, GeGLU."""
_GEMMA_WINDOW_PATTERN = {"gemma2": 2, "gemma3": 6, "gemma3_text": 6}
"""Every n-th layer is global, the others sliding (when the config lists no ``layer_types``)."""
_GEMMA_27B_LAYERS = {"gemma2": 46, "gemma3": 62}
"""llama.cpp scales Gemma 27B queries by (hidden / heads)^-0.5, the others by head_dim^-0.5."""
_GGUF_GEMMA3_LOCAL_THETA = 10000.0
"""RoPE base of Gemma 3's sliding layers, fixed in llama.cpp (GGUF carries no key for it)."""


class UnsupportedModelError(ValueError):
    """The model file exists but its architecture or format is not one the engine runs."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a Llama-family decoder, and the per-family features the one decoder reads.

    ``qkv_bias``: Q/K/V projections have biases (Qwen2). ``qk_norm``: per-head RMSNorm of Q
    and K before RoPE (Qwen3). ``rope_scaling``: rescaled RoPE frequencies (Llama 3.1+).
    ``sliding_window``: attention span of the layers listed in ``local_layers``, which attend
    only to the last ``sliding_window`` positions (Mistral, Qwen2/3 with
    ``use_sliding_window``, Gemma's sliding layers); other layers attend to the whole context.
    ``local_rope_theta``: RoPE base of the local layers (Gemma 3; None: the global one).

    Gemma's block (``gemma_block``): embeddings scaled by sqrt(hidden), RMSNorm weights stored
    as offsets from 1 and applied in float32, norms also after attention and around the MLP,
    GeGLU (tanh GELU). ``attn_scale``: query scale (None: head_dim^-0.5). ``attn_softcap`` /
    ``final_softcap``: ``tanh(x / cap) * cap`` of attention scores / logits (Gemma 2).
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
    local_layers: tuple[int, ...] = ()
    local_rope_theta: float | None = None
    gemma_block: bool = False
    attn_scale: float | None = None
    attn_softcap: float | None = None
    final_softcap: float | None = None

    @property
    def context_length(self) -> int:
        """Longest sequence the engine computes exactly (``max_position_embeddings``)."""
        return self.max_position_embeddings

    @property
    def masked_window(self) -> int | None:
        """The window that attention masks on ``local_layers``; None when none is masked."""
        return self.sliding_window if self.local_layers else None

    @classmethod
    def from_hf_config(cls, config: dict[str, Any], source: str) -> ModelConfig:
        """Build from a Hugging Face ``config.json`` dict; ``source`` names the file in errors."""
        model_type = _check_architecture(
            config.get("model_type", "<missing>"), "model_type", source
        )
        if model_type == "gemma3":
            raise UnsupportedModelError(f"{source}: multimodal gemma3; use its text model")
        for flag in ("attention_bias", "mlp_bias", "use_bidirectional_attention"):
            if config.get(flag):
                raise UnsupportedModelError(f"{source}: {flag}=true is not supported")
        # transformers >= 5 writes rope settings under "rope_parameters"; older: top level.
        rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
        local_rope_theta = config.get("rope_local_base_freq")
        if "full_attention" in rope:  # Gemma 3 in transformers >= 5: per layer type
            local = rope["sliding_attention"]
            if _rope_scaling(local, source) is not None:
                raise UnsupportedModelError(f"{source}: scaled RoPE on sliding layers")
            rope, local_rope_theta = rope["full_attention"], local["rope_theta"]
        rope_scaling = _rope_scaling(rope, source)
        if model_type in _GEMMA:
            window_fields = _hf_gemma_fields(config, local_rope_theta)
        else:
            window_fields = _hf_window_fields(config)
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
            **window_fields,
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
        head_dim = int(
            meta.get(f"{arch}.attention.key_length")
            or meta.get(f"{arch}.rope.dimension_count")
            or hidden // heads
        )
        gemma = _gguf_gemma_fields(meta, arch, head_dim) if arch in _GEMMA else {}
        return cls(
            vocab_size=vocab_size,
            hidden_size=hidden,
            intermediate_size=int(meta[f"{arch}.feed_forward_length"]),
            num_layers=int(meta[f"{arch}.block_count"]),
            num_heads=heads,
            num_kv_heads=int(meta.get(f"{arch}.attention.head_count_kv", heads)),
            head_dim=head_dim,
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
            **gemma,
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


def _hf_window_fields(config: dict[str, Any]) -> dict[str, Any]:
    """Sliding window and the layers that use it, as transformers reads them: ``layer_types``
    when the config lists them; else Mistral's ``sliding_window`` on every layer; else (Qwen2,
    Qwen3) with ``use_sliding_window`` the layers from ``max_window_layers`` (default 28) on."""
    window, layers = config.get("sliding_window"), config["num_hidden_layers"]
    layer_types = config.get("layer_types")
    if layer_types is not None:
        local = tuple(i for i, kind in enumerate(layer_types) if kind == "sliding_attention")
    elif config.get("model_type") == "mistral":
        local = tuple(range(layers))
    elif config.get("use_sliding_window"):
        local = tuple(range(config.get("max_window_layers", 28), layers))
    else:
        local = ()
    if not window or not local:
        return {}
    return {"sliding_window": int(window), "local_layers": local}


def _window_pattern(num_layers: int, every: int) -> tuple[int, ...]:
    """Sliding layers when every ``every``-th layer is global (HF's and llama.cpp's rule)."""
    return tuple(i for i in range(num_layers) if i % every != every - 1)


def _hf_gemma_fields(config: dict[str, Any], local_rope_theta: float | None) -> dict[str, Any]:
    """Gemma's :class:`ModelConfig` fields (window included) from its HF config (transformers ignores
    ``attn_logit_softcapping`` in Gemma 3, so the engine does too)."""
    model_type, layers = config["model_type"], config["num_hidden_layers"]
    layer_types = config.get("layer_types")
    if layer_types is None:
        pattern = config.get("sliding_window_pattern", _GEMMA_WINDOW_PATTERN[model_type])
        local_layers = _window_pattern(layers, pattern)
    else:
        local_layers = tuple(i for i, t in enumerate(layer_types) if t == "sliding_attention")
    gemma3, window = model_type == "gemma3_text", config.get("sliding_window")
    return {
        "sliding_window": window if window and local_layers else None,
        "local_layers": local_layers if window else (),
        "local_rope_theta": (local_rope_theta or 10000.0) if gemma3 else None,
        "gemma_block": True,
        "attn_scale": config.get("query_pre_attn_scalar", config["head_dim"]) ** -0.5,
        "attn_softcap": None if gemma3 else config.get("attn_logit_softcapping"),
        "final_softcap": config.get("final_logit_softcapping"),
    }


def _gguf_gemma_fields(meta: dict[str, Any], arch: str, head_dim: int) -> dict[str, Any]:
    """Gemma's :class:`ModelConfig` fields from GGUF, as llama.cpp reads them: window pattern,
    Gemma 3's local RoPE base and the query scale fixed per architecture unless the file has
    ``attention.scale``; attention soft-capping for Gemma 2 only."""
    layers = int(meta[f"{arch}.block_count"])
    window = meta.get(f"{arch}.attention.sliding_window")
    scale = meta.get(f"{arch}.attention.scale")
    if scale is None and layers == _GEMMA_27B_LAYERS[arch]:
        hidden, heads = meta[f"{arch}.embedding_length"], meta[f"{arch}.attention.head_count"]
        scale = (hidden // heads) ** -0.5
    final = meta.get(f"{arch}.final_logit_softcapping")
    attn = meta.get(f"{arch}.attn_logit_softcapping") if arch == "gemma2" else None
    return {
        "sliding_window": int(window) if window else None,
        "local_layers": _window_pattern(layers, _GEMMA_WINDOW_PATTERN[arch]) if window else (),
        "local_rope_theta": _GGUF_GEMMA3_LOCAL_THETA if arch == "gemma3" and window else None,
        "gemma_block": True,
        "attn_scale": float(scale) if scale is not None else head_dim**-0.5,
        "attn_softcap": float(attn) if attn else None,
        "final_softcap": float(final) if final else None,
    }


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
