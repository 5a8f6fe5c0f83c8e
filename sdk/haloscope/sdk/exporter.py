"""Background export: bounded queue -> batches -> gzip JSON POST with retries.

The caller's only cost is :meth:`BatchExporter.enqueue` (a deque append). A daemon
thread wakes every ``flush_interval`` seconds, or as soon as ``flush_at`` items are
waiting, serialises them, and posts them: spans to the ingest endpoint, scores (JSON-ready
dicts from :func:`haloscope.sdk.scores.score`) to the score endpoint. Nothing here ever
raises into the caller.
"""

from __future__ import annotations

import collections
import gzip
import http.client
import json
import os
import random
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from ._logging import log_once, logger
from ._version import __version__
from .spans import Span
from .transport import INGEST_PATH, SCORES_PATH, IngestTransport
from .wire import SpanEncoder

MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_SCORE_BATCH = 500  # the score endpoint takes up to 1000 per request
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
# Up to this fraction is added to a server's Retry-After, so that clients refused together
# (a rate limit, a restart) do not all come back in the same instant.
RETRY_AFTER_JITTER = 0.1
_BODY_HEAD = (
    '{"sdk":' + json.dumps({"name": "haloscope-python", "version": __version__}) + ',"spans":['
)


@dataclass(slots=True)
class ExportStats:
    """Counters of what happened to finished spans and scores (items, not batches, unless
    named so)."""

    sent: int = 0
    dropped: int = 0
    failed: int = 0
    rejected: int = 0
    retries: int = 0
    batches: int = 0


class _FlushMarker:
    """Queued behind the spans a ``flush()`` waits for; set once they are handled."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class BatchExporter:
    """Owns the span queue and the daemon thread that delivers it."""

    def __init__(
        self,
        transport: IngestTransport,
        encoder: SpanEncoder,
        *,
        flush_at: int,
        flush_interval: float,
        max_queue_size: int,
        max_retries: int,
    ) -> None:
        self.stats = ExportStats()
        self._transport = transport
        self._encoder = encoder
        self._flush_at = flush_at
        self._interval = flush_interval
        self._max_queue = max_queue_size
        self._max_retries = max_retries
        self._queue: collections.deque[Span | dict[str, Any] | _FlushMarker] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._give_up_at: float | None = None
        self._thread: threading.Thread | None = None
        self._start_thread()
        _register_fork_handler(self)

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="haloscope-exporter", daemon=True)
        self._thread.start()

    # -- caller side ---------------------------------------------------------------------------

    def enqueue(self, span: Span | dict[str, Any]) -> None:
        """Queue a finished span or a score; drop it (and count it) when the queue is full."""
        queue = self._queue
        if len(queue) >= self._max_queue:
            self.stats.dropped += 1
            log_once(
                "queue-full", "haloscope: export queue full (%d); dropping spans", self._max_queue
            )
            return
        queue.append(span)
        if len(queue) >= self._flush_at and not self._wake.is_set():
            self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until the spans queued so far are handled; ``False`` on timeout."""
        if self._thread is None or not self._thread.is_alive():
            return not self._queue
        marker = _FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Flush within ``timeout`` (retries give up at the deadline), then stop the thread."""
        self._give_up_at = time.monotonic() + timeout
        drained = self.flush(timeout)
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, self._give_up_at - time.monotonic()))
        self._transport.close()
        return drained

    # -- worker side ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:
                logger.exception("haloscope: exporter error")

    def _drain(self) -> None:
        batch: list[str] = []
        scores: list[dict[str, Any]] = []
        size = 0
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            if isinstance(item, dict):
                scores.append(item)
                if len(scores) >= MAX_SCORE_BATCH:
                    self._deliver_scores(scores)
                    scores = []
                continue
            if isinstance(item, _FlushMarker):
                if batch:
                    self._deliver(batch)
                    batch, size = [], 0
                if scores:
                    self._deliver_scores(scores)
                    scores = []
                item.done.set()
                continue
            try:
                text = self._encoder.encode(item)
            except Exception:
                self.stats.failed += 1
                logger.debug("haloscope: span not serialisable", exc_info=True)
                log_once("encode", "haloscope: a span could not be serialised and was dropped")
                continue
            batch.append(text)
            size += len(text)
            if len(batch) >= self._flush_at or size >= MAX_BATCH_BYTES:
                self._deliver(batch)
                batch, size = [], 0
        if batch:
            self._deliver(batch)
        if scores:  # after the spans they may target
            self._deliver_scores(scores)

    def _deliver(self, batch: list[str]) -> None:
        body = gzip.compress((_BODY_HEAD + ",".join(batch) + "]}").encode("utf-8"), 6)
        self._post(body, len(batch), INGEST_PATH)

    def _deliver_scores(self, scores: list[dict[str, Any]]) -> None:
        body = gzip.compress(json.dumps({"scores": scores}).encode("utf-8"), 6)
        self._post(body, len(scores), SCORES_PATH)

    def _post(self, body: bytes, count: int, path: str) -> None:
        """POST one gzipped batch of ``count`` items to ``path``, retrying what may pass later."""
        for attempt in range(self._max_retries + 1):
            retry_after: float | None = None
            try:
                reply = self._transport.post(body, path)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if reply.status < 300:
                    self._record_success(count, reply.status, reply.body)
                    return
                if reply.status != 429 and reply.status < 500:
                    self.stats.failed += count
                    log_once(
                        f"http-{reply.status}",
                        "haloscope: ingest refused a batch with HTTP %d (not retried): %s",
                        reply.status,
                        reply.body[:500].decode("utf-8", "replace"),
                    )
                    return
                problem = f"HTTP {reply.status}"
                retry_after = reply.retry_after
            if attempt == self._max_retries or not self._backoff(attempt, retry_after):
                break
            self.stats.retries += 1
            logger.debug("haloscope: retrying batch after %s", problem)
        self.stats.failed += count
        log_once("delivery", "haloscope: could not deliver a batch to the API (%s)", problem)

    def _backoff(self, attempt: int, retry_after: float | None) -> bool:
        """Sleep before the next attempt: the server's ``Retry-After`` (plus a little jitter) when
        given, else full-jitter exponential backoff; ``False`` when shutting down past the
        deadline."""
        if retry_after is None:
            delay = random.uniform(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
        else:
            delay = retry_after * (1.0 + random.uniform(0.0, RETRY_AFTER_JITTER))
        if self._give_up_at is not None and time.monotonic() + delay > self._give_up_at:
            return False
        return not self._stop.wait(delay)

    def _record_success(self, count: int, status: int, body: bytes) -> None:
        self.stats.batches += 1
        if status != 207:
            self.stats.sent += count
            logger.debug("haloscope: delivered %d spans", count)
            return
        try:
            reply = json.loads(body)
            rejected = reply.get("rejected") or []
        except (ValueError, AttributeError):
            rejected = []
        self.stats.rejected += len(rejected)
        self.stats.sent += count - len(rejected)
        if rejected:
            reasons = "; ".join(str(r.get("reason", r)) for r in rejected[:5])
            log_once(
                "rejected",
                "haloscope: the API rejected %d span(s) or score(s): %s",
                len(rejected),
                reasons,
            )

    def _after_fork(self) -> None:
        """In a forked child: start with an empty queue and a fresh thread and connection."""
        self._queue.clear()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._transport.close()
        self._start_thread()


def _register_fork_handler(exporter: BatchExporter) -> None:
    ref = weakref.ref(exporter)

    def after_fork_in_child() -> None:
        live = ref()
        if live is not None and not live._stop.is_set():
            live._after_fork()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork_in_child)
