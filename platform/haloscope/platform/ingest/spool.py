"""The ingest spool: every accepted request's encoded spans are appended to a local segment
file before the request is acknowledged, and the file is deleted once its spans are in the
trace store.

A process that dies with spans still queued (SIGKILL, OOM, a crash) leaves its segments behind;
the next process that opens the same spool directory writes them again. Writing a span twice is
harmless: the spans table deduplicates by span id. So an acknowledged span survives the API
process dying, and with ``fsync`` it survives the machine losing power too (each append is
then flushed to disk before the acknowledgement, at the cost of a disk flush per request).

Several processes can share one spool root (``haloscope serve --workers N`` over a ClickHouse
server, or API replicas on one volume): each claims its own ``slot-N`` directory with an
exclusive ``flock``. A process that opens the spool also adopts the segments of every slot no
live process holds, so what dead processes left is written even when fewer processes start
again.

A segment is a sequence of records, each an 8-byte header (row count, payload length, both
little-endian uint32) followed by the payload. A record cut short by a crash mid-append was
never acknowledged; it is skipped with a warning.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
from pathlib import Path
from typing import BinaryIO, NamedTuple

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SEGMENT_SUFFIX = ".seg"


class SpoolRecord(NamedTuple):
    """One spooled request: its encoded spans and how many rows they are."""

    payload: bytes
    n_rows: int


class SpanSpool:
    """Append-only segment files in one claimed slot directory under ``root``."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self._root = root
        self._fsync = fsync
        self._slot: Path | None = None
        self._lock_file: BinaryIO | None = None
        self._segment: BinaryIO | None = None
        self._segment_path: Path | None = None
        self._segment_bytes = 0
        self._next_number = 0
        self._sealed: list[Path] = []

    @property
    def slot(self) -> Path | None:
        """The claimed slot directory (``None`` before :meth:`open`)."""
        return self._slot

    def open(self) -> list[SpoolRecord]:
        """Claim a free slot and return the records a previous process left in it, oldest
        first; their segments are released by the first :meth:`seal` after they are written."""
        self._root.mkdir(parents=True, exist_ok=True)
        index = 0
        while True:
            slot = self._root / f"slot-{index}"
            slot.mkdir(exist_ok=True)
            lock_file = _try_lock(slot)
            if lock_file is not None:
                break
            index += 1
        self._slot, self._lock_file = slot, lock_file
        self._adopt_orphans()
        leftovers = sorted(slot.glob(f"*{_SEGMENT_SUFFIX}"), key=_segment_number)
        self._next_number = _segment_number(leftovers[-1]) + 1 if leftovers else 0
        records: list[SpoolRecord] = []
        for segment in leftovers:
            records += read_segment(segment)
        self._sealed = list(leftovers)
        if records:
            logger.warning(
                "ingest spool %s: writing again %d spans left by a process that stopped "
                "before storing them",
                slot,
                sum(r.n_rows for r in records),
            )
        return records

    def append(self, payload: bytes, n_rows: int) -> None:
        """Append one record to the open segment (written to the OS; to disk with ``fsync``).
        ``OSError`` when it cannot be written, with the segment cut back to its last record."""
        if self._segment is None:
            self._start_segment()
        segment = self._segment
        assert segment is not None
        # One unbuffered write per record: nothing is left in a buffer to reach the file later.
        record = _HEADER.pack(n_rows, len(payload)) + payload
        try:
            view = memoryview(record)
            while view:
                view = view[segment.write(view) :]
            if self._fsync:
                os.fsync(segment.fileno())
        except OSError:
            # A partial record must not precede later ones: cut the segment back.
            segment.truncate(self._segment_bytes)
            segment.seek(self._segment_bytes)
            raise
        self._segment_bytes += len(record)

    def seal(self) -> list[Path]:
        """Close the open segment; return every sealed segment not yet released, whose
        records have all been handed out (by :meth:`open`) or appended before this call."""
        if self._segment is not None:
            self._segment.close()
            assert self._segment_path is not None
            self._sealed.append(self._segment_path)
            self._segment = self._segment_path = None
        sealed, self._sealed = self._sealed, []
        return sealed

    def release(self, segments: list[Path]) -> None:
        """Delete segments whose spans are stored."""
        for segment in segments:
            segment.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the open segment (deleting it when empty) and give up the slot. Segments
        that still hold unstored spans stay for the next process."""
        if self._segment is not None:
            self._segment.close()
            if self._segment_bytes == 0 and self._segment_path is not None:
                self._segment_path.unlink(missing_ok=True)
            self._segment = self._segment_path = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _adopt_orphans(self) -> None:
        """Move the segments of every other slot no process holds into this one, so spans a
        dead process left behind are written even when fewer processes start again."""
        assert self._slot is not None
        own = sorted(self._slot.glob(f"*{_SEGMENT_SUFFIX}"), key=_segment_number)
        number = _segment_number(own[-1]) + 1 if own else 0
        for slot in sorted(self._root.glob("slot-*")):
            if slot == self._slot or not slot.is_dir():
                continue
            lock_file = _try_lock(slot)
            if lock_file is None:
                continue  # a live process holds it
            try:
                for segment in sorted(slot.glob(f"*{_SEGMENT_SUFFIX}"), key=_segment_number):
                    segment.rename(self._slot / f"{number:012d}{_SEGMENT_SUFFIX}")
                    number += 1
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
                lock_file.close()

    def _start_segment(self) -> None:
        if self._slot is None:
            raise RuntimeError("the spool is not open")
        path = self._slot / f"{self._next_number:012d}{_SEGMENT_SUFFIX}"
        self._next_number += 1
        self._segment = open(path, "wb", buffering=0)  # noqa: SIM115 - closed by seal()/close()
        self._segment_path = path
        self._segment_bytes = 0


def _try_lock(slot: Path) -> BinaryIO | None:
    """The slot's lock file, locked exclusively; ``None`` when another process holds it."""
    lock_file = open(slot / "lock", "ab")  # noqa: SIM115 - held until the slot is released
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        return None
    return lock_file


def read_segment(path: Path) -> list[SpoolRecord]:
    """The complete records of a segment file; a torn last record is skipped with a warning."""
    data = path.read_bytes()
    records: list[SpoolRecord] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        n_rows, length = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if start + length > len(data):
            break
        records.append(SpoolRecord(data[start : start + length], n_rows))
        offset = start + length
    if offset != len(data):
        logger.warning(
            "ingest spool segment %s ends in a partial record (%d bytes): a request cut off "
            "by a crash before it was acknowledged; skipped",
            path,
            len(data) - offset,
        )
    return records


def _segment_number(path: Path) -> int:
    return int(path.stem)
