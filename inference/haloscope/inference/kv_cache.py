"""The paged KV cache tensors, sized from a byte budget that they never exceed."""

from __future__ import annotations

import torch
from haloscope.inference.config import ModelConfig


class KVCache:
    """K and V for every layer, laid out as ``num_blocks * block_size`` token slots.

    A token's slot is ``block_id * block_size + offset``; block tables map a sequence's
    positions to slots. The tensors are allocated once; nothing else grows with load.
    """

    def __init__(
        self,
        config: ModelConfig,
        budget_bytes: int,
        block_size: int,
        dtype: torch.dtype,
        device: str,
    ) -> None:
        bytes_per_block = block_size * config.kv_bytes_per_token(dtype)
        self.num_blocks = budget_bytes // bytes_per_block
        self.block_size = block_size
        self.budget_bytes = budget_bytes
        shape = (
            config.num_layers,
            self.num_blocks * block_size,
            config.num_kv_heads,
            config.head_dim,
        )
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)

    @property
    def nbytes(self) -> int:
        """Bytes held by the K and V tensors (always <= the budget)."""
        return self.k.nbytes + self.v.nbytes
