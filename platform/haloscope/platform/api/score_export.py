"""Scores (and annotations, the scores with source ``annotation``) as a CSV or JSONL download,
streamed page by page from the store: memory stays constant whatever the project holds.

Used by ``GET /api/v1/scores/export`` and by the dashboard's download route, so both give the
same bytes for the same filter.

* **JSONL**: one score per line, exactly the object ``GET /api/v1/scores`` lists (see
  :func:`score_view`), newest target first.
* **CSV**: a header row, then one row per score in the same order, columns
  :data:`CSV_COLUMNS`. Times are ISO 8601 UTC with microseconds. ``value`` holds the number of
  a numeric score and 1/0 for a boolean one (empty for a category); ``string_value`` holds the
  category, or ``true``/``false`` for a boolean (empty for a number). A deleted score's
  tombstone (``deleted=true``) has ``deleted_by`` and ``deleted_at`` and no ``created_at``.
  **Formula injection**: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return is written with a leading ``'``, so a spreadsheet shows it as text instead of
  running it as a formula (OWASP's advice for CSV exports); the number in ``value`` is written
  as a number.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.responses import StreamingResponse
from haloscope.platform.api.score_view import score_view
from haloscope.platform.store.score_queries import ScoreFilter
from haloscope.platform.store.scores import ScoreStore

# Format name -> media type of the download.
EXPORT_FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
}
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "trace_id",
    "span_id",
    "timestamp",
    "name",
    "source",
    "value_type",
    "value",
    "string_value",
    "label",
    "comment",
    "author",
    "evaluator_version",
    "created_at",
    "reason",
    "sampling_run_id",
    "idempotency_key",
    "deleted_by",
    "deleted_at",
)
# Scores read per store query while streaming.
EXPORT_PAGE_SIZE = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_TIME_COLUMNS = ("timestamp", "created_at", "deleted_at")


def export_format(value: str | None) -> str:
    """The export format named ``value`` (``csv`` when None); ValueError with the choices."""
    fmt = (value or "csv").strip().lower()
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format {value!r} is not one of {sorted(EXPORT_FORMATS)}")
    return fmt


def export_headers(fmt: str, project_id: str, now: datetime | None = None) -> dict[str, str]:
    """Download headers: the file name (project and time of export) and no caching."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    filename = f"haloscope-scores-{project_id}-{moment}.{fmt}"
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }


def safe_cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def iso_time(micros: int) -> str:
    """Epoch microseconds as ISO 8601 UTC (``2025-01-31T12:00:00.000000Z``)."""
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(
        microsecond=micros % 1_000_000
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def csv_record(view: dict[str, Any]) -> list[str]:
    """The CSV cells of one score (a :func:`score_view`), in :data:`CSV_COLUMNS` order."""
    value = view["value"]
    cells = {column: view.get(column) for column in CSV_COLUMNS}
    if view["value_type"] == "categorical":
        cells["value"], cells["string_value"] = None, value
    elif view["value_type"] == "boolean":
        cells["value"], cells["string_value"] = int(value), "true" if value else "false"
    else:
        cells["value"], cells["string_value"] = repr(float(value)), None
    for column in _TIME_COLUMNS:
        if cells[column] is not None:
            cells[column] = iso_time(int(cells[column]))
    record = []
    for column in CSV_COLUMNS:
        cell = cells[column]
        if cell is None:
            record.append("")
        elif column == "value":
            record.append(str(cell))
        else:
            record.append(safe_cell(str(cell)))
    return record


def export_chunks(
    scores: ScoreStore,
    project_id: str,
    flt: ScoreFilter,
    fmt: str,
    page_size: int | None = None,
) -> Iterator[bytes]:
    """The download's bytes, one chunk per page of ``page_size`` scores (default
    EXPORT_PAGE_SIZE) read from the store when the chunk is asked for; the CSV header travels
    with the first page."""
    pages = scores.pages(project_id, flt, page_size or EXPORT_PAGE_SIZE)
    first = next(pages, [])
    if fmt == "csv":
        yield _csv_chunk(first, header=True)
        for page in pages:
            yield _csv_chunk(page)
        return
    if first:
        yield _jsonl_chunk(first)
    for page in pages:
        yield _jsonl_chunk(page)


def export_response(
    scores: ScoreStore, project_id: str, flt: ScoreFilter, fmt: str
) -> StreamingResponse:
    """The download of the project's scores matching ``flt`` in ``fmt``. Its first page is
    read here (a store failure is answered as an error, not as a cut-off download); the rest
    is read while the response streams."""
    chunks = export_chunks(scores, project_id, flt, fmt)
    first = next(chunks, b"")
    return StreamingResponse(
        itertools.chain([first], chunks),
        media_type=EXPORT_FORMATS[fmt],
        headers=export_headers(fmt, project_id),
    )


def _csv_chunk(rows: list[dict[str, Any]], *, header: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_record(score_view(row)) for row in rows)
    return buffer.getvalue().encode()


def _jsonl_chunk(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(score_view(row)) + b"\n" for row in rows)
