"""The ingest spool: records round-trip, torn tails, slots and their adoption, and the API
acknowledging spooled spans in fsync mode."""

from __future__ import annotations

from pathlib import Path

import httpx
from haloscope.platform.config import Settings
from haloscope.platform.ingest.spool import SpanSpool, SpoolRecord, read_segment
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

from tests.api.spans import rag_trace
from tests.api.store_queries import wait_for_span_count
from tests.support.api_fixtures import running_api


def test_records_left_in_a_slot_come_back_in_order_to_the_next_opener(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path)
    assert spool.open() == []
    spool.append(b"[1],[2]", 2)
    spool.seal()
    spool.append(b"[3]", 1)
    spool.close()  # sealed and open segments both stay: neither was released

    again = SpanSpool(tmp_path)
    assert again.open() == [SpoolRecord(b"[1],[2]", 2), SpoolRecord(b"[3]", 1)]
    again.append(b"[4]", 1)
    sealed = again.seal()
    assert len(sealed) == 3  # the two leftovers and the new segment
    again.release(sealed)
    again.close()
    assert not list(tmp_path.rglob("*.seg"))
    assert SpanSpool(tmp_path).open() == []


def test_a_record_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path)
    spool.open()
    spool.append(b"[1]", 1)
    spool.append(b"[2],[3]", 2)
    spool.close()
    (segment,) = (tmp_path / "slot-0").glob("*.seg")
    segment.write_bytes(segment.read_bytes()[:-3])
    assert read_segment(segment) == [SpoolRecord(b"[1]", 1)]


def test_concurrent_processes_claim_separate_slots_and_adopt_dead_ones(tmp_path: Path) -> None:
    first, second = SpanSpool(tmp_path), SpanSpool(tmp_path)
    first.open()
    second.open()
    assert (first.slot, second.slot) == (tmp_path / "slot-0", tmp_path / "slot-1")
    first.append(b"[1]", 1)
    second.append(b"[2]", 1)
    second.close()
    # While the first process lives, a new one takes the free slot and adopts its segments.
    third = SpanSpool(tmp_path)
    assert third.open() == [SpoolRecord(b"[2]", 1)]
    assert third.slot == tmp_path / "slot-1"
    third.close()
    first.close()
    # With every process gone, one process picks up everything that was left.
    last = SpanSpool(tmp_path)
    assert sorted(last.open()) == [SpoolRecord(b"[1]", 1), SpoolRecord(b"[2]", 1)]
    assert last.slot == tmp_path / "slot-0"


def test_fsync_mode_writes_the_same_records(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path, fsync=True)
    spool.open()
    spool.append(b"[1]", 1)
    spool.close()
    assert SpanSpool(tmp_path).open() == [SpoolRecord(b"[1]", 1)]


def test_fsync_spool_api_acknowledges_stores_and_releases(
    chdb_settings: Settings,
    chdb_store: TraceStore,
    api_metadata: tuple[str, sessionmaker[Session]],
    tmp_path: Path,
) -> None:
    settings = chdb_settings.replace(data_dir=tmp_path)  # its own spool, the shared store
    with running_api(settings, chdb_store, api_metadata, ingest_spool_fsync=True) as api:
        keys = api.new_project()
        with httpx.Client(base_url=api.base_url, auth=keys.basic_auth, timeout=30) as http:
            answer = http.post("/api/v1/ingest", json={"spans": rag_trace()})
        assert answer.status_code == 200 and answer.json()["accepted"] == 3
        assert wait_for_span_count(chdb_store, keys.project_id, 3) == 3
        assert api.app.state.haloscope.writer.flush(timeout=10)
    assert not list(settings.ingest_spool_dir.rglob("*.seg"))
