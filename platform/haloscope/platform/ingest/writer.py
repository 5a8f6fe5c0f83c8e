"""The per-process span writer: accepted spans are queued pre-encoded and written to the trace
store in large batches by one background thread.

A batch is written when ``batch_rows`` rows are queued, when the oldest queued row has waited
``flush_interval_s``, on ``flush()`` and on ``stop()``. The queue is bounded by
``max_queued_rows`` (rows waiting plus rows being written): ``submit`` refuses a request that
does not fit, whole, so the API can answer 503 without accepting part of it. A failed write is
retried with exponential backoff; its rows stay queued and count against the bound meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

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
        retry_max_s: float = 5.0,
    ) -> None:
        self._sink = sink
        self._batch_rows = max(1, batch_rows)
        self._interval = flush_interval_s
        self._max_queued = max_queued_rows
        self._retry_initial = retry_initial_s
        self._retry_max = retry_max_s
        self._cond = threading.Condition()
        self._chunks: deque[tuple[bytes, int, float]] = deque()
        self._waiting_rows = 0  # rows in _chunks
        self._queued_rows = 0  # rows in _chunks plus the batch being written
        self._accepted = 0
        self._flushed = 0
        self._failed = 0
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

    def submit(self, payload: bytes, n_rows: int) -> bool:
        """Queue encoded rows; ``False`` (nothing queued) when they do not fit or when stopping."""
        if n_rows <= 0:
            return True
        with self._cond:
            if self._stopping or not self._fits(n_rows):
                return False
            self._chunks.append((payload, n_rows, time.monotonic()))
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
            or time.monotonic() - self._chunks[0][2] >= self._interval
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._stopping and not self._chunks:
                        return
                    wait = None
                    if self._chunks:
                        wait = max(0.0, self._chunks[0][2] + self._interval - time.monotonic())
                    self._cond.wait(wait)
                payloads, n_rows = self._take_batch()
            self._write_with_retry(join_json_each_row(payloads), n_rows)
            with self._cond:
                self._queued_rows -= n_rows
                self._flushed += n_rows
                self._cond.notify_all()

    def _take_batch(self) -> tuple[list[bytes], int]:
        payloads: list[bytes] = []
        n_rows = 0
        while self._chunks and (not payloads or n_rows + self._chunks[0][1] <= self._batch_rows):
            payload, rows, _ = self._chunks.popleft()
            payloads.append(payload)
            n_rows += rows
        self._waiting_rows -= n_rows
        return payloads, n_rows

    def _write_with_retry(self, payload: bytes, n_rows: int) -> None:
        delay = self._retry_initial
        while True:
            try:
                self._sink.insert_encoded_spans(payload, n_rows)
                return
            except Exception:
                with self._cond:
                    self._failed += 1
                logger.warning(
                    "writing %d spans to the trace store failed; retrying in %.1fs",
                    n_rows,
                    delay,
                    exc_info=True,
                )
                time.sleep(delay)
                delay = min(delay * 2, self._retry_max)
