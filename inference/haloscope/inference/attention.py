"""Paged attention: write new K/V into cache slots, read each sequence's K/V via its block table.

On every device this gathers the slots of each sequence into a padded batch and calls
``scaled_dot_product_attention`` with a causal mask that is offset by the tokens already in
the cache. Sequences are grouped by shape (single-token decodes vs. prefill chunks) so the
padding stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AttentionGroup:
    """Padded view of some sequences of a step: which rows they own and which slots they read."""

    rows: torch.Tensor  # [B, n_max] indices into the step's flat token rows (padding: 0)
    valid: torch.Tensor  # [B, n_max] bool, False on padding
    key_slots: torch.Tensor  # [B, L_max] cache slots of each sequence's context (padding: 0)
    mask: torch.Tensor  # [B, 1, n_max, L_max] bool, True where attention is allowed


@dataclass
class AttentionBatch:
    """Everything attention needs for one engine step."""

    positions: torch.Tensor  # [T] position of every new token
    slot_mapping: torch.Tensor  # [T] cache slot each new token's K/V is written to
    groups: list[AttentionGroup]


@dataclass(frozen=True)
class SequenceChunk:
    """One sequence's share of a step: ``num_new`` tokens starting at position ``start``."""

    start: int
    num_new: int
    block_table: Sequence[int]


def build_attention_batch(
    chunks: Sequence[SequenceChunk], block_size: int, device: str
) -> AttentionBatch:
    """Lay out positions, write slots and per-group read slots for ``chunks`` (in row order)."""
    positions: list[int] = []
    slots: list[int] = []
    row_starts: list[int] = []
    for chunk in chunks:
        row_starts.append(len(positions))
        for pos in range(chunk.start, chunk.start + chunk.num_new):
            positions.append(pos)
            slots.append(_slot(chunk.block_table, pos, block_size))
    decode = [i for i, c in enumerate(chunks) if c.num_new == 1]
    prefill = [i for i, c in enumerate(chunks) if c.num_new > 1]
    groups = [
        _group([chunks[i] for i in members], [row_starts[i] for i in members], block_size, device)
        for members in (decode, prefill)
        if members
    ]
    return AttentionBatch(
        positions=torch.tensor(positions, dtype=torch.long, device=device),
        slot_mapping=torch.tensor(slots, dtype=torch.long, device=device),
        groups=groups,
    )


def _slot(block_table: Sequence[int], pos: int, block_size: int) -> int:
    return block_table[pos // block_size] * block_size + pos % block_size


def _group(
    chunks: list[SequenceChunk], row_starts: list[int], block_size: int, device: str
) -> AttentionGroup:
    n_max = max(c.num_new for c in chunks)
    l_max = max(c.start + c.num_new for c in chunks)
    rows = torch.zeros(len(chunks), n_max, dtype=torch.long)
    valid = torch.zeros(len(chunks), n_max, dtype=torch.bool)
    key_slots = torch.zeros(len(chunks), l_max, dtype=torch.long)
    query_pos = torch.zeros(len(chunks), n_max, dtype=torch.long)
    context_len = torch.zeros(len(chunks), 1, dtype=torch.long)
    for b, (chunk, row_start) in enumerate(zip(chunks, row_starts, strict=True)):
        length = chunk.start + chunk.num_new
        rows[b, : chunk.num_new] = torch.arange(row_start, row_start + chunk.num_new)
        valid[b, : chunk.num_new] = True
        query_pos[b, : chunk.num_new] = torch.arange(chunk.start, length)
        table = torch.tensor(chunk.block_table[: -(-length // block_size)], dtype=torch.long)
        all_slots = (table[:, None] * block_size + torch.arange(block_size)).flatten()
        key_slots[b, :length] = all_slots[:length]
        context_len[b] = length
    key_pos = torch.arange(l_max)
    mask = (key_pos[None, None, :] <= query_pos[:, :, None]) & (
        key_pos[None, None, :] < context_len[:, :, None]
    )
    return AttentionGroup(
        rows=rows.to(device),
        valid=valid.to(device),
        key_slots=key_slots.to(device),
        mask=mask[:, None].to(device),
    )


def paged_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    batch: AttentionBatch,
) -> torch.Tensor:
    """Store ``k``/``v`` ([T, kv_heads, D]) in the cache, then attend ``q`` ([T, heads, D])."""
    k_cache.index_copy_(0, batch.slot_mapping, k)
    v_cache.index_copy_(0, batch.slot_mapping, v)
    out = torch.empty_like(q)
    for group in batch.groups:
        q_g = q[group.rows].transpose(1, 2)  # [B, H, n, D]
        k_g = k_cache[group.key_slots].transpose(1, 2)  # [B, KVH, L, D]
        v_g = v_cache[group.key_slots].transpose(1, 2)
        o = F.scaled_dot_product_attention(q_g, k_g, v_g, attn_mask=group.mask, enable_gqa=True)
        o = o.transpose(1, 2)  # [B, n, H, D]
        out[group.rows[group.valid]] = o[group.valid]
    return out
