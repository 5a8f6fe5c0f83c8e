"""Hostile strings through every filter and identifier: they match nothing, break nothing."""

from __future__ import annotations

import dataclasses

import pytest
from haloscope.platform.store import TraceFilter, TraceStore

from tests.store.spans import rag_dataset

INJECTIONS = [
    "' OR 1=1 --",
    "'; DROP TABLE spans; --",
    "\\' OR '1'='1",
    "x') OR ('a'='a",
    "{project_id:String}",
    "} OR 1=1 OR {",
    "\\",
    "%",
    "_",
    "\t\n\r",
    "` OR 1 --",
    "\u0000",
]

STRING_FIELDS = ("user_id", "session_id", "release", "search")
TUPLE_FIELDS = ("kinds", "names", "models", "tags")


@pytest.fixture
def seeded(trace_store: TraceStore, project_id: str) -> int:
    rows = rag_dataset(project_id, n_traces=6)
    trace_store.insert_spans(rows)
    return len({r["trace_id"] for r in rows})


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_through_every_filter_matches_nothing(
    trace_store: TraceStore, project_id: str, seeded: int, value: str
) -> None:
    for name in STRING_FIELDS:
        flt = dataclasses.replace(TraceFilter(), **{name: value})
        assert trace_store.list_traces(project_id, flt).items == [], name
    for name in TUPLE_FIELDS:
        flt = dataclasses.replace(TraceFilter(), **{name: (value,)})
        assert trace_store.list_traces(project_id, flt).items == [], name
    assert trace_store.get_trace(project_id, value) is None
    assert trace_store.list_traces(value, TraceFilter()).items == []
    assert trace_store.metrics(value, 0, 2**62, ["day", "model"]) == []
    # Nothing was dropped or altered: the project still lists all its traces.
    assert len(trace_store.list_traces(project_id, TraceFilter(), limit=100).items) == seeded


def test_injection_strings_are_stored_verbatim(trace_store: TraceStore, project_id: str) -> None:
    rows = rag_dataset(project_id, n_traces=1)
    for row, value in zip(rows, INJECTIONS, strict=False):
        row["user_id"] = value
    trace_store.insert_spans(rows)
    for value in INJECTIONS[: len(rows)]:
        page = trace_store.list_traces(project_id, TraceFilter(user_id=value))
        assert [item["trace_id"] for item in page.items] == [rows[0]["trace_id"]]
