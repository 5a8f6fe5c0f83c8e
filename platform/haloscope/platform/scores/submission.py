"""One score sent to ``POST /api/v1/scores``: validated, typed, and given its stable id.

A score targets a trace (``trace_id``) or one of its spans (``trace_id`` + ``span_id``). Its
value is a number (``numeric``), a boolean (``boolean``: stored as 1/0) or a category string
(``categorical``: stored in ``string_value``, value 0). Its identity is its
``idempotency_key``: sent again with the same key it replaces the stored score instead of
adding one. Without a key the key is derived from the content (target, name, value, source,
author, comment), so an identical re-sent score counts once.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCORE_SOURCES: tuple[str, ...] = ("api", "sdk", "annotation", "judge")
VALUE_TYPES: tuple[str, ...] = ("numeric", "boolean", "categorical")
FIELDS = frozenset(
    {
        "trace_id",
        "span_id",
        "name",
        "value",
        "comment",
        "source",
        "author",
        "idempotency_key",
        "timestamp",
    }
)
MAX_NAME_CHARS = 200
MAX_COMMENT_CHARS = 10_000
# ClickHouse reads an inserted time (``seconds.micros`` text, see encoding.py) as epoch
# seconds from 9 integer digits on (1973-03-03), and the end of year 9999 in epoch microseconds, the latest timestamp the API accepts anywhere.
MIN_TIMESTAMP_US = 100_000_000 * 1_000_000
MAX_TIMESTAMP_US = 253_402_300_800_000_000
_MAX_FLOAT = 1.7e308
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")


class ScoreRejected(ValueError):
    """A score that cannot be stored; the message says why."""


@dataclass(frozen=True)
class ScoreSubmission:
    """A validated score. ``span_id`` is '' for a trace-level score; ``timestamp_us`` is the
    client's, None to take the target's start time from the store."""

    trace_id: str
    span_id: str
    name: str
    value_type: str
    value: float
    string_value: str
    comment: str
    source: str
    author: str
    idempotency_key: str
    timestamp_us: int | None

    @property
    def typed_value(self) -> float | bool | str:
        """The value as sent: a number, a boolean or a category."""
        return typed_value(self.value_type, self.value, self.string_value)

    @property
    def score_id(self) -> str:
        """32 hex digits naming the score: a hash of its target, name and idempotency key."""
        return content_hash(self.trace_id, self.span_id, self.name, self.idempotency_key)

    def row(self, project_id: str, timestamp_us: int) -> dict[str, Any]:
        """The ``scores`` row (keys of ``store.base.SCORE_COLUMNS``) at ``timestamp_us``."""
        return {
            "project_id": project_id,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "timestamp": timestamp_us,
            "name": self.name,
            "value": self.value,
            "source": self.source,
            "score_id": self.score_id,
            "value_type": self.value_type,
            "string_value": self.string_value,
            "comment": self.comment,
            "author": self.author,
            "idempotency_key": self.idempotency_key,
        }


def content_hash(*parts: str) -> str:
    """32 hex digits of the SHA-256 of ``parts`` joined by NUL characters."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def typed_value(value_type: str, value: float, string_value: str) -> float | bool | str:
    """A stored score value (``value_type``, ``value``, ``string_value``) as sent."""
    if value_type == "boolean":
        return value != 0
    if value_type == "categorical":
        return string_value
    return value


def parse_submission(item: Any) -> ScoreSubmission:
    """The :class:`ScoreSubmission` of one JSON score object; ScoreRejected says what is wrong."""
    if not isinstance(item, Mapping):
        raise ScoreRejected("a score must be a JSON object")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise ScoreRejected(f"unknown field(s) {unknown}; allowed: {sorted(FIELDS)}")
    trace_id = _identifier(item, "trace_id", _TRACE_ID, "32 hex digits")
    if trace_id is None:
        raise ScoreRejected("trace_id is required: a score targets a trace or a span of one")
    span_id = _identifier(item, "span_id", _SPAN_ID, "16 hex digits") or ""
    name = _text(item, "name", MAX_NAME_CHARS)
    if not name:
        raise ScoreRejected("name is required (a non-empty string)")
    value_type, value, string_value = _value(item.get("value"))
    source = item.get("source") or "api"
    if source not in SCORE_SOURCES:
        raise ScoreRejected(f"source {source!r} is not one of {list(SCORE_SOURCES)}")
    comment = _text(item, "comment", MAX_COMMENT_CHARS)
    author = _text(item, "author", MAX_NAME_CHARS)
    key = _text(item, "idempotency_key", MAX_NAME_CHARS) or content_hash(
        trace_id, span_id, name, value_type, repr(value), string_value, source, author, comment
    )
    return ScoreSubmission(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        value_type=value_type,
        value=value,
        string_value=string_value,
        comment=comment,
        source=source,
        author=author,
        idempotency_key=key,
        timestamp_us=_timestamp(item.get("timestamp")),
    )


def _identifier(
    item: Mapping[str, Any], field: str, pattern: re.Pattern[str], form: str
) -> str | None:
    value = item.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value.lower()):
        raise ScoreRejected(f"{field} must be {form}, not {value!r}")
    return value.lower()


def _text(item: Mapping[str, Any], field: str, max_chars: int) -> str:
    value = item.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScoreRejected(f"{field} must be a string, not {type(value).__name__}")
    if len(value) > max_chars:
        raise ScoreRejected(f"{field} is longer than {max_chars} characters")
    return value


def _value(value: Any) -> tuple[str, float, str]:
    """(value type, numeric value, string value) of a score value."""
    if isinstance(value, bool):
        return "boolean", float(value), str(value).lower()
    if isinstance(value, int | float):
        number = float(value) if abs(value) < _MAX_FLOAT else math.inf
        if not math.isfinite(number):
            raise ScoreRejected("value must be a finite number")
        return "numeric", number, ""
    if isinstance(value, str) and value:
        if len(value) > MAX_NAME_CHARS:
            raise ScoreRejected(f"a category value is longer than {MAX_NAME_CHARS} characters")
        return "categorical", 0.0, value
    raise ScoreRejected("value must be a number, a boolean or a non-empty category string")


def _timestamp(value: Any) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (MIN_TIMESTAMP_US <= value < MAX_TIMESTAMP_US)
    ):
        raise ScoreRejected(
            "timestamp must be epoch microseconds (an integer from 1973-03-03 to 9999)"
        )
    return value
