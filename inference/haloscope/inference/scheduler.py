"""Continuous batching: every step decodes the running sequences, continues chunked prefills and
admits waiting sequences within a token budget; preempts the newest sequence when blocks run out.

Admission is prefix-aware: a waiting sequence whose next uncached block is being computed by a
running sequence (same chained hash) waits until that block is committed to the prefix cache,
then reuses it instead of computing it a second time. Other waiting sequences go ahead of it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from haloscope.inference.block_manager import BlockManager
from haloscope.inference.sequence import Sequence, SequenceStatus


@dataclass
class ScheduledStep:
    """The work of one model step: each sequence with the number of new tokens it runs."""

    seqs: list[Sequence] = field(default_factory=list)
    num_new: list[int] = field(default_factory=list)
    num_preempted: int = 0

    def add(self, seq: Sequence, n: int) -> None:
        """Schedule ``n`` tokens of ``seq``."""
        self.seqs.append(seq)
        self.num_new.append(n)


class Scheduler:
    """Owns the waiting queue and the running set; decides what each step computes."""

    def __init__(
        self, blocks: BlockManager, max_num_seqs: int, max_num_batched_tokens: int
    ) -> None:
        self.blocks = blocks
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []

    @property
    def has_work(self) -> bool:
        """Whether any sequence is queued or in flight."""
        return bool(self.waiting or self.running)

    def add(self, seq: Sequence) -> None:
        """Queue ``seq`` (first come, first served, apart from waits for shared blocks)."""
        seq.status = SequenceStatus.WAITING
        self.waiting.append(seq)

    def schedule(self) -> ScheduledStep:
        """Pick this step's work: decodes, then prefill chunks, then new admissions."""
        step = ScheduledStep()
        budget = self.max_num_batched_tokens
        for seq in list(self.running):
            if seq.status is not SequenceStatus.RUNNING or budget == 0:
                continue
            if seq.is_decoding:
                if not self._make_room(seq, step):
                    continue
                self.blocks.append_slot(seq)
                step.add(seq, 1)
                budget -= 1
            else:
                n = min(seq.num_uncomputed, budget)
                step.add(seq, n)
                budget -= n
        in_progress = {h for seq in self.running for h in self.blocks.hashes_in_progress(seq)}
        for seq in list(self.waiting):
            if budget == 0 or step.num_preempted or len(self.running) >= self.max_num_seqs:
                break
            if self.blocks.first_uncached_hash(seq) in in_progress:
                continue  # reuse those blocks once their owner has computed them
            if not self.blocks.allocate(seq):
                break
            self.waiting.remove(seq)
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            in_progress.update(self.blocks.hashes_in_progress(seq))
            n = min(seq.num_uncomputed, budget)
            step.add(seq, n)
            budget -= n
        return step

    def finish(self, seq: Sequence) -> None:
        """Retire ``seq`` now and return its blocks."""
        seq.status = SequenceStatus.FINISHED
        self.blocks.free(seq)
        self.running.remove(seq)

    def _make_room(self, seq: Sequence, step: ScheduledStep) -> bool:
        """Preempt the newest running sequences until ``seq`` can grow; False if it was itself."""
        while not self.blocks.can_append(seq):
            victim = self.running[-1]
            self._preempt(victim)
            step.num_preempted += 1
            if victim is seq:
                return False
        return True

    def _preempt(self, seq: Sequence) -> None:
        self.blocks.free(seq)
        seq.num_computed_tokens = 0
        seq.status = SequenceStatus.WAITING
        self.running.remove(seq)
        self.waiting.appendleft(seq)
