"""One trace's spans as a tree: the parent/child links shared by the API's trace detail and
the dashboard's trace page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def span_order(span: dict[str, Any]) -> tuple[Any, str]:
    """The order of spans in a tree level: start time, then span id."""
    return span["start_time"], span["span_id"]


@dataclass(frozen=True)
class SpanTree:
    """Spans linked by ``parent_span_id``, each level in :func:`span_order`.

    ``roots`` are the spans without a parent in the trace: none, one not in the trace (not
    yet ingested, or sampled out), or themselves, and the earliest span of a parent cycle
    (A's parent B, B's parent A), whose link into the cycle is cut, so every span is
    reachable from a root and the tree is finite. ``children`` has an entry, possibly empty,
    for every span id of the trace; a span id stored twice has one child list and stands
    once per stored span under its parent.
    """

    roots: list[dict[str, Any]]
    children: dict[str, list[dict[str, Any]]]


def build_span_tree(spans: Iterable[dict[str, Any]]) -> SpanTree:
    """Link a trace's spans (``span_id``, ``parent_span_id``, ``start_time``) into a tree."""
    ordered = sorted(spans, key=span_order)
    children: dict[str, list[dict[str, Any]]] = {span["span_id"]: [] for span in ordered}
    roots: list[dict[str, Any]] = []
    for span in ordered:
        parent = span.get("parent_span_id") or ""
        if parent in children and parent != span["span_id"]:
            children[parent].append(span)
        else:
            roots.append(span)
    reached = _reachable(roots, children)
    for span in ordered:  # what no root reaches hangs in a parent cycle: cut it at its earliest
        if span["span_id"] not in reached:
            children[span["parent_span_id"]].remove(span)
            roots.append(span)
            reached |= _reachable([span], children)
    roots.sort(key=span_order)
    return SpanTree(roots, children)


def _reachable(starts: list[dict[str, Any]], children: dict[str, list[dict[str, Any]]]) -> set[str]:
    """The span ids under (and including) ``starts``, walked without recursion."""
    seen: set[str] = set()
    stack = [span["span_id"] for span in starts]
    while stack:
        span_id = stack.pop()
        if span_id not in seen:
            seen.add(span_id)
            stack.extend(child["span_id"] for child in children[span_id])
    return seen
