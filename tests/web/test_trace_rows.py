"""The dashboard's trace rows and the API's trace tree show the same tree."""

from __future__ import annotations

from typing import Any

from haloscope.platform.api.trace_view import tree_json
from haloscope.web.trace_view import span_rows


def _span(span_id: str, parent: str | None, start: int, end: int) -> dict[str, Any]:
    return {"span_id": span_id, "parent_span_id": parent, "start_time": start, "end_time": end}


def _depth_first(nodes: list[dict[str, Any]], depth: int = 0) -> list[tuple[str, int]]:
    order = []
    for node in nodes:
        order.append((node["span_id"], depth))
        order.extend(_depth_first(node["children"], depth + 1))
    return order


TRACE = [
    _span("llm", "root", 40, 90),
    _span("tool", "llm", 50, 60),
    _span("late-orphan", "sampled-out", 95, 100),
    _span("retrieve", "root", 10, 30),
    _span("root", None, 0, 100),
    _span("self-parent", "self-parent", 20, 25),
]


def test_rows_follow_the_api_tree_depth_first() -> None:
    rows = span_rows(TRACE)

    assert [(r.span["span_id"], r.depth) for r in rows] == _depth_first(tree_json(TRACE))
    assert [(r.span["span_id"], r.depth) for r in rows] == [
        ("root", 0),
        ("retrieve", 1),
        ("llm", 1),
        ("tool", 2),
        ("self-parent", 0),
        ("late-orphan", 0),
    ]


def test_rows_place_bars_as_fractions_of_the_trace() -> None:
    bars = {r.span["span_id"]: (r.offset, r.width) for r in span_rows(TRACE)}

    assert bars["root"] == (0.0, 1.0)
    assert bars["tool"] == (0.5, 0.1)


def test_a_span_id_stored_twice_is_one_row_but_two_api_nodes() -> None:
    spans = [_span("root", None, 0, 10), _span("dup", "root", 1, 2), _span("dup", "root", 3, 4)]

    assert [(r.span["start_time"], r.depth) for r in span_rows(spans)] == [(0, 0), (1, 1)]
    assert tree_json(spans) == [
        {
            "span_id": "root",
            "children": [{"span_id": "dup", "children": []}, {"span_id": "dup", "children": []}],
        }
    ]
