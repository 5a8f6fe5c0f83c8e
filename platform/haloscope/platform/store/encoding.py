"""Span and score rows to insert bytes, and stored spans back to values.

Spans travel as :data:`SpanRow` tuples in ``SPAN_COLUMNS`` order and are inserted as
JSONCompactEachRow (one JSON array per row): the ingest converters build these tuples directly,
which costs a fraction of a dict per span, and ClickHouse parses positional rows faster than
keyed objects. Scores, written far less often, stay JSONEachRow objects.
"""

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


# A span row: the values of SPAN_COLUMNS in order, ready to insert: the times are
# datetime64_text of their µs since the epoch (converters write them so; span_row converts).
SpanRow = tuple[Any, ...]
_START, _END = SPAN_COLUMNS.index("start_time"), SPAN_COLUMNS.index("end_time")
if _END != _START + 1:  # span_row rewrites the two adjacent time values in one slice
    raise ImportError("SPAN_COLUMNS must keep start_time and end_time adjacent")
# The columns a span row must name; the others default as the spans table does.
_REQUIRED_SPAN_COLUMNS = frozenset(
    {"project_id", "trace_id", "span_id", "name", "kind", "start_time", "end_time"}
)
_SPAN_DEFAULTS: dict[str, Any] = {
    "parent_span_id": "",
    "status": "ok",
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "total_tokens": 0,
    "cost": 0.0,
    "tags": (),
    "metadata": {},
}


def span_row(row: Mapping[str, Any]) -> SpanRow:
    """The :data:`SpanRow` of a mapping with SPAN_COLUMNS keys and times in integer µs: absent
    optional keys take the column default (``""`` for text), other keys are ignored;
    ``KeyError`` names a missing required column."""
    if tuple(row) == SPAN_COLUMNS:  # every column, in order: what the OTLP converter builds
        values = tuple(row.values())
    else:
        missing = _REQUIRED_SPAN_COLUMNS - row.keys()
        if missing:
            raise KeyError(f"span row lacks {sorted(missing)}")
        get = row.get
        values = tuple(get(c, _SPAN_DEFAULTS.get(c, "")) for c in SPAN_COLUMNS)
    s, e = _START, _END
    return (*values[:s], datetime64_text(values[s]), datetime64_text(values[e]), *values[e + 1 :])


def row_dict(row: SpanRow) -> dict[str, Any]:
    """A :data:`SpanRow` as a dict keyed by SPAN_COLUMNS (for reading and tests)."""
    return dict(zip(SPAN_COLUMNS, row, strict=True))


def encode_spans(rows: Sequence[SpanRow]) -> bytes:
    """JSONCompactEachRow input bytes of span rows: the rows' arrays joined by commas (no
    enclosing brackets), so payloads of several requests join into one insert with ``b","``."""
    return orjson.dumps(rows)[1:-1]


def join_encoded_spans(payloads: Sequence[bytes]) -> bytes:
    """One insert payload from several :func:`encode_spans` payloads."""
    return b",".join(payload for payload in payloads if payload)


def encode_scores(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """JSONEachRow input bytes of score rows (keys of SCORE_COLUMNS, others ignored;
    ``timestamp`` in µs): one JSON array of row objects, one orjson call for the batch."""
    records = []
    for row in rows:
        record = {c: row[c] for c in SCORE_COLUMNS if c in row}
        record["timestamp"] = datetime64_text(record["timestamp"])
        records.append(record)
    return orjson.dumps(records)


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
