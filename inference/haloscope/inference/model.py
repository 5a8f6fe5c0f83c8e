"""Llama-family decoder over flat token batches: RMSNorm, RoPE, GQA, SwiGLU, paged attention.

One decoder serves Llama, Mistral, Qwen2, Qwen3, Gemma 2 and Gemma 3; their differences are
data on :class:`ModelConfig` (Q/K/V bias, per-head Q/K norm, RoPE scaling; Gemma's block:
scaled embeddings, (1 + w) norms applied in float32, norms after attention and around the
MLP, GeGLU, per-layer sliding windows and local RoPE base, soft-capped scores and logits).

Logits are computed only where they are read: when a step's batch names its logit rows
(``AttentionBatch.logit_queries``), the last layer stores every row's K/V and then attends,
projects and runs its MLP for those rows alone; the LM head sees only them too.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from haloscope.inference.attention import (
    AttentionBatch,
    LayerAttention,
    attend_group,
    paged_attention,
    sdpa_backends,
    store_kv,
)
from haloscope.inference.config import ModelConfig
from haloscope.inference.kv_cache import KVCache
from haloscope.inference.rope import apply_rope, rope_inv_freq


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Root-mean-square layer norm, computed in float32 like the reference implementation.

    A float32 ``weight`` scales before the cast back to ``x``'s dtype (Gemma's order), any
    other after it (Llama's); in float32 both are the same product.
    """
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    if weight.dtype == torch.float32:
        return (x32 * weight).to(x.dtype)
    return weight * x32.to(x.dtype)


def _gemma_norms(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Gemma's norm weights are offsets from 1, which it adds in float32."""
    return {
        name: 1.0 + t.float() if name.endswith("norm.weight") else t for name, t in weights.items()
    }


def _rotary(
    inv_freq: torch.Tensor, positions: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE ``cos`` and ``sin`` ([T, head_dim]) at ``positions``."""
    freqs = positions[:, None].float() * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


class _Layer:
    """One decoder layer's weights (Q/K/V and gate/up fused for fewer matmuls) and attention.

    ``attn_out_norm`` / ``mlp_out_norm`` normalise the attention / MLP output before the
    residual add (Gemma; None otherwise); ``mlp_norm`` is the MLP's input norm.
    """

    def __init__(self, weights: dict[str, torch.Tensor], index: int, config: ModelConfig) -> None:
        prefix = f"model.layers.{index}"
        attn, mlp = f"{prefix}.self_attn", f"{prefix}.mlp"
        self.input_norm = weights[f"{prefix}.input_layernorm.weight"]
        post_attention = weights[f"{prefix}.post_attention_layernorm.weight"]
        if config.gemma_block:
            self.attn_out_norm: torch.Tensor | None = post_attention
            self.mlp_norm = weights[f"{prefix}.pre_feedforward_layernorm.weight"]
            self.mlp_out_norm: torch.Tensor | None = weights[
                f"{prefix}.post_feedforward_layernorm.weight"
            ]
        else:
            self.attn_out_norm, self.mlp_norm, self.mlp_out_norm = None, post_attention, None
        self.qkv = torch.cat([weights[f"{attn}.{p}_proj.weight"] for p in "qkv"])
        self.qkv_bias = (
            torch.cat([weights[f"{attn}.{p}_proj.bias"] for p in "qkv"])
            if config.qkv_bias
            else None
        )
        self.q_norm = weights[f"{attn}.q_norm.weight"] if config.qk_norm else None
        self.k_norm = weights[f"{attn}.k_norm.weight"] if config.qk_norm else None
        self.o = weights[f"{attn}.o_proj.weight"]
        self.gate_up = torch.cat(
            [weights[f"{mlp}.gate_proj.weight"], weights[f"{mlp}.up_proj.weight"]]
        )
        self.down = weights[f"{mlp}.down_proj.weight"]
        self.attention = LayerAttention(
            config.attn_scale, config.attn_softcap, index in config.local_layers
        )


class LlamaModel:
    """Inference-only Llama decoder whose attention reads and writes a paged KV cache."""

    def __init__(
        self,
        config: ModelConfig,
        weights: dict[str, torch.Tensor],
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.config = config
        w = {name: t.to(device=device, dtype=dtype) for name, t in weights.items()}
        if config.gemma_block:
            w = _gemma_norms(w)
        self.embed = w["model.embed_tokens.weight"]
        self.embed_scale = (
            torch.tensor(config.hidden_size**0.5).to(device=device, dtype=dtype)
            if config.gemma_block
            else None
        )
        self.activation = partial(F.gelu, approximate="tanh") if config.gemma_block else F.silu
        self.norm = w["model.norm.weight"]
        self.lm_head = self.embed if config.tie_word_embeddings else w["lm_head.weight"]
        self.layers = [_Layer(w, i, config) for i in range(config.num_layers)]
        inv_freq = rope_inv_freq(config.head_dim, config.rope_theta, config.rope_scaling)
        self.inv_freq = inv_freq.to(device)
        self.local_inv_freq = (
            rope_inv_freq(config.head_dim, config.local_rope_theta, None).to(device)
            if config.local_rope_theta is not None
            else self.inv_freq
        )

    @torch.inference_mode()
    def forward(
        self,
        token_ids: torch.Tensor,
        batch: AttentionBatch,
        cache: KVCache,
        logit_rows: torch.Tensor | None = None,
        hidden_layer: int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run ``token_ids`` ([T]) through the decoder and return logits ([R, vocab]).

        The rows are ``logit_rows`` when given (every layer computes every row), else those of
        ``batch.logit_queries`` (the last layer computes only them; none when it is unset).
        With ``hidden_layer`` (1 to layers - 1) it also returns those rows' residual stream
        after that many decoder layers ([R, hidden]), as transformers'
        ``hidden_states[hidden_layer]``.
        """
        if hidden_layer is not None and not 0 < hidden_layer < len(self.layers):
            raise ValueError(f"hidden_layer must be in [1, {len(self.layers) - 1}]")
        with sdpa_backends(token_ids.device):
            logits, hidden = self._forward(token_ids, batch, cache, logit_rows, hidden_layer)
        return logits if hidden_layer is None else (logits, hidden)

    def _forward(
        self,
        token_ids: torch.Tensor,
        batch: AttentionBatch,
        cache: KVCache,
        logit_rows: torch.Tensor | None,
        hidden_layer: int | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        cfg = self.config
        rope = {False: _rotary(self.inv_freq, batch.positions, self.embed.dtype)}
        rope[True] = (
            rope[False]
            if self.local_inv_freq is self.inv_freq
            else _rotary(self.local_inv_freq, batch.positions, self.embed.dtype)
        )
        h = F.embedding(token_ids, self.embed)
        if self.embed_scale is not None:
            h = h * self.embed_scale
        last = len(self.layers) - 1
        if logit_rows is not None:
            read = logit_rows
        elif batch.logit_queries is not None:
            read = batch.logit_queries.rows
        else:
            read = None
        hidden = None
        for index, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, h, *rope[layer.attention.local])
            k_cache, v_cache = cache.k[index], cache.v[index]
            if index == last and logit_rows is None:
                store_kv(k, v, k_cache, v_cache, batch)
                queries = batch.logit_queries
                if queries is None:
                    return h.new_empty((0, self.lm_head.shape[0])), None
                attn = attend_group(q[queries.rows], k_cache, v_cache, queries, layer.attention)
                h = h[queries.rows]
            else:
                attn = paged_attention(q, k, v, k_cache, v_cache, batch, layer.attention)
            h = h + self._out_norm(
                F.linear(attn.reshape(-1, cfg.num_heads * cfg.head_dim), layer.o),
                layer.attn_out_norm,
            )
            x = rms_norm(h, layer.mlp_norm, cfg.rms_norm_eps)
            gate, up = F.linear(x, layer.gate_up).chunk(2, dim=-1)
            mlp = F.linear(self.activation(gate) * up, layer.down)
            h = h + self._out_norm(mlp, layer.mlp_out_norm)
            if index + 1 == hidden_layer and read is not None:
                hidden = h[read].float()
        if logit_rows is not None:
            h = h[logit_rows]
        logits = F.linear(rms_norm(h, self.norm, cfg.rms_norm_eps), self.lm_head)
        if cfg.final_softcap is not None:
            logits = torch.tanh(logits / cfg.final_softcap) * cfg.final_softcap
        return logits, hidden

    def _out_norm(self, x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        """``x`` normalised by ``weight``, or unchanged when the layer has no such norm."""
        return x if weight is None else rms_norm(x, weight, self.config.rms_norm_eps)

    def _qkv(
        self, layer: _Layer, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised, projected and rotated Q, K and V ([T, heads, D] / [T, kv_heads, D])."""
        cfg = self.config
        q_size = cfg.num_heads * cfg.head_dim
        kv_size = cfg.num_kv_heads * cfg.head_dim
        x = rms_norm(h, layer.input_norm, cfg.rms_norm_eps)
        q, k, v = F.linear(x, layer.qkv, layer.qkv_bias).split([q_size, kv_size, kv_size], dim=-1)
        q = q.view(-1, cfg.num_heads, cfg.head_dim)
        k = k.view(-1, cfg.num_kv_heads, cfg.head_dim)
        if layer.q_norm is not None and layer.k_norm is not None:
            q = rms_norm(q, layer.q_norm, cfg.rms_norm_eps)
            k = rms_norm(k, layer.k_norm, cfg.rms_norm_eps)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return q, k, v.view(-1, cfg.num_kv_heads, cfg.head_dim)
