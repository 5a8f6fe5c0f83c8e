"""The per-process span writer: accepted spans are spooled, queued pre-encoded, and written to
the trace store in large batches by one background thread.

``submit`` appends a request's encoded spans to the ingest spool (``spool.SpanSpool``) and
queues them; once it returns ``True`` the request can be acknowledged, because a process that
dies before the spans are stored leaves them in the spool for the next one to write. Storing
is thereby decoupled from acknowledging: a batch is written when ``batch_rows`` rows are
waiting, when the oldest has waited ``flush_interval_s``, on ``flush()`` and on ``stop()``, and
takes every request queued by then, so inserts stay large (few parts, little merging) whatever
the number of concurrent clients. The queue is bounded by ``max_queued_rows`` (rows waiting
plus rows being written): ``submit`` refuses a request that does not fit, whole, so the API can
answer 503 without accepting part of it. A failed write is retried with exponential backoff;
its rows stay queued and spooled meanwhile, and ``store_failing`` reports the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from haloscope.platform.ingest.spool import SpanSpool
from haloscope.platform.store.encoding import join_encoded_spans

logger = logging.getLogger(__name__)


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


class SpanWriter:
    """Batches encoded span rows in memory and writes them to the store from one thread."""

    def __init__(
        self,
        sink: EncodedSpanSink,
        spool: SpanSpool,
        *,
        batch_rows: int,
        flush_interval_s: float,
        max_queued_rows: int,
        retry_initial_s: float = 0.1,
        retry_max_s: float = 2.0,
    ) -> None:
        self._sink = sink
        self._spool = spool
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
        """Open the spool, queue the spans a previous process left in it, and start the
        background writer thread."""
        if self._thread is None:
            now = time.monotonic()
            with self._cond:
                for record in self._spool.open():
                    self._enqueue(_Chunk(record.payload, record.n_rows, now))
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

    def submit(self, payload: bytes, n_rows: int) -> bool:
        """Spool and queue encoded rows; ``False`` (nothing kept) when they do not fit or when
        stopping, ``OSError`` (nothing kept) when the spool cannot be written. Once ``True``
        is returned the rows survive this process dying."""
        if n_rows <= 0:
            return True
        with self._cond:
            if self._stopping or not self._fits(n_rows):
                return False
            self._spool.append(payload, n_rows)
            self._enqueue(_Chunk(payload, n_rows, time.monotonic()))
        return True

    def _enqueue(self, chunk: _Chunk) -> None:
        # Called with the lock held.
        self._chunks.append(chunk)
        self._waiting_rows += chunk.n_rows
        self._queued_rows += chunk.n_rows
        self._accepted += chunk.n_rows
        # Wake the thread to arm its interval timer (first chunk) or to write a full batch.
        if len(self._chunks) == 1 or self._waiting_rows >= self._batch_rows:
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every row submitted before the call is stored; ``False`` on timeout."""
        with self._cond:
            target = self._accepted
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._flushed >= target, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything queued (retrying up to ``timeout``), stop the thread and close the
        spool (what could not be written stays spooled for the next process)."""
        with self._cond:
            self._stopping = True
            self._flush_target = self._accepted
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error(
                    "span writer stopped with %d rows not written (the trace store is failing); "
                    "they stay in the ingest spool for the next start",
                    self._queued_rows,
                )
                return  # the thread still owns the spool; its segments stay for the next run
            self._thread = None
        self._spool.close()

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
                batch = list(self._chunks)
                self._chunks.clear()
                self._waiting_rows = 0
                segments = self._spool.seal()
            n_rows = sum(chunk.n_rows for chunk in batch)
            for part in _split(batch, self._batch_rows):
                self._write_with_retry(part)
            self._spool.release(segments)
            with self._cond:
                self._queued_rows -= n_rows
                self._flushed += n_rows
                self._cond.notify_all()

    def _write_with_retry(self, chunks: list[_Chunk]) -> None:
        payload = join_encoded_spans([chunk.payload for chunk in chunks])
        n_rows = sum(chunk.n_rows for chunk in chunks)
        delay = self._retry_initial
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
                time.sleep(delay)
                delay = min(delay * 2, self._retry_max)


def _split(chunks: list[_Chunk], max_rows: int) -> list[list[_Chunk]]:
    """Consecutive runs of whole chunks of at most ``max_rows`` rows (a larger chunk alone)."""
    parts: list[list[_Chunk]] = []
    rows = max_rows
    for chunk in chunks:
        if rows + chunk.n_rows > max_rows:
            parts.append([])
            rows = 0
        parts[-1].append(chunk)
        rows += chunk.n_rows
    return parts
