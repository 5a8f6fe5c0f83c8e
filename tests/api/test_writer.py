"""The span writer against the real chDB store: batching triggers, bound, retry, shutdown."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
from haloscope.platform.ingest.sdk_batch import parse_sdk_batch
from haloscope.platform.ingest.spool import SpanSpool
from haloscope.platform.ingest.writer import SpanWriter
from haloscope.platform.store import StoreError, TraceStore
from haloscope.platform.store.encoding import encode_spans, join_encoded_spans

from tests.api.spans import rag_trace
from tests.api.store_queries import stored_span_count, wait_for_span_count


def _encoded_trace(store: TraceStore, project_id: str) -> tuple[bytes, int]:
    body = orjson.dumps({"spans": rag_trace()})
    rows = parse_sdk_batch(body, project_id, max_spans=10, max_field_bytes=10_000).rows
    return encode_spans(rows), len(rows)


class OutageStore:
    """The real store behind a switch that makes inserts fail, as a store outage would."""

    def __init__(self, store: TraceStore, failures: int = 0) -> None:
        self.store = store
        self.failures_left = failures
        self.down = threading.Event()

    def insert_encoded_spans(self, payload: bytes, n_rows: int) -> None:
        if self.down.is_set() or self.failures_left > 0:
            self.failures_left -= 1
            raise StoreError("trace store unreachable")
        self.store.insert_encoded_spans(payload, n_rows)


def test_batch_size_triggers_a_write_and_the_interval_the_rest(
    chdb_store: TraceStore, project_id: str, tmp_path: Path
) -> None:
    writer = SpanWriter(
        chdb_store, SpanSpool(tmp_path), batch_rows=6, flush_interval_s=1.0, max_queued_rows=100
    )
    writer.start()
    try:
        for _ in range(2):
            assert writer.submit(*_encoded_trace(chdb_store, project_id))
        assert wait_for_span_count(chdb_store, project_id, 6, timeout_s=0.9) == 6
        assert writer.submit(*_encoded_trace(chdb_store, project_id))
        assert wait_for_span_count(chdb_store, project_id, 9, timeout_s=10) == 9
        stats = writer.stats()
        assert (stats.accepted_rows, stats.flushed_rows, stats.queued_rows) == (9, 9, 0)
    finally:
        writer.stop()


def test_full_queue_refuses_whole_requests_and_failed_writes_are_retried(
    chdb_store: TraceStore, project_id: str, tmp_path: Path
) -> None:
    sink = OutageStore(chdb_store)
    sink.down.set()
    writer = SpanWriter(
        sink,
        SpanSpool(tmp_path),
        batch_rows=3,
        flush_interval_s=0.01,
        max_queued_rows=7,
        retry_initial_s=0.01,
    )
    writer.start()
    try:
        assert writer.submit(*_encoded_trace(chdb_store, project_id))
        assert writer.submit(*_encoded_trace(chdb_store, project_id))
        assert not writer.has_room(3)
        assert not writer.submit(*_encoded_trace(chdb_store, project_id))
        assert not writer.flush(timeout=0.3)
        assert writer.stats().failed_flushes >= 1
        assert stored_span_count(chdb_store, project_id) == 0
        sink.down.clear()
        assert writer.flush(timeout=20)
        assert stored_span_count(chdb_store, project_id) == 6
        assert writer.stats().accepted_rows == 6
    finally:
        writer.stop()


def test_stop_writes_everything_still_queued(
    chdb_store: TraceStore, project_id: str, tmp_path: Path
) -> None:
    sink = OutageStore(chdb_store, failures=2)
    writer = SpanWriter(
        sink,
        SpanSpool(tmp_path),
        batch_rows=1000,
        flush_interval_s=60,
        max_queued_rows=1000,
        retry_initial_s=0.01,
    )
    writer.start()
    for _ in range(4):
        assert writer.submit(*_encoded_trace(chdb_store, project_id))
    writer.stop()
    assert stored_span_count(chdb_store, project_id) == 12
    assert writer.stats().failed_flushes == 2
    assert not writer.submit(*_encoded_trace(chdb_store, project_id))


def test_encoded_payloads_join_into_one_insert_of_every_row(
    chdb_store: TraceStore, project_id: str
) -> None:
    first, n_first = _encoded_trace(chdb_store, project_id)
    second, n_second = _encoded_trace(chdb_store, project_id)
    joined = join_encoded_spans([first, b"", second])
    assert len(orjson.loads(b"[" + joined + b"]")) == n_first + n_second
    chdb_store.insert_encoded_spans(joined, n_first + n_second)
    assert stored_span_count(chdb_store, project_id) == n_first + n_second


def test_spans_a_stopped_writer_could_not_store_are_written_by_the_next_one(
    chdb_store: TraceStore, project_id: str, tmp_path: Path
) -> None:
    sink = OutageStore(chdb_store)
    sink.down.set()
    spool = SpanSpool(tmp_path)
    first = SpanWriter(
        sink,
        spool,
        batch_rows=100,
        flush_interval_s=0.01,
        max_queued_rows=100,
        retry_initial_s=0.01,
    )
    first.start()
    for _ in range(2):
        assert first.submit(*_encoded_trace(chdb_store, project_id))
    first.stop(timeout=0.3)  # the store is down: the thread keeps retrying, the spool stays
    assert first.store_failing and stored_span_count(chdb_store, project_id) == 0
    spool.close()  # what a dying process does: its lock goes, its segments stay
    assert list((tmp_path / "slot-0").glob("*.seg"))

    second = SpanWriter(
        chdb_store, SpanSpool(tmp_path), batch_rows=100, flush_interval_s=0.01, max_queued_rows=100
    )
    second.start()
    try:
        assert second.stats().accepted_rows == 6
        assert second.flush(timeout=20)
        assert stored_span_count(chdb_store, project_id) == 6
        assert not list((tmp_path / "slot-0").glob("*.seg"))
    finally:
        second.stop()
        sink.down.clear()  # lets the first writer's thread finish; its rows dedupe
