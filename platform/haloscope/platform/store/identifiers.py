"""Validation of identifiers (database, table and column names) taken from code or
configuration, never from users. A checked identifier is safe to place in SQL text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from haloscope.platform.store.base import StoreError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def checked_identifier(name: str) -> str:
    """``name`` if it is a plain ClickHouse identifier, else StoreError."""
    if not _IDENTIFIER.fullmatch(name):
        raise StoreError(
            f"invalid ClickHouse identifier {name!r}: use letters, digits and underscores"
        )
    return name


def column_list(columns: Sequence[str]) -> str:
    """``(a, b, c)`` for an INSERT, every name checked."""
    return "(" + ", ".join(checked_identifier(c) for c in columns) + ")"
