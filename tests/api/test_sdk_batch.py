"""SDK batch conversion: valid spans become rows, invalid ones are rejected with a reason."""

from __future__ import annotations

import orjson
import pytest
from haloscope.platform.ingest.errors import PayloadError
from haloscope.platform.ingest.sdk_batch import parse_sdk_batch
from haloscope.platform.store.base import SPAN_COLUMNS

from tests.api.spans import rag_trace


def _parse(payload: object, max_spans: int = 100, max_field_bytes: int = 10_000):
    return parse_sdk_batch(
        orjson.dumps(payload), "p1", max_spans=max_spans, max_field_bytes=max_field_bytes
    )


def test_rows_carry_every_column_and_map_nested_fields() -> None:
    spans = rag_trace()
    batch = _parse({"spans": spans})
    assert batch.rejected == []
    root, retrieve, llm = batch.row_dicts()
    assert all(set(row) == set(SPAN_COLUMNS) for row in batch.row_dicts())
    assert root["parent_span_id"] == ""
    assert root["metadata"] == {"route": "/ask", "attempt": "1"}
    assert orjson.loads(root["input"]) == spans[0]["input"]
    assert orjson.loads(retrieve["documents"]) == spans[1]["documents"]
    assert orjson.loads(llm["input"]) == spans[2]["messages"]
    assert (llm["prompt_tokens"], llm["completion_tokens"], llm["total_tokens"]) == (120, 8, 128)
    assert llm["status"] == "error" and llm["status_message"].startswith("RateLimitError")


def test_total_tokens_defaults_to_the_sum() -> None:
    span = {**rag_trace()[2], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}
    assert _parse({"spans": [span]}).row_dicts()[0]["total_tokens"] == 12


BAD_SPANS = [
    ({"trace_id": "xyz"}, "trace_id"),
    ({"trace_id": "0" * 32}, "trace_id"),
    ({"span_id": "abc"}, "span_id"),
    ({"parent_span_id": 7}, "parent_span_id"),
    ({"name": ""}, "name"),
    ({"start_time": 1.5}, "start_time"),
    ({"end_time": 1}, "end_time is before start_time"),
    ({"kind": "database"}, "kind"),
    ({"kind": ["llm"]}, "kind"),
    ({"status": "failed"}, "status"),
    ({"usage": {"prompt_tokens": -1}}, "usage.prompt_tokens"),
    ({"usage": "many"}, "usage"),
    ({"cost": "cheap"}, "cost"),
    ({"tags": ["ok", 3]}, "tags"),
    ({"metadata": ["a"]}, "metadata"),
    ({"documents": [{"score": "high"}]}, "documents"),
    ({"tool": "search"}, "tool"),
    ({"model": 4}, "model"),
    ({"output": "x" * 20_000}, "output exceeds 10000 bytes"),
    ({"metadata": {"blob": "é" * 6_000}}, "metadata.blob exceeds"),
]


@pytest.mark.parametrize(("patch", "reason"), BAD_SPANS)
def test_invalid_span_is_rejected_with_reason_and_others_kept(patch: dict, reason: str) -> None:
    good, bad = rag_trace()[:2]
    bad = {**bad, **patch}
    batch = _parse({"spans": [good, bad, "not a span"]})
    assert [row["span_id"] for row in batch.row_dicts()] == [good["span_id"]]
    assert [(r.index, r.span_id) for r in batch.rejected] == [(1, bad["span_id"]), (2, "")]
    assert reason in batch.rejected[0].reason


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b'{"spans": {}}', 400), (b'{"sdk": {}}', 400)],
)
def test_bad_envelope(body: bytes, status: int) -> None:
    with pytest.raises(PayloadError) as err:
        parse_sdk_batch(body, "p1", max_spans=10, max_field_bytes=100)
    assert err.value.status_code == status


def test_too_many_spans() -> None:
    with pytest.raises(PayloadError) as err:
        _parse({"spans": rag_trace()}, max_spans=2)
    assert err.value.status_code == 413 and "limit is 2" in err.value.reason
