"""The per-process span writer: accepted spans are queued pre-encoded and written to the trace
store in large batches by one background thread.

A batch is written when ``batch_rows`` rows are queued, when the oldest queued row has waited
``flush_interval_s``, on ``flush()`` and on ``stop()``. Concurrent requests queued within that
window share one insert (group commit); each chunk's ``on_written`` callback is told when its
rows are in the store (and, earlier, when a first attempt to write them failed), which is what
lets the API acknowledge a request only after its spans are written. The queue is bounded by
``max_queued_rows`` (rows waiting plus rows being written): ``submit`` refuses a request that
does not fit, whole, so the API can answer 503 without accepting part of it. A failed write is retried with exponential backoff; its rows stay queued
and count against the bound meanwhile, and ``store_failing`` reports the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

logger = logging.getLogger(__name__)


def join_json_each_row(payloads: list[bytes]) -> bytes:
    """Merge JSONEachRow payloads into one insert: JSON arrays of objects (``[{...},...]``)
    become one array, newline-delimited objects are joined with newlines."""
    if len(payloads) == 1:
        return payloads[0]
    parts = [payload.strip() for payload in payloads]
    arrays = [part.startswith(b"[") for part in parts]
    if all(arrays):
        return b"[" + b",".join(part[1:-1] for part in parts if len(part) > 2) + b"]"
    if any(arrays):
        raise ValueError("cannot merge JSON-array and newline-delimited JSONEachRow payloads")
    return b"\n".join(parts)


class EncodedSpanSink(Protocol):
    """What the writer needs from the trace store."""

    def insert_encoded_spans(self, payload: bytes, n_rows: int) -> None:
        """Insert ``n_rows`` spans encoded by ``encode_spans``."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since start: rows accepted and stored, failed write attempts, rows queued."""

    accepted_rows: int
    flushed_rows: int
    failed_flushes: int
    queued_rows: int
    max_queued_rows: int


class _Chunk(NamedTuple):
    payload: bytes
    n_rows: int
    queued_at: float
    on_written: Callable[[bool], None] | None


class SpanWriter:
    """Batches encoded span rows in memory and writes them to the store from one thread."""

    def __init__(
        self,
        sink: EncodedSpanSink,
        *,
        batch_rows: int,
        flush_interval_s: float,
        max_queued_rows: int,
        retry_initial_s: float = 0.1,
        retry_max_s: float = 2.0,
    ) -> None:
        self._sink = sink
        self._batch_rows = max(1, batch_rows)
        self._interval = flush_interval_s
        self._max_queued = max_queued_rows
        self._retry_initial = retry_initial_s
        self._retry_max = retry_max_s
        self._cond = threading.Condition()
        self._chunks: deque[_Chunk] = deque()
        self._waiting_rows = 0  # rows in _chunks
        self._queued_rows = 0  # rows in _chunks plus the batch being written
        self._accepted = 0
        self._flushed = 0
        self._failed = 0
        self._failing = False
        self._flush_target = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="span-writer", daemon=True)
            self._thread.start()

    def has_room(self, n_rows: int = 1) -> bool:
        """Whether ``n_rows`` more rows would fit in the queue now."""
        with self._cond:
            return self._fits(n_rows)

    @property
    def store_failing(self) -> bool:
        """Whether the latest write attempt failed (cleared by the next successful write)."""
        return self._failing

    def submit(
        self, payload: bytes, n_rows: int, on_written: Callable[[bool], None] | None = None
    ) -> bool:
        """Queue encoded rows; ``False`` (nothing queued) when they do not fit or when stopping.

        ``on_written`` is called from the writer thread with ``True`` once the rows are in the
        store, and before that with ``False`` if the first attempt to write them fails (the
        rows stay queued and are retried). It must be quick and must not raise.
        """
        if n_rows <= 0:
            return True
        with self._cond:
            if self._stopping or not self._fits(n_rows):
                return False
            self._chunks.append(_Chunk(payload, n_rows, time.monotonic(), on_written))
            self._waiting_rows += n_rows
            self._queued_rows += n_rows
            self._accepted += n_rows
            # Wake the thread to arm its interval timer (first chunk) or to write a full batch.
            if len(self._chunks) == 1 or self._waiting_rows >= self._batch_rows:
                self._cond.notify_all()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every row submitted before the call is stored; ``False`` on timeout."""
        with self._cond:
            target = self._accepted
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._flushed >= target, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything queued (retrying up to ``timeout``) and stop the thread."""
        with self._cond:
            self._stopping = True
            self._flush_target = self._accepted
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error(
                    "span writer stopped with %d rows not written: the trace store is failing",
                    self._queued_rows,
                )
            self._thread = None

    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        with self._cond:
            return WriterStats(
                accepted_rows=self._accepted,
                flushed_rows=self._flushed,
                failed_flushes=self._failed,
                queued_rows=self._queued_rows,
                max_queued_rows=self._max_queued,
            )

    def _fits(self, n_rows: int) -> bool:
        # An empty queue takes any request, so a request larger than the bound cannot starve.
        return self._queued_rows == 0 or self._queued_rows + n_rows <= self._max_queued

    def _due(self) -> bool:
        if not self._chunks:
            return False
        return (
            self._waiting_rows >= self._batch_rows
            or self._stopping
            or self._flushed + self._queued_rows - self._waiting_rows < self._flush_target
            or time.monotonic() - self._chunks[0].queued_at >= self._interval
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._stopping and not self._chunks:
                        return
                    wait = None
                    if self._chunks:
                        due_at = self._chunks[0].queued_at + self._interval
                        wait = max(0.0, due_at - time.monotonic())
                    self._cond.wait(wait)
                batch = self._take_batch()
            n_rows = sum(chunk.n_rows for chunk in batch)
            self._write_with_retry(batch, n_rows)
            _notify(batch, written=True)
            with self._cond:
                self._queued_rows -= n_rows
                self._flushed += n_rows
                self._cond.notify_all()

    def _take_batch(self) -> list[_Chunk]:
        batch: list[_Chunk] = []
        n_rows = 0
        while self._chunks and (not batch or n_rows + self._chunks[0].n_rows <= self._batch_rows):
            chunk = self._chunks.popleft()
            batch.append(chunk)
            n_rows += chunk.n_rows
        self._waiting_rows -= n_rows
        return batch

    def _write_with_retry(self, batch: list[_Chunk], n_rows: int) -> None:
        payload = join_json_each_row([chunk.payload for chunk in batch])
        delay = self._retry_initial
        first_failure = True
        while True:
            try:
                self._sink.insert_encoded_spans(payload, n_rows)
                self._failing = False
                return
            except Exception:
                with self._cond:
                    self._failed += 1
                    self._failing = True
                logger.warning(
                    "writing %d spans to the trace store failed; retrying in %.1fs",
                    n_rows,
                    delay,
                    exc_info=True,
                )
                if first_failure:
                    _notify(batch, written=False)
                    first_failure = False
                time.sleep(delay)
                delay = min(delay * 2, self._retry_max)


def _notify(batch: list[_Chunk], *, written: bool) -> None:
    for chunk in batch:
        if chunk.on_written is not None:
            chunk.on_written(written)
