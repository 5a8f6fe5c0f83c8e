"""Rotary position embedding: inverse frequencies (with Llama 3 / linear scaling) and rotation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

SUPPORTED_ROPE_SCALING = ("default", "linear", "llama3", "dynamic")
"""HF ``rope_type`` values the engine computes exactly (``dynamic`` within the context window)."""


class RopeScalingError(ValueError):
    """A rope scaling type or its parameters that the engine cannot compute exactly."""


@dataclass(frozen=True)
class RopeScaling:
    """How the plain inverse frequencies are rescaled.

    ``linear``: all divided by ``factor``. ``llama3``: low frequencies divided by ``factor``,
    high ones kept, the band between interpolated (Llama 3.1). ``factors``: divided one by one
    by ``freq_factors`` (llama.cpp's ``rope_freqs`` tensor, which stores Llama 3 scaling).
    """

    kind: str
    factor: float = 1.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192
    freq_factors: tuple[float, ...] = ()

    @classmethod
    def from_hf(cls, params: dict[str, Any]) -> RopeScaling | None:
        """Read HF ``rope_parameters``/``rope_scaling``; None for plain RoPE.

        ``dynamic`` (NTK) is plain RoPE up to ``max_position_embeddings`` (transformers only
        rescales beyond it, and the engine never runs past it), so it is None as well.
        """
        kind = params.get("rope_type") or params.get("type") or "default"
        if kind not in SUPPORTED_ROPE_SCALING:
            raise RopeScalingError(
                f"rope scaling {kind!r} is not supported; "
                f"supported: {', '.join(SUPPORTED_ROPE_SCALING)}"
            )
        if kind in ("default", "dynamic"):
            return None
        if kind == "linear":
            return cls("linear", factor=float(params["factor"]))
        return cls(
            "llama3",
            factor=float(params["factor"]),
            low_freq_factor=float(params["low_freq_factor"]),
            high_freq_factor=float(params["high_freq_factor"]),
            original_max_position_embeddings=int(params["original_max_position_embeddings"]),
        )


def rope_inv_freq(head_dim: int, theta: float, scaling: RopeScaling | None) -> torch.Tensor:
    """Inverse frequencies ([head_dim / 2], float32) computed as transformers computes them."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    inv_freq = 1.0 / (theta**exponents)
    if scaling is None:
        return inv_freq
    if scaling.kind == "linear":
        return inv_freq / scaling.factor
    if scaling.kind == "factors":
        return inv_freq / torch.tensor(scaling.freq_factors, dtype=torch.float32)
    return _llama3_inv_freq(inv_freq, scaling)


def _llama3_inv_freq(inv_freq: torch.Tensor, s: RopeScaling) -> torch.Tensor:
    low_freq_wavelen = s.original_max_position_embeddings / s.low_freq_factor
    high_freq_wavelen = s.original_max_position_embeddings / s.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq)
    smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (
        s.high_freq_factor - s.low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding in rotate-half layout; ``x`` is [T, heads, D], ``cos``/``sin`` [T, D]."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]
