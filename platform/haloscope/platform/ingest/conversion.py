"""Turning one ingest request body into insert-ready bytes, inline or in worker processes.

``convert_request`` decodes the body, converts its spans (SDK batch or OTLP) and encodes the
accepted rows. It is CPU-bound Python, so within one process requests take turns on the GIL;
``RequestConverter`` can run it in a pool of worker processes instead (``ingest_workers``),
which lets conversion use other cores while the API process serves HTTP and writes the store.
Only bytes cross the process boundary: the request body in, the encoded rows and the
rejections out.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Literal

from haloscope.platform.ingest.body import decode_body
from haloscope.platform.ingest.otlp import protobuf_body
from haloscope.platform.ingest.otlp_mapping import convert_otlp_request
from haloscope.platform.ingest.results import Rejection
from haloscope.platform.ingest.sdk_batch import parse_sdk_batch
from haloscope.platform.pricing.span_costs import price_rows
from haloscope.platform.pricing.table import PriceTable
from haloscope.platform.store.encoding import encode_spans

_PARENT_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What conversion needs of a request: its format, raw body, the limits, and the
    project's price table (spans without a cost get one from it)."""

    fmt: Literal["sdk", "otlp"]
    body: bytes
    content_encoding: str | None
    media_kind: str
    project_id: str
    max_bytes: int
    max_spans: int
    max_field_bytes: int
    prices: PriceTable | None = None


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """The accepted spans encoded for the store, their count, and the rejected spans."""

    payload: bytes
    n_rows: int
    rejected: list[Rejection] = field(default_factory=list)


def convert_request(request: IngestRequest) -> EncodedBatch:
    """Decode, convert and encode one request; ``PayloadError`` for a bad envelope."""
    body = decode_body(request.body, request.content_encoding, request.max_bytes)
    if request.fmt == "sdk":
        batch = parse_sdk_batch(
            body,
            request.project_id,
            max_spans=request.max_spans,
            max_field_bytes=request.max_field_bytes,
        )
    else:
        batch = convert_otlp_request(
            protobuf_body(body, request.media_kind),
            request.project_id,
            max_spans=request.max_spans,
            max_field_bytes=request.max_field_bytes,
        )
    rows = batch.rows
    if rows and request.prices is not None:
        rows = price_rows(rows, request.prices)
    payload = encode_spans(rows) if rows else b""
    return EncodedBatch(payload, len(rows), batch.rejected)


def _ready() -> bool:
    return True


def _start_worker(parent_pid: int) -> None:
    """Worker initializer: freeze what the imports allocated out of the garbage collector's
    reach, and exit as soon as the API process is gone."""
    # Conversion allocates many short-lived containers, which trigger collections; frozen,
    # the ~36k objects of the imported modules are no longer walked by each full collection
    # (an SDK span: 10.1 -> 8.4 µs of conversion, medians of 30 interleaved rounds).
    gc.freeze()
    _exit_with_parent(parent_pid)


def _exit_with_parent(parent_pid: int) -> None:
    """Exit as soon as the API process is gone (killed with SIGKILL or by the OOM killer, it
    cannot stop its pool, and the workers would otherwise linger)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class RequestConverter:
    """Runs :func:`convert_request` on the event loop (``workers == 0``) or in a pool of
    ``workers`` processes started fresh (``spawn``: nothing of the API process is inherited)."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the worker processes (if any) and wait until each has imported the code."""
        if self._workers > 0 and self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            for future in [self._pool.submit(_ready) for _ in range(self._workers)]:
                future.result()

    def worker_pids(self) -> list[int]:
        """The process ids of the running workers (none when converting inline)."""
        if self._pool is None:
            return []
        return [process.pid for process in self._pool._processes.values()]  # noqa: SLF001

    def stop(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def convert(self, request: IngestRequest) -> EncodedBatch:
        """The converted request; a worker that died is replaced and the request retried once."""
        pool = self._pool
        if pool is None:
            return convert_request(request)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, convert_request, request)
        except BrokenProcessPool:
            # Requests in flight all fail with the pool; only the first replaces it.
            if self._pool is pool:
                self.stop()
                self.start()
            return await loop.run_in_executor(self._pool, convert_request, request)
