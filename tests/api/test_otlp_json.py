"""OTLP JSON: what the fast encoder (``otlp_json``) accepts parses to the very message
``json_format`` builds, and what it declines is left to ``json_format``, errors included."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from haloscope.platform.ingest.errors import FastPathDeclined, PayloadError
from haloscope.platform.ingest.otlp import JSON, parse_json_document, protobuf_body
from haloscope.platform.ingest.otlp_json import encode_request
from hypothesis import assume, given
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.api.otel_spans import recorded_spans
from tests.api.otlp_requests import AGREEMENT, requests
from tests.security.fuzzing import JSON_VALUES, mutate


def json_document(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP JSON of a request: the proto3 JSON mapping, with the ids in hex."""
    document = json_format.MessageToDict(request)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for item in [span, *span.get("links", [])]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in item:
                            item[key] = json_format.base64.b64decode(item[key]).hex()
    return document


def reference(document: Any) -> bytes | str:
    """What json_format makes of a document: canonical bytes, or the error."""
    try:
        message = parse_json_document(copy.deepcopy(document))
    except PayloadError as exc:
        return f"PayloadError {exc.status_code}"
    return message.SerializeToString(deterministic=True)


def fast(document: Any) -> bytes | None:
    """What the fast encoder makes of a document: canonical bytes, or None (declined)."""
    try:
        encoded = encode_request(copy.deepcopy(document))
    except FastPathDeclined:
        return None
    return ExportTraceServiceRequest.FromString(encoded).SerializeToString(deterministic=True)


def test_the_official_exporters_spans_are_encoded_without_json_format() -> None:
    document = json_document(encode_spans(recorded_spans()))
    assert fast(document) is not None
    assert fast(document) == reference(document)


def test_the_ingest_body_is_the_fast_encoding() -> None:
    document = json_document(encode_spans(recorded_spans()))
    body = protobuf_body(orjson.dumps(document), JSON)
    assert body == encode_request(document)


def _attribute_document(value: Any) -> dict[str, Any]:
    """A document of one span with one attribute ``k`` holding ``value`` (an AnyValue)."""
    attribute = {"key": "k", "value": value}
    span = {"traceId": "01" * 16, "spanId": "02" * 8, "name": "s", "attributes": [attribute]}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


@pytest.mark.parametrize(
    "value",
    [
        {"intValue": "-12"},
        {"intValue": 7},
        {"doubleValue": "NaN"},
        {"doubleValue": "-Infinity"},
        {"doubleValue": 3},
        {"boolValue": False},
        {"stringValue": ""},
        {"bytesValue": "AP8"},  # base64 without padding
        {"arrayValue": {"values": [{"intValue": "1"}, {}]}},
        {"kvlistValue": {"values": [{"key": "a", "value": {"stringValue": "b"}}]}},
        {},
    ],
)
def test_plain_values_are_accepted_and_equal_json_formats(value: dict[str, Any]) -> None:
    document = _attribute_document(value)
    assert fast(document) is not None
    assert fast(document) == reference(document)


@pytest.mark.parametrize(
    "value",
    [
        {"intValue": "1e3"},  # json_format reads integral floats; left to it
        {"intValue": 2**63},  # out of range: json_format's error
        {"intValue": True},
        {"doubleValue": "1.5"},
        {"doubleValue": 10**400},  # json_format raises OverflowError here: now a 400
        {"stringValue": None},
        {"stringValue": "a", "intValue": 1},  # two oneof values
        {"bytesValue": "A"},  # not base64
        {"stringValue": 5},
        {"string_value": "proto name"},
        {"[ext]": 1},
    ],
)
def test_other_forms_are_declined_and_json_format_decides(value: dict[str, Any]) -> None:
    document = _attribute_document(value)
    assert fast(document) is None
    reference(document)  # an answer or a PayloadError, never another exception


def test_ids_are_hex_and_text_that_is_not_hex_reads_as_no_id() -> None:
    document = _attribute_document({"stringValue": "v"})
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["parentSpanId"] = "not hex"
    span["kind"] = "SPAN_KIND_SERVER"
    span["links"] = [{"traceId": "05" * 16, "spanId": "06" * 8}]
    decoded = ExportTraceServiceRequest.FromString(encode_request(copy.deepcopy(document)))
    parsed = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert (parsed.trace_id, parsed.parent_span_id) == (b"\x01" * 16, b"")
    assert parsed.links[0].span_id == b"\x06" * 8
    assert fast(document) == reference(document)


@AGREEMENT
@given(request=requests())
def test_random_requests_encode_as_json_format_parses_them(
    request: ExportTraceServiceRequest,
) -> None:
    document = json_document(request)
    assert fast(document) is not None  # the proto3 JSON of a valid request is never declined
    assert fast(document) == reference(document)


@AGREEMENT
@given(
    request=requests(),
    path=st.lists(st.integers(0, 50), max_size=9),
    replacement=JSON_VALUES,
)
def test_mutated_documents_are_encoded_as_json_format_parses_them_or_declined(
    request: ExportTraceServiceRequest, path: list[int], replacement: Any
) -> None:
    document = mutate(json_document(request), path, replacement)
    assume(type(document) is dict)  # protobuf_body refuses any other body before encoding
    expected, encoded = reference(document), fast(document)
    if isinstance(expected, str):  # json_format refuses it: so must the fast encoder
        assert encoded is None
    else:
        assert encoded is None or encoded == expected
