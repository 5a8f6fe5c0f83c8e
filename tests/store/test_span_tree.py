"""The span tree shared by the API's trace detail and the dashboard's trace page."""

from __future__ import annotations

import random
from typing import Any

from haloscope.platform.store.span_tree import build_span_tree


def _span(span_id: str, parent: str | None, start: int) -> dict[str, Any]:
    return {"span_id": span_id, "parent_span_id": parent, "start_time": start}


def _ids(spans: list[dict[str, Any]]) -> list[str]:
    return [span["span_id"] for span in spans]


def test_children_are_ordered_by_start_time_then_span_id() -> None:
    spans = [
        _span("root", None, 0),
        _span("late", "root", 30),
        _span("tie-b", "root", 10),
        _span("early", "root", 5),
        _span("tie-a", "root", 10),
    ]
    random.Random(3).shuffle(spans)

    tree = build_span_tree(spans)

    assert _ids(tree.roots) == ["root"]
    assert _ids(tree.children["root"]) == ["early", "tie-a", "tie-b", "late"]
    assert tree.children["late"] == []


def test_a_span_whose_parent_is_missing_is_a_root_in_start_order() -> None:
    spans = [
        _span("child", "root", 20),
        _span("orphan", "not-ingested", 15),
        _span("root", None, 10),
        _span("empty-parent", "", 30),
        _span("orphan-child", "orphan", 16),
    ]

    tree = build_span_tree(spans)

    assert _ids(tree.roots) == ["root", "orphan", "empty-parent"]
    assert _ids(tree.children["orphan"]) == ["orphan-child"]
    assert _ids(tree.children["root"]) == ["child"]


def test_a_span_that_names_itself_as_parent_is_a_root_not_its_own_child() -> None:
    tree = build_span_tree([_span("a", "a", 0), _span("b", "a", 1)])

    assert _ids(tree.roots) == ["a"]
    assert _ids(tree.children["a"]) == ["b"]


def test_deep_nesting_is_linked_without_recursion() -> None:
    depth = 5_000
    spans = [_span(f"s{i}", f"s{i - 1}" if i else None, i) for i in range(depth)]

    tree = build_span_tree(reversed(spans))

    assert _ids(tree.roots) == ["s0"]
    node, levels = tree.roots[0], 1
    while tree.children[node["span_id"]]:
        (node,) = tree.children[node["span_id"]]
        levels += 1
    assert (node["span_id"], levels) == (f"s{depth - 1}", depth)


def test_a_parent_cycle_is_cut_at_its_earliest_span_so_every_span_is_shown_once() -> None:
    spans = [
        _span("root", None, 0),
        _span("b", "a", 20),  # a -> b -> a: no root reaches them
        _span("a", "b", 10),
        _span("under-b", "b", 30),
    ]

    tree = build_span_tree(spans)

    assert _ids(tree.roots) == ["root", "a"]
    assert _ids(tree.children["a"]) == ["b"]
    assert _ids(tree.children["b"]) == ["under-b"]
    walked, stack = [], list(reversed(tree.roots))
    while stack:
        span = stack.pop()
        walked.append(span["span_id"])
        stack.extend(reversed(tree.children[span["span_id"]]))
    assert sorted(walked) == ["a", "b", "root", "under-b"]
