"""Span and score rows to JSONEachRow bytes for insertion, and stored spans back to values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from haloscope.platform.store.base import SCORE_COLUMNS, SPAN_COLUMNS

# Span columns holding JSON text; get_trace parses them back to values ('' means absent).
JSON_TEXT_COLUMNS: tuple[str, ...] = ("input", "output", "documents", "tool_arguments")
# Names the time columns are read under as integer µs (an alias equal to its own column name
# would shadow the column inside the expression).
TIMES_READ_AS: dict[str, str] = {"start_time": "start_us", "end_time": "end_us"}


def datetime64_text(micros: int) -> str:
    """``seconds.micro`` text for a DateTime64(6) column: JSONEachRow reads an integer as
    whole seconds (and overflows), but parses this form exactly."""
    if micros >= 1_000_000:
        # Slicing the decimal digits is several times faster than divmod and formatting.
        digits = str(micros)
        return f"{digits[:-6]}.{digits[-6:]}"
    if micros < 0:
        raise ValueError(f"timestamp {micros} µs is before the Unix epoch")
    return f"0.{micros:06d}"


def _encode(
    rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...], time_columns: tuple[str, ...]
) -> bytes:
    # One orjson call for the whole batch (a JSON array of row objects, which JSONEachRow
    # input accepts) is several times faster than one call per row.
    allowed = frozenset(columns)
    records = []
    append = records.append
    for row in rows:
        record = dict(row) if row.keys() <= allowed else {c: row[c] for c in columns if c in row}
        for column in time_columns:
            record[column] = datetime64_text(record[column])
        append(record)
    return orjson.dumps(records)


def encode_spans(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """JSONEachRow input bytes (a JSON array of objects) of span rows: keys of SPAN_COLUMNS,
    absent optional keys take the column default, other keys are ignored."""
    return _encode(rows, SPAN_COLUMNS, ("start_time", "end_time"))


def encode_scores(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """JSONEachRow input bytes of score rows (keys of SCORE_COLUMNS; ``timestamp`` in µs)."""
    return _encode(rows, SCORE_COLUMNS, ("timestamp",))


def decode_span(row: Mapping[str, Any]) -> dict[str, Any]:
    """A span read with SPAN_SELECT as a dict in SPAN_COLUMNS order plus ``duration_us``:
    times in µs, JSON text columns parsed (None when empty)."""
    span: dict[str, Any] = {}
    for column in SPAN_COLUMNS:
        value = row[TIMES_READ_AS.get(column, column)]
        if column in JSON_TEXT_COLUMNS:
            value = orjson.loads(value) if value else None
        span[column] = value
    span["duration_us"] = row["duration_us"]
    return span
