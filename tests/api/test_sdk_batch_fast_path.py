"""The msgspec fast path of ``parse_sdk_batch`` against the reference converter: identical rows,
rejections and envelope errors on a varied corpus, including every invalid span of
test_sdk_batch."""

from __future__ import annotations

import orjson
import pytest
from haloscope.platform.ingest.errors import PayloadError
from haloscope.platform.ingest.sdk_batch import parse_sdk_batch, parse_sdk_batch_reference

from tests.api.spans import rag_trace
from tests.api.test_sdk_batch import BAD_SPANS

BIG_INT = b"123456789012345678901234567890"  # beyond 64 bits: orjson reads it as a float
BIG = "__big__"

EDGE_SPANS = [
    {"kind": False},
    {"kind": ""},
    {"status": None},
    {"parent_span_id": ""},
    {"trace_id": "AB" * 16},
    {"start_time": True},
    {"start_time": BIG},
    {"input": BIG},
    {"metadata": {"n": BIG, "flag": True}},
    {"cost": BIG},
    {"cost": True},
    {"usage": {"total_tokens": 0, "prompt_tokens": 2}},
    {"messages": "not a list"},
    {"messages": "ignored when input is set", "input": 1},
    {"messages": [{"role": "user", "content": "hi"}]},
    {"tool": {"name": None, "arguments": {"q": 1}, "extra": 1}},
    {"tool": {"name": 3}},
    {"tags": None},
    {"documents": [{"score": True}]},
    {"documents": {}},
    {"unknown": [1, {"a": 2}]},
    {"input": {"a": -0.0, "b": 1e-7, "c": "é\n\u2028"}},
]


def _outcome(body: bytes, parse) -> tuple:
    try:
        batch = parse(body, "p1", max_spans=10, max_field_bytes=10_000)
    except PayloadError as exc:
        return ("error", exc.status_code, exc.reason)
    return ("ok", [list(row.items()) for row in batch.row_dicts()], batch.rejected)


def _body(spans: list) -> bytes:
    return orjson.dumps({"spans": spans}).replace(f'"{BIG}"'.encode(), BIG_INT)


PATCHES = [patch for patch, _ in BAD_SPANS] + EDGE_SPANS


@pytest.mark.parametrize("patch", PATCHES)
def test_span_converts_as_the_reference_does(patch: dict) -> None:
    good, base = rag_trace()[:2]
    for spans in ([good, {**base, **patch}, "not a span"], [{**base, **patch}]):
        body = _body(spans)
        assert _outcome(body, parse_sdk_batch) == _outcome(body, parse_sdk_batch_reference)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"spans": {}}',
        b'{"sdk": {}}',
        b'{"spans": null}',
        b'{"spans": [1e400]}',
        b'{"spans": [{"name": "\\ud800"}]}',
        b'{"spans": [], "spans": [1]}',
        _body(rag_trace() * 3),
        _body(rag_trace() * 4),
    ],
)
def test_envelope_outcome_matches_the_reference(body: bytes) -> None:
    assert _outcome(body, parse_sdk_batch) == _outcome(body, parse_sdk_batch_reference)
