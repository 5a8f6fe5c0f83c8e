"""The trace-store driver interface and the span/score row shapes shared by every driver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from haloscope.sdk.spans import SPAN_KINDS as SPAN_KINDS  # the kinds the SDK sends

# Columns written for each span, in table order (duration_us is MATERIALIZED, ingested_at
# defaults to now). A span row is a dict with these keys; start_time/end_time are integer
# microseconds since the epoch; input/output/documents/tool_arguments are JSON text;
# tags is a list of strings; metadata a dict of string to string.
SPAN_COLUMNS: tuple[str, ...] = (
    "project_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_time",
    "end_time",
    "status",
    "status_message",
    "input",
    "output",
    "model",
    "provider",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "documents",
    "tool_name",
    "tool_arguments",
    "session_id",
    "user_id",
    "release",
    "tags",
    "metadata",
)

SCORE_COLUMNS: tuple[str, ...] = (
    "project_id",
    "trace_id",
    "span_id",
    "timestamp",
    "name",
    "evaluator_version",
    "value",
    "label",
    "reason",
    "evidence",
    "source",
    "sampling_run_id",
    # API scores (0007_human_scores.sql); judge rows leave them at their defaults.
    "score_id",
    "value_type",
    "string_value",
    "comment",
    "author",
    "idempotency_key",
    "deleted",
    "deleted_by",
)


class StoreError(RuntimeError):
    """The trace store failed or is unreachable."""


class StoreDriver(Protocol):
    """What the trace store needs from a ClickHouse engine. All SQL uses bound parameters
    (``{name:Type}`` placeholders), never string formatting of values."""

    name: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, OPTIMIZE)."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts."""

    def insert_formatted(
        self, table: str, columns: Sequence[str], payload: bytes, fmt: str
    ) -> None:
        """Insert rows given as input bytes in the ClickHouse input format ``fmt``
        (``JSONEachRow`` for scores, ``JSONCompactEachRow`` for spans)."""

    def close(self) -> None:
        """Release the engine; the driver is unusable afterwards."""
