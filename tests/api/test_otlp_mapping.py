"""OTLP spans (encoded by the official OpenTelemetry encoder) mapped onto span rows."""

from __future__ import annotations

import orjson
import pytest
from google.protobuf import json_format
from haloscope.platform.ingest import otlp_mapping
from haloscope.platform.ingest.errors import PayloadError
from haloscope.platform.ingest.otlp import (
    JSON,
    PROTOBUF,
    encode_export_response,
    media_type,
    protobuf_body,
)
from haloscope.platform.ingest.otlp_mapping import convert_otlp_request
from haloscope.platform.ingest.results import Rejection
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.api.otel_spans import recorded_spans


def _convert(request: ExportTraceServiceRequest):
    """Convert an official request message the way ingest does, from its protobuf bytes, and
    check that the compiled and the Python decoders give the same rows and rejections."""
    body = request.SerializeToString()
    batch = convert_otlp_request(body, "p1", max_spans=100, max_field_bytes=100_000)
    python = convert_otlp_request(
        body, "p1", max_spans=100, max_field_bytes=100_000, compiled=False
    )
    assert (batch.rows, batch.rejected) == (python.rows, python.rejected)
    return batch


def _rows_by_name(request) -> dict:
    batch = _convert(request)
    assert batch.rejected == []
    return {row["name"]: row for row in batch.row_dicts()}


def test_genai_and_openinference_attributes_map_to_columns() -> None:
    rows = _rows_by_name(encode_spans(recorded_spans()))
    root = rows["support-agent"]
    assert root["kind"] == "agent" and root["parent_span_id"] == ""
    assert (root["session_id"], root["user_id"], root["release"]) == ("sess-9", "user-3", "2.0.1")
    assert root["tags"] == ["beta", "eu"]
    assert orjson.loads(root["input"]) == "Where is my order?"
    assert root["metadata"]["customer.tier"] == "gold"
    assert root["metadata"]["service.name"] == "rag-app"
    assert root["metadata"]["otel.scope.name"] == "tests.otel"

    chat = rows["chat gpt-4o"]
    assert (chat["kind"], chat["model"], chat["provider"]) == ("llm", "gpt-4o", "openai")
    assert (chat["prompt_tokens"], chat["completion_tokens"], chat["total_tokens"]) == (42, 7, 49)
    assert orjson.loads(chat["input"]) == [{"role": "user", "content": "hi"}]
    # One output message is the span's output itself, as the SDK stores an llm span's.
    assert orjson.loads(chat["output"]) == {"role": "assistant", "content": "yo"}
    assert chat["metadata"]["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert chat["parent_span_id"] == root["span_id"]

    llm = rows["openinference llm"]
    assert (llm["kind"], llm["model"], llm["provider"]) == ("llm", "claude-3-5-haiku", "anthropic")
    assert (llm["prompt_tokens"], llm["completion_tokens"], llm["total_tokens"]) == (11, 5, 16)
    assert orjson.loads(llm["input"]) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Status?"},
    ]
    assert orjson.loads(llm["output"]) == {"role": "assistant", "content": "Shipped."}
    assert not any(key.startswith("llm.") for key in llm["metadata"])

    retriever = rows["vector search"]
    assert retriever["kind"] == "retrieval"
    assert orjson.loads(retriever["documents"]) == [
        {"id": "kb-1", "score": 0.8, "content": "Orders ship in 2 days."},
        {"id": "kb-2", "score": 0.3, "content": "Returns are free."},
    ]

    tool = rows["execute_tool lookup_order"]
    assert (tool["kind"], tool["tool_name"]) == ("tool", "lookup_order")
    assert orjson.loads(tool["tool_arguments"]) == {"order_id": "A17"}

    failed = rows["flaky step"]
    assert failed["status"] == "error"
    assert failed["status_message"] == "TimeoutError: carrier API timed out"
    assert all(row["status"] == "ok" for name, row in rows.items() if name != "flaky step")


def test_otlp_json_with_hex_ids_decodes_like_protobuf() -> None:
    request = encode_spans(recorded_spans())
    document = json_format.MessageToDict(request)
    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:  # protobuf JSON is base64; OTLP JSON is hex
                        span[key] = json_format.base64.b64decode(span[key]).hex()
    from_json = protobuf_body(orjson.dumps(document), JSON)
    batch = convert_otlp_request(from_json, "p1", max_spans=100, max_field_bytes=100_000)
    assert batch.rejected == []
    assert {row["name"]: row for row in batch.row_dicts()} == _rows_by_name(request)


def test_invalid_spans_are_rejected_and_reported_in_partial_success() -> None:
    request = encode_spans(recorded_spans())
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].span_id = b"\x01\x02"
    spans[1].end_time_unix_nano = spans[1].start_time_unix_nano - 1
    batch = _convert(request)
    assert len(batch.rows) == len(spans) - 2
    assert [r.index for r in batch.rejected] == [0, 1]
    assert "span_id" in batch.rejected[0].reason
    assert "end_time is before start_time" in batch.rejected[1].reason
    response = orjson.loads(encode_export_response(batch.rejected, JSON))
    assert response["partialSuccess"]["rejectedSpans"] == "2"
    assert "end_time is before start_time" in response["partialSuccess"]["errorMessage"]


def test_response_without_rejections_is_empty_and_reasons_are_capped() -> None:
    assert encode_export_response([], PROTOBUF) == b""
    many = [Rejection(i, "", "bad") for i in range(8)]
    assert (
        "and 3 more"
        in orjson.loads(encode_export_response(many, JSON))["partialSuccess"]["errorMessage"]
    )


@pytest.mark.parametrize(
    ("body", "kind"), [(b"\xff\xff\xff", PROTOBUF), (b"{", JSON), (b"[]", JSON)]
)
@pytest.mark.parametrize("compiled", [True, False])
def test_undecodable_bodies(body: bytes, kind: str, compiled: bool) -> None:
    with pytest.raises(PayloadError) as err:
        convert_otlp_request(
            protobuf_body(body, kind), "p1", max_spans=10, max_field_bytes=100, compiled=compiled
        )
    assert err.value.status_code == 400


def test_media_type() -> None:
    assert media_type("application/json; charset=utf-8") == JSON
    with pytest.raises(PayloadError) as err:
        media_type("text/plain")
    assert err.value.status_code == 415


def _any_value(value: str | int | bool) -> AnyValue:
    if type(value) is bool:
        return AnyValue(bool_value=value)
    if type(value) is int:
        return AnyValue(int_value=value)
    return AnyValue(string_value=value)


def test_each_column_takes_its_best_attribute_and_metadata_keeps_the_others() -> None:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    span = scope.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat")
    span.start_time_unix_nano = span.end_time_unix_nano = 1_700_000_000_000_000_000
    attributes = {
        "llm.model_name": "fallback-model",  # a worse key for model, listed first
        "gen_ai.request.model": "",  # empty: not taken, kept
        "gen_ai.response.model": "served-model",
        "llm.token_count.prompt": "12",  # digits text is accepted
        "gen_ai.usage.output_tokens": 3,
        "input.value": '{"q": 1}',
        "input.mime_type": "application/json",
        "output.mime_type": "text/plain",  # no output.value to apply to: kept
        "gen_ai.completion": "[1, 2]",
        "app.flag": True,
    }
    for key, value in attributes.items():
        span.attributes.add(key=key, value=_any_value(value))
    (row,) = _convert(request).row_dicts()
    assert row["model"] == "served-model"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (12, 3, 15)
    assert orjson.loads(row["input"]) == {"q": 1}
    assert orjson.loads(row["output"]) == [1, 2]
    assert row["metadata"] == {
        "gen_ai.request.model": "",
        "llm.model_name": "fallback-model",
        "output.mime_type": "text/plain",
        "app.flag": "true",
    }
    assert list(row["metadata"]) == sorted(row["metadata"])


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("gen_ai.usage.input_tokens", "many", "gen_ai.usage.input_tokens must be an integer"),
        ("gen_ai.usage.input_tokens", -1, "prompt tokens must be an integer between 0"),
        ("llm.token_count.total", 2**32, "total tokens must be an integer between 0"),
        ("gen_ai.request.model", 7, "model must be a string"),
    ],
)
def test_a_badly_typed_attribute_rejects_its_span_with_the_reason(
    key: str, value: str | int, reason: str
) -> None:
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat")
    )
    span.start_time_unix_nano = span.end_time_unix_nano = 1_700_000_000_000_000_000
    span.attributes.add(key=key, value=_any_value(value))
    batch = _convert(request)
    assert batch.rows == [] and len(batch.rejected) == 1
    assert reason in batch.rejected[0].reason


def test_a_span_starting_at_the_epoch_is_rejected() -> None:
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat")
    )
    span.end_time_unix_nano = 5_000
    (rejection,) = _convert(request).rejected
    assert "start_time must be" in rejection.reason


def test_the_active_decoder_is_the_python_view_when_the_module_is_not_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert otlp_mapping.active_decoder() == "compiled"
    monkeypatch.setattr(otlp_mapping, "_otlp_wire", None)
    assert otlp_mapping.active_decoder() == "python"
