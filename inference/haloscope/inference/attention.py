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


@dataclass
class PrefillChunk:
    """One sequence's prefill chunk: ``num_new`` rows from ``row_start`` attending its context."""

    row_start: int
    num_new: int
    key_slots: torch.Tensor | None  # [L] context slots; None when the chunk starts at 0
    mask: torch.Tensor | None  # [num_new, L] bool causal mask offset by the cached context


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


def build_attention_batch(
    chunks: Sequence[SequenceChunk], block_size: int, device: str
) -> AttentionBatch:
    """Lay out positions, write slots and read slots for ``chunks`` (in row order)."""
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
        elif chunk.start == 0:
            prefills.append(PrefillChunk(row, chunk.num_new, None, None))
        else:
            mask = torch.ones(chunk.num_new, length, dtype=torch.bool).tril(chunk.start)
            prefills.append(PrefillChunk(row, chunk.num_new, context.to(device), mask.to(device)))
        row += chunk.num_new
        if chunk.needs_logits:
            logit_rows.append(row - 1)
            logit_slots.append(context)
    return AttentionBatch(
        positions=torch.cat(positions).to(device),
        slot_mapping=torch.cat(write_slots).to(device),
        decodes=_decode_group(decode_rows, decode_slots, device) if decode_rows else None,
        prefills=prefills,
        logit_queries=_decode_group(logit_rows, logit_slots, device) if logit_rows else None,
    )


def _decode_group(rows: list[int], contexts: list[torch.Tensor], device: str) -> DecodeGroup:
    lengths = torch.tensor([len(c) for c in contexts])
    key_slots = torch.nn.utils.rnn.pad_sequence(contexts, batch_first=True)
    mask = torch.arange(key_slots.shape[1])[None, :] < lengths[:, None]
    return DecodeGroup(
        rows=torch.tensor(rows, dtype=torch.long, device=device),
        key_slots=key_slots.to(device),
        mask=mask[:, None, None, :].to(device),
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
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    """``scaled_dot_product_attention`` of ``q`` ([B, H, n, D]) over grouped ``k``/``v``
    ([B, KVH, L, D]); on CUDA with K/V repeated to H heads so that a fused kernel can run."""
    if q.is_cuda:
        groups = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=True
    )


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
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, group: DecodeGroup
) -> torch.Tensor:
    """One query per sequence (``q``: [B, heads, D]) over its cached context -> [B, heads, D]."""
    o = _sdpa(
        q[:, :, None],  # [B, H, 1, D]
        k_cache[group.key_slots].transpose(1, 2),  # [B, KVH, L, D]
        v_cache[group.key_slots].transpose(1, 2),
        mask=group.mask,
    )
    return o[:, :, 0]


def paged_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    batch: AttentionBatch,
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
            mask=chunk.mask,
            is_causal=chunk.mask is None,
        )
        out[rows] = o[0].transpose(0, 1)
    if batch.decodes is not None:
        rows = batch.decodes.rows
        out[rows] = attend_group(q[rows], k_cache, v_cache, batch.decodes)
    return out
