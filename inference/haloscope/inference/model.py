"""Llama-family decoder over flat token batches: RMSNorm, RoPE, GQA, SwiGLU, paged attention.

One decoder serves Llama, Mistral, Qwen2 and Qwen3; their differences are data on
:class:`ModelConfig` (Q/K/V bias, per-head Q/K norm, RoPE scaling).

Logits are computed only where they are read: when a step's batch names its logit rows
(``AttentionBatch.logit_queries``), the last layer stores every row's K/V and then attends,
projects and runs its MLP for those rows alone; the LM head sees only them too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from haloscope.inference.attention import (
    AttentionBatch,
    attend_group,
    paged_attention,
    sdpa_backends,
    store_kv,
)
from haloscope.inference.config import ModelConfig
from haloscope.inference.kv_cache import KVCache
from haloscope.inference.rope import apply_rope, rope_inv_freq


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Root-mean-square layer norm, computed in float32 like the reference implementation."""
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


class _Layer:
    """One decoder layer's weights (Q/K/V and gate/up fused for fewer matmuls)."""

    def __init__(self, weights: dict[str, torch.Tensor], prefix: str, config: ModelConfig) -> None:
        attn, mlp = f"{prefix}.self_attn", f"{prefix}.mlp"
        self.input_norm = weights[f"{prefix}.input_layernorm.weight"]
        self.post_norm = weights[f"{prefix}.post_attention_layernorm.weight"]
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
        self.embed = w["model.embed_tokens.weight"]
        self.norm = w["model.norm.weight"]
        self.lm_head = self.embed if config.tie_word_embeddings else w["lm_head.weight"]
        self.layers = [_Layer(w, f"model.layers.{i}", config) for i in range(config.num_layers)]
        inv_freq = rope_inv_freq(config.head_dim, config.rope_theta, config.rope_scaling)
        self.inv_freq = inv_freq.to(device)

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
        freqs = batch.positions[:, None].float() * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(self.embed.dtype), emb.sin().to(self.embed.dtype)
        h = F.embedding(token_ids, self.embed)
        last = len(self.layers) - 1
        if logit_rows is not None:
            read = logit_rows
        elif batch.logit_queries is not None:
            read = batch.logit_queries.rows
        else:
            read = None
        hidden = None
        for index, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, h, cos, sin)
            k_cache, v_cache = cache.k[index], cache.v[index]
            if index == last and logit_rows is None:
                store_kv(k, v, k_cache, v_cache, batch)
                queries = batch.logit_queries
                if queries is None:
                    return h.new_empty((0, self.lm_head.shape[0])), None
                attn = attend_group(q[queries.rows], k_cache, v_cache, queries)
                h = h[queries.rows]
            else:
                attn = paged_attention(q, k, v, k_cache, v_cache, batch)
            h = h + F.linear(attn.reshape(-1, cfg.num_heads * cfg.head_dim), layer.o)
            x = rms_norm(h, layer.post_norm, cfg.rms_norm_eps)
            gate, up = F.linear(x, layer.gate_up).chunk(2, dim=-1)
            h = h + F.linear(F.silu(gate) * up, layer.down)
            if index + 1 == hidden_layer and read is not None:
                hidden = h[read].float()
        if logit_rows is not None:
            h = h[logit_rows]
        return F.linear(rms_norm(h, self.norm, cfg.rms_norm_eps), self.lm_head), hidden

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
