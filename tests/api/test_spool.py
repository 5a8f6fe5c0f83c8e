"""The ingest spool's files: records round-trip, torn tails, slots, release."""

from __future__ import annotations

from pathlib import Path

from haloscope.platform.ingest.spool import SpanSpool, SpoolRecord, read_segment


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
