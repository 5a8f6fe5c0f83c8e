"""Paged attention: write new K/V into cache slots, read each sequence's K/V via its block table.

Single-token decodes are gathered into one padded batch (padding only along the context).
Each prefill chunk gets its own ``scaled_dot_product_attention`` call at its exact shape, so
short chunks (a prompt whose prefix came from the cache) never pay for the padding of long
ones: a chunk starting at position 0 is plain causal attention over its own fresh K/V; a chunk
after cached tokens reads its context from the cache with a causal mask offset by that context.
The rows whose logits are needed (each completing chunk's last row) also form a decode-style
group over their whole context, so the last layer can attend, project and run its MLP for
those rows only once every row's K/V is stored.

On CUDA, attention runs under :func:`sdpa_backends` (flash, memory-efficient or math; never
cuDNN, which builds a new graph for every new shape: 100-280 ms each on an H100 in bf16/fp16,
and decode and prefill shapes change every step) with K/V expanded to the query heads, since
the fused kernels that take a mask (or run float32) do not take grouped K/V. The CPU path is
``scaled_dot_product_attention(..., enable_gqa=True)`` unchanged.

Sliding-window layers (Mistral, Qwen2/3 with ``use_sliding_window``, Gemma's sliding layers)
read the batch's ``local_mask`` instead of the causal one: keys within ``window`` positions of
the query (transformers' ``kv > q - window``), built only where the window cuts a context.
Soft-capped scores (Gemma 2) run a plain matmul-softmax path, which SDPA cannot express.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

_CUDA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


@dataclass
class DecodeGroup:
    """One query row per sequence over its whole cached context, as one padded batch: the
    step's single-token decodes, or the rows whose logits are read."""

    rows: torch.Tensor  # [B] indices into the step's flat token rows
    key_slots: torch.Tensor  # [B, L_max] cache slots of each sequence's context (padding: 0)
    mask: torch.Tensor  # [B, 1, 1, L_max] bool, False on padding
    local_mask: torch.Tensor | None = None  # as mask, within the window; None: it cuts nothing


@dataclass
class PrefillChunk:
    """One sequence's prefill chunk: ``num_new`` rows from ``row_start`` attending its context."""

    row_start: int
    num_new: int
    key_slots: torch.Tensor | None  # [L] context slots; None when the chunk starts at 0
    mask: torch.Tensor | None  # [num_new, L] bool causal mask offset by the cached context
    local_mask: torch.Tensor | None = None  # as mask, within the window; None: it cuts nothing


@dataclass
class AttentionBatch:
    """Everything attention needs for one engine step."""

    positions: torch.Tensor  # [T] position of every new token
    slot_mapping: torch.Tensor  # [T] cache slot each new token's K/V is written to
    decodes: DecodeGroup | None
    prefills: list[PrefillChunk]
    logit_queries: DecodeGroup | None = None  # last rows of chunks that need logits


@dataclass(frozen=True)
class SequenceChunk:
    """One sequence's share of a step: ``num_new`` tokens starting at position ``start``."""

    start: int
    num_new: int
    block_table: Sequence[int]
    needs_logits: bool = False  # whether the chunk's last row's logits are read


@dataclass(frozen=True)
class LayerAttention:
    """How one layer attends: query ``scale`` (None: head_dim^-0.5), ``tanh(s / softcap) *
    softcap`` of the scores when set, ``local``: within the batch's sliding window."""

    scale: float | None = None
    softcap: float | None = None
    local: bool = False


GLOBAL_ATTENTION = LayerAttention()
"""Plain causal attention scaled by head_dim^-0.5 (Llama, Mistral, Qwen)."""


def build_attention_batch(
    chunks: Sequence[SequenceChunk], block_size: int, device: str, window: int | None = None
) -> AttentionBatch:
    """Lay out positions, write slots and read slots for ``chunks`` (in row order); with
    ``window``, also the sliding-window masks of local layers."""
    offsets = torch.arange(block_size)
    positions, write_slots, decode_rows, decode_slots = [], [], [], []
    logit_rows, logit_slots = [], []
    prefills = []
    row = 0
    for chunk in chunks:
        length = chunk.start + chunk.num_new
        table = torch.tensor(chunk.block_table[: -(-length // block_size)], dtype=torch.long)
        context = (table[:, None] * block_size + offsets).flatten()[:length]
        positions.append(torch.arange(chunk.start, length))
        write_slots.append(context[chunk.start :])
        if chunk.num_new == 1:
            decode_rows.append(row)
            decode_slots.append(context)
        else:
            local = _window_mask(torch.arange(chunk.start, length), length, window, device)
            if chunk.start == 0:
                prefills.append(PrefillChunk(row, chunk.num_new, None, None, local))
            else:
                mask = torch.ones(chunk.num_new, length, dtype=torch.bool).tril(chunk.start)
                slots = context.to(device)
                prefills.append(PrefillChunk(row, chunk.num_new, slots, mask.to(device), local))
        row += chunk.num_new
        if chunk.needs_logits:
            logit_rows.append(row - 1)
            logit_slots.append(context)
    return AttentionBatch(
        positions=torch.cat(positions).to(device),
        slot_mapping=torch.cat(write_slots).to(device),
        decodes=_decode_group(decode_rows, decode_slots, window, device) if decode_rows else None,
        prefills=prefills,
        logit_queries=(
            _decode_group(logit_rows, logit_slots, window, device) if logit_rows else None
        ),
    )


def _window_mask(
    positions: torch.Tensor, num_keys: int, window: int | None, device: str
) -> torch.Tensor | None:
    """[Q, num_keys] bool: keys at or before each query position and within ``window`` of it;
    None when there is no window or it cuts no key (the causal mask then applies)."""
    if window is None or num_keys <= window:
        return None
    keys = torch.arange(num_keys)[None, :]
    mask = (keys <= positions[:, None]) & (keys > positions[:, None] - window)
    return mask.to(device)


def _decode_group(
    rows: list[int], contexts: list[torch.Tensor], window: int | None, device: str
) -> DecodeGroup:
    lengths = torch.tensor([len(c) for c in contexts])
    key_slots = torch.nn.utils.rnn.pad_sequence(contexts, batch_first=True)
    mask = torch.arange(key_slots.shape[1])[None, :] < lengths[:, None]
    local = _window_mask(lengths - 1, key_slots.shape[1], window, device)
    return DecodeGroup(
        rows=torch.tensor(rows, dtype=torch.long, device=device),
        key_slots=key_slots.to(device),
        mask=mask[:, None, None, :].to(device),
        local_mask=None if local is None else local[:, None, None, :],
    )


def sdpa_backends(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Context for one model step's attention: on CUDA, every SDPA backend but cuDNN."""
    if torch.device(device).type == "cuda":
        return sdpa_kernel(_CUDA_BACKENDS)
    return contextlib.nullcontext()


def _sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    layer: LayerAttention,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Attention of ``q`` ([B, H, n, D]) over grouped ``k``/``v`` ([B, KVH, L, D]), causal when
    ``mask`` is None: ``scaled_dot_product_attention`` (on CUDA with K/V repeated to H heads so
    that a fused kernel can run), or :func:`_softcapped` for soft-capped scores."""
    is_causal = mask is None
    if layer.softcap is not None:
        scale = layer.scale if layer.scale is not None else q.shape[-1] ** -0.5
        return _softcapped(q, k, v, scale, layer.softcap, mask)
    if q.is_cuda:
        groups = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal, scale=layer.scale
        )
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=is_causal, scale=layer.scale, enable_gqa=True
    )


def _softcapped(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    cap: float,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    """Attention with ``tanh(s / cap) * cap`` scores, computed as transformers' eager Gemma 2."""
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = torch.tanh(torch.matmul(q, k.transpose(-1, -2)) * scale / cap) * cap
    if mask is None:
        mask = torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype), v)


def store_kv(
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    batch: AttentionBatch,
) -> None:
    """Write the step's new ``k``/``v`` ([T, kv_heads, D]) to their cache slots."""
    k_cache.index_copy_(0, batch.slot_mapping, k)
    v_cache.index_copy_(0, batch.slot_mapping, v)


def attend_group(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    group: DecodeGroup,
    layer: LayerAttention = GLOBAL_ATTENTION,
) -> torch.Tensor:
    """One query per sequence (``q``: [B, heads, D]) over its cached context -> [B, heads, D]."""
    local = layer.local and group.local_mask is not None
    o = _sdpa(
        q[:, :, None],  # [B, H, 1, D]
        k_cache[group.key_slots].transpose(1, 2),  # [B, KVH, L, D]
        v_cache[group.key_slots].transpose(1, 2),
        layer,
        mask=group.local_mask if local else group.mask,
    )
    return o[:, :, 0]


def paged_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    batch: AttentionBatch,
    layer: LayerAttention = GLOBAL_ATTENTION,
) -> torch.Tensor:
    """Store ``k``/``v`` ([T, kv_heads, D]) in the cache, then attend ``q`` ([T, heads, D])."""
    store_kv(k, v, k_cache, v_cache, batch)
    out = torch.empty_like(q)
    for chunk in batch.prefills:
        rows = slice(chunk.row_start, chunk.row_start + chunk.num_new)
        if chunk.key_slots is None:
            k_c, v_c = k[rows], v[rows]
        else:
            k_c, v_c = k_cache[chunk.key_slots], v_cache[chunk.key_slots]
        o = _sdpa(
            q[rows].transpose(0, 1)[None],  # [1, H, n, D]
            k_c.transpose(0, 1)[None],  # [1, KVH, L, D]
            v_c.transpose(0, 1)[None],
            layer,
            mask=chunk.local_mask if layer.local and chunk.local_mask is not None else chunk.mask,
        )
        out[rows] = o[0].transpose(0, 1)
    if batch.decodes is not None:
        rows = batch.decodes.rows
        out[rows] = attend_group(q[rows], k_cache, v_cache, batch.decodes, layer)
    return out
