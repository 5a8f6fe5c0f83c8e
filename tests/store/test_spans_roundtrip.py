"""Writing spans and reading them back: every field, dedupe of re-sent batches, isolation."""

from __future__ import annotations

import math

import orjson
import pytest
from haloscope.platform.store import TraceFilter, TraceStore, encoding
from haloscope.platform.store.base import SPAN_COLUMNS

from tests.store.spans import rag_dataset, span_row, trace_summary, traces_of

JSON_TEXT = ("input", "output", "documents", "tool_arguments")


def decoded(row: dict) -> dict:
    """What get_trace should return for an inserted row."""
    out = {c: row[c] for c in SPAN_COLUMNS}
    for column in JSON_TEXT:
        out[column] = orjson.loads(row[column]) if row[column] else None
    out["duration_us"] = row["end_time"] - row["start_time"]
    return out


def test_get_trace_returns_every_field(trace_store: TraceStore, project_id: str) -> None:
    rows = rag_dataset(project_id, n_traces=4)
    trace_store.insert_spans(rows)
    for trace_id, spans in traces_of(rows).items():
        expected = [decoded(s) for s in sorted(spans, key=lambda s: s["start_time"])]
        assert trace_store.get_trace(project_id, trace_id) == expected


def test_round_trip_preserves_awkward_values(trace_store: TraceStore, project_id: str) -> None:
    awkward = "tab\there\nnewline \\ backslash 'quote' \"dq\" ✓ \u0000 end"
    row = span_row(
        project_id,
        "a" * 32,
        "b" * 16,
        name=awkward,
        start_time=1_700_000_000_123_456,
        end_time=1_700_000_000_123_457,
        input=orjson.dumps({"text": awkward, "n": [1, 2.5, None, True]}).decode(),
        output=orjson.dumps(awkward).decode(),
        tags=[awkward, "x"],
        metadata={awkward: awkward, "empty": ""},
        cost=0.1 + 0.2,
        prompt_tokens=4_000_000_000,
    )
    trace_store.insert_spans([row])
    assert trace_store.get_trace(project_id, row["trace_id"]) == [decoded(row)]


def test_resent_batch_never_double_counts(trace_store: TraceStore, project_id: str) -> None:
    rows = rag_dataset(project_id, n_traces=5)
    trace_store.insert_spans(rows)
    trace_store.insert_spans(rows)
    payload = encoding.encode_spans([encoding.span_row(r) for r in rows])
    trace_store.insert_encoded_spans(payload, len(rows))

    page = trace_store.list_traces(project_id, TraceFilter(), limit=100)
    assert len(page.items) == 5
    by_id = {item["trace_id"]: item for item in page.items}
    for trace_id, spans in traces_of(rows).items():
        expected = trace_summary(spans)
        item = by_id[trace_id]
        assert item["span_count"] == expected["span_count"]
        assert item["total_tokens"] == expected["total_tokens"]
        assert math.isclose(item["cost"], expected["cost"], rel_tol=1e-9)
        assert len(trace_store.get_trace(project_id, trace_id)) == len(spans)
    [total] = trace_store.metrics(project_id, 0, 2**62, [])
    assert total["count"] == len(rows)
    assert total["total_tokens"] == sum(r["total_tokens"] for r in rows)


def test_resent_span_keeps_the_latest_version(trace_store: TraceStore, project_id: str) -> None:
    first = span_row(project_id, "c" * 32, "d" * 16, output='"draft"')
    trace_store.insert_spans([first])
    trace_store.insert_spans([{**first, "output": '"final"', "status": "error"}])
    [span] = trace_store.get_trace(project_id, first["trace_id"])
    assert (span["output"], span["status"]) == ("final", "error")


def test_projects_are_isolated(trace_store: TraceStore, project_id: str) -> None:
    other = project_id + "-other"
    rows = rag_dataset(project_id, n_traces=2)
    trace_store.insert_spans(rows)
    trace_id = rows[0]["trace_id"]
    assert trace_store.get_trace(other, trace_id) is None
    assert trace_store.list_traces(other, TraceFilter()).items == []
    assert trace_store.metrics(other, 0, 2**62, ["day"]) == []
    assert trace_store.get_trace(project_id, trace_id) is not None


def test_unknown_trace_is_none(trace_store: TraceStore, project_id: str) -> None:
    assert trace_store.get_trace(project_id, "f" * 32) is None


def test_scores_are_stored(trace_store: TraceStore, project_id: str) -> None:
    score = {
        "project_id": project_id,
        "trace_id": "e" * 32,
        "span_id": "1" * 16,
        "timestamp": 1_700_000_000_000_001,
        "name": "faithfulness",
        "evaluator_version": "v1",
        "value": 0.75,
        "label": "faithful",
        "reason": "grounded",
        "evidence": "",
        "source": "judge",
        "sampling_run_id": "run-1",
    }
    trace_store.insert_scores([score])
    trace_store.insert_scores([score])
    rows = trace_store.driver.query(
        "SELECT name, value, label, toUnixTimestamp64Micro(timestamp) AS ts FROM scores FINAL "
        "WHERE project_id = {p:String}",
        {"p": project_id},
    )
    assert rows == [
        {"name": "faithfulness", "value": 0.75, "label": "faithful", "ts": score["timestamp"]}
    ]


def test_ping(trace_store: TraceStore) -> None:
    assert trace_store.ping() is True


def test_empty_insert_is_a_no_op(trace_store: TraceStore, project_id: str) -> None:
    trace_store.insert_spans([])
    trace_store.insert_scores([])
    assert trace_store.list_traces(project_id, TraceFilter()).items == []


def test_timestamps_before_the_epoch_are_refused(trace_store: TraceStore, project_id: str) -> None:
    with pytest.raises(ValueError, match="before the Unix epoch"):
        trace_store.insert_spans([span_row(project_id, "1" * 32, "2" * 16, start_time=-1)])
