"""Sort orders of the trace list and their opaque keyset cursors.

A cursor is base64url JSON ``{"s": sort, "k": sort key, "t": trace_id}`` of the last item on a
page; the next page holds the traces strictly after it in ``(sort key, trace_id)`` order, so
pages stay stable while new traces arrive.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class SortOrder:
    """A trace-list order: the key (an expression over the per-trace aggregate), its type as a
    query parameter, the direction, and the item field that carries the key into a cursor."""

    expression: str
    param_type: str
    descending: bool
    item_key: str


SORTS: dict[str, SortOrder] = {
    "start_time_desc": SortOrder("trace_start", "Int64", True, "start_time"),
    "start_time_asc": SortOrder("trace_start", "Int64", False, "start_time"),
    "duration_desc": SortOrder("trace_end - trace_start", "Int64", True, "duration_us"),
    # Cost sorts on the exact Decimal sum so the key is identical on every read.
    "cost_desc": SortOrder("cost_exact", "Decimal128(12)", True, "cost_key"),
}

# What Decimal128(12) holds: 26 integer digits and 12 fractional ones.
_DECIMAL = re.compile(r"-?\d{1,26}(\.\d{1,12})?")


def sort_order(name: str) -> SortOrder:
    """The SortOrder called ``name``, else ValueError listing the valid names."""
    try:
        return SORTS[name]
    except KeyError:
        raise ValueError(f"unknown sort {name!r}; use one of {sorted(SORTS)}") from None


def encode_cursor(sort: str, key: int | str, trace_id: str) -> str:
    """The opaque token for the position after ``(key, trace_id)`` in ``sort``."""
    raw = orjson.dumps({"s": sort, "k": key, "t": trace_id})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    token: str, sort: str, orders: Mapping[str, SortOrder] = SORTS
) -> tuple[Any, str]:
    """``(key, trace_id)`` from a token made by :func:`encode_cursor` for ``sort``, one of
    ``orders`` (another list's orders, whose id takes the trace id's place)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid cursor: not a token returned by this API") from exc
    if not isinstance(data, dict) or data.get("s") != sort:
        raise ValueError(f"invalid cursor: it was not issued for sort {sort!r}")
    key, trace_id = data.get("k"), data.get("t")
    order = orders[sort]
    key_ok = (
        isinstance(key, str) and _DECIMAL.fullmatch(key) is not None
        if order.param_type.startswith("Decimal")
        else isinstance(key, int) and not isinstance(key, bool)
    )
    if not key_ok or not isinstance(trace_id, str):
        raise ValueError("invalid cursor: malformed position")
    return key, trace_id
