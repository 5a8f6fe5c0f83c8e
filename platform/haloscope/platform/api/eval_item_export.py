"""A run's items as a CSV or JSONL download, streamed page by page from the store (memory stays
constant however many items the run has).

* **JSONL**: one item per line, exactly the object ``GET /api/v1/eval-runs/{run_id}/items``
  lists, in dataset order.
* **CSV**: a header row, then one row per item: :data:`ITEM_COLUMNS`, then for each metric of
  the run ``<metric>.score``, ``.label``, ``.reason``, ``.latency_ms`` and ``.error``. Tags are
  joined with ``,``; ``input`` and ``expected_output`` hold their text (a JSON string) or their
  JSON. Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return) get a leading ``'`` (``score_export.safe_cell``);
  numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from fastapi.responses import StreamingResponse
from haloscope.platform.api.score_export import EXPORT_FORMATS, safe_cell
from haloscope.platform.evals.items import display_text, item_view
from haloscope.platform.store.eval_items import EvalItemStore, ItemFilter

ITEM_COLUMNS: tuple[str, ...] = (
    "run_id", "item_id", "position", "dataset", "dataset_version", "tags", "input",
    "expected_output", "output", "error", "cached", "latency_ms",
)  # fmt: skip
METRIC_FIELDS: tuple[str, ...] = ("score", "label", "reason", "latency_ms", "error")
# The item's metric arrays, by CSV field.
_METRIC_ARRAYS = {
    "score": "metric_scores",
    "label": "metric_labels",
    "reason": "metric_reasons",
    "latency_ms": "metric_latency_ms",
    "error": "metric_errors",
}
_INTEGERS = frozenset({"position", "cached"})
_FLOATS = frozenset({"latency_ms", "score"})
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
EXPORT_PAGE_SIZE = 1000


def csv_header(metrics: Sequence[str]) -> list[str]:
    """The CSV header: the item columns, then each metric's five columns."""
    return [*ITEM_COLUMNS, *(f"{m}.{f}" for m in metrics for f in METRIC_FIELDS)]


def csv_record(row: Mapping[str, Any], metrics: Sequence[str]) -> list[str]:
    """The CSV cells of one stored item, in :func:`csv_header` order."""
    cells: dict[str, Any] = {c: row.get(c) for c in ITEM_COLUMNS}
    cells["tags"] = ",".join(row["tags"])
    cells["input"] = display_text(row["input"])
    cells["expected_output"] = display_text(row["expected_output"])
    record = [_cell(name, cells[name]) for name in ITEM_COLUMNS]
    results = dict(zip(row["metric_names"], range(len(row["metric_names"])), strict=True))
    for metric in metrics:
        index = results.get(metric)
        for field in METRIC_FIELDS:
            value = None if index is None else row[_METRIC_ARRAYS[field]][index]
            record.append(_cell(field, value))
    return record


def _cell(name: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if name in _INTEGERS:
        return str(int(value))
    if name in _FLOATS:
        return repr(float(value))
    return safe_cell(str(value))


def export_chunks(
    items: EvalItemStore,
    project_id: str,
    run_id: str,
    flt: ItemFilter,
    fmt: str,
    metrics: Sequence[str],
) -> Iterator[bytes]:
    """The download's bytes, one chunk per page of items read when the chunk is asked for;
    the CSV header travels with the first page (``metrics`` names the metric columns)."""
    pages = items.pages(project_id, run_id, flt, EXPORT_PAGE_SIZE)
    if fmt == "csv":
        first = next(pages, [])
        columns = list(metrics) or (list(first[0]["metric_names"]) if first else [])
        yield _csv_chunk([csv_header(columns)], first, columns)
        for page in pages:
            yield _csv_chunk([], page, columns)
        return
    for page in pages:
        yield b"".join(orjson.dumps(item_view(row)) + b"\n" for row in page)


def export_response(chunks: Iterator[bytes], run_id: str, fmt: str) -> StreamingResponse:
    """The download of :func:`export_chunks`; its first chunk is read here (a store failure
    is answered as an error, not as a cut-off download)."""
    first = next(chunks, b"")
    filename = f"haloscope-eval-items-{_UNSAFE_FILENAME.sub('_', run_id)}.{fmt}"
    return StreamingResponse(
        itertools.chain([first], chunks),
        media_type=EXPORT_FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _csv_chunk(head: list[list[str]], rows: list[dict[str, Any]], metrics: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(head)
    writer.writerows(csv_record(row, metrics) for row in rows)
    return buffer.getvalue().encode()
