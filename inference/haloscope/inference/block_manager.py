"""Paged KV block accounting: per-sequence block tables, a free pool, prefix caching.

A block holds the K/V of ``block_size`` consecutive tokens. A *full* block whose K/V has
been computed is registered under a hash chained over every token before and in it, so a
later sequence with the same token prefix can share it (reference counted) instead of
recomputing it. Blocks whose reference count drops to zero go back to the free pool but keep
their hash: they are still hits until allocation reuses them, least recently freed first (LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

from haloscope.inference.sequence import Sequence

_NO_HASH = -1


def chain_hash(parent: int, tokens: Seq[int]) -> int:
    """Hash of a full block given the hash of the block before it (``-1`` for the first)."""
    return hash((parent, *tokens))


@dataclass
class Block:
    """One KV block: reference count plus, once full and computed, its prefix hash."""

    block_id: int
    ref_count: int = 0
    hash: int = _NO_HASH
    token_ids: tuple[int, ...] = field(default_factory=tuple)


class BlockManager:
    """Hands out KV blocks to sequences and shares identical prefixes between them."""

    def __init__(self, num_blocks: int, block_size: int, enable_prefix_caching: bool) -> None:
        if num_blocks <= 0:
            raise ValueError("the KV budget leaves room for no block; raise kv_cache_bytes")
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.enable_prefix_caching = enable_prefix_caching
        self.blocks = [Block(i) for i in range(num_blocks)]
        self._free: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))
        self._by_hash: dict[int, int] = {}

    @property
    def num_free(self) -> int:
        """Blocks that can be handed out now (cached-but-unreferenced blocks count as free)."""
        return len(self._free)

    @property
    def num_used(self) -> int:
        """Blocks referenced by at least one live sequence."""
        return self.num_blocks - len(self._free)

    def blocks_needed(self, num_tokens: int) -> int:
        """Blocks a sequence of ``num_tokens`` tokens occupies."""
        return -(-num_tokens // self.block_size)

    def allocate(self, seq: Sequence, use_prefix_cache: bool = True) -> bool:
        """Give ``seq`` blocks for all its tokens, reusing cached prefix blocks.

        Returns False (allocating nothing) when the free pool is too small. Sets
        ``seq.num_cached_tokens``/``seq.num_computed_tokens`` to the reused prefix length. The
        block holding the first position whose logits are read (the last token, or the token
        before a scored continuation) is never taken from the cache, so the engine computes
        every row it reads logits from.
        """
        assert not seq.block_table, "sequence already holds blocks"
        use_cache = self.enable_prefix_caching and use_prefix_cache
        hits = self._cached_prefix(seq) if use_cache else []
        fresh = self.blocks_needed(len(seq.token_ids)) - len(hits)
        revived = sum(1 for b in hits if self.blocks[b].ref_count == 0)
        if fresh + revived > self.num_free:
            return False
        for block_id in hits:
            self._acquire(block_id)
        seq.block_table = hits + [self._take_free() for _ in range(fresh)]
        seq.num_cached_tokens = seq.num_computed_tokens = len(hits) * self.block_size
        seq.num_hashed_blocks = len(hits)
        return True

    def first_uncached_hash(self, seq: Sequence) -> int | None:
        """Hash of the first block of ``seq`` that could come from the cache but is not there.

        None when caching is off or every shareable block of ``seq`` is cached already.
        """
        if not self.enable_prefix_caching:
            return None
        index = len(self._cached_prefix(seq))
        hashes = self._block_hashes(seq, self._num_shareable(seq))
        return hashes[index] if index < len(hashes) else None

    def hashes_in_progress(self, seq: Sequence) -> list[int]:
        """Hashes of the full blocks ``seq`` holds and will compute but has not registered yet."""
        if not self.enable_prefix_caching or not seq.block_table:
            return []
        full = len(seq.token_ids) // self.block_size
        return self._block_hashes(seq, full)[seq.num_hashed_blocks : full]

    def can_append(self, seq: Sequence) -> bool:
        """Whether ``seq`` can grow by one token (needs a block only at a block boundary)."""
        return len(seq.token_ids) <= len(seq.block_table) * self.block_size or self.num_free > 0

    def append_slot(self, seq: Sequence) -> None:
        """Make room for the token just appended to ``seq``; call after ``can_append``."""
        if len(seq.token_ids) > len(seq.block_table) * self.block_size:
            seq.block_table.append(self._take_free())

    def register_computed(self, seq: Sequence) -> None:
        """Register ``seq``'s newly completed full blocks in the prefix cache."""
        if not self.enable_prefix_caching:
            return
        full = seq.num_computed_tokens // self.block_size
        hashes = self._block_hashes(seq, full)
        for index in range(seq.num_hashed_blocks, full):
            block = self.blocks[seq.block_table[index]]
            if hashes[index] not in self._by_hash:
                start = index * self.block_size
                block.hash = hashes[index]
                block.token_ids = tuple(seq.token_ids[start : start + self.block_size])
                self._by_hash[block.hash] = block.block_id
        seq.num_hashed_blocks = max(seq.num_hashed_blocks, full)

    def free(self, seq: Sequence) -> None:
        """Release ``seq``'s blocks (most-shared prefix blocks return to the pool last)."""
        for block_id in reversed(seq.block_table):
            block = self.blocks[block_id]
            block.ref_count -= 1
            if block.ref_count == 0:
                self._free[block_id] = None
        seq.block_table = []
        seq.num_hashed_blocks = 0

    def _num_shareable(self, seq: Sequence) -> int:
        """Full blocks of ``seq`` that may come from the cache: those before the block of the
        first position whose logits are read."""
        return seq.first_logit_position // self.block_size

    def _block_hashes(self, seq: Sequence, num_blocks: int) -> list[int]:
        """Chained hashes of the first ``num_blocks`` full blocks, memoised on ``seq``."""
        hashes = seq.block_hashes
        size = self.block_size
        for index in range(len(hashes), num_blocks):
            parent = hashes[-1] if hashes else _NO_HASH
            hashes.append(chain_hash(parent, seq.token_ids[index * size : (index + 1) * size]))
        return hashes

    def _cached_prefix(self, seq: Sequence) -> list[int]:
        hits: list[int] = []
        size = self.block_size
        for index, block_hash in enumerate(self._block_hashes(seq, self._num_shareable(seq))):
            block_id = self._by_hash.get(block_hash)
            if block_id is None or self.blocks[block_id].token_ids != tuple(
                seq.token_ids[index * size : (index + 1) * size]
            ):
                break
            hits.append(block_id)
        return hits

    def _acquire(self, block_id: int) -> None:
        block = self.blocks[block_id]
        if block.ref_count == 0:
            del self._free[block_id]
        block.ref_count += 1

    def _take_free(self) -> int:
        block_id, _ = self._free.popitem(last=False)
        block = self.blocks[block_id]
        if block.hash != _NO_HASH:
            del self._by_hash[block.hash]
            block.hash, block.token_ids = _NO_HASH, ()
        block.ref_count = 1
        return block_id
