"""The lean OTLP view reads every attribute value exactly as the official messages do."""

from __future__ import annotations

import math

import pytest
from haloscope.platform.ingest.errors import SpanRejected
from haloscope.platform.ingest.otlp_mapping import convert_otlp_request
from haloscope.platform.ingest.otlp_view import (
    TraceRequestView,
    any_value,
    attribute_values,
    parse_view,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span

# Boundaries of the inline paths: one- and two-byte length prefixes, one- to nine-byte varints.
_TEXTS = [
    "",
    "a",
    "é" * 63,
    "x" * 127,
    "x" * 128,
    "ü" * 4000,
    "x" * 16383,
    "x" * 16384,
    "y" * 70000,
]
_INTS = [0, 1, 127, 128, 300, 2**31, 2**56, 2**63 - 1, -1, -(2**63)]
_DOUBLES = [0.0, -0.0, 1.5, -2.25e-300, math.inf, 1e308]


def _values() -> list[AnyValue]:
    values = [AnyValue(string_value=text) for text in _TEXTS]
    values += [AnyValue(int_value=n) for n in _INTS]
    values += [AnyValue(double_value=x) for x in _DOUBLES]
    values += [AnyValue(bool_value=True), AnyValue(bool_value=False), AnyValue()]
    values.append(AnyValue(bytes_value=b"\x00\xff"))
    values.append(
        AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=3), AnyValue(string_value="s")]))
    )
    values.append(
        AnyValue(
            kvlist_value=KeyValueList(values=[KeyValue(key="k", value=AnyValue(double_value=0.5))])
        )
    )
    return values


def _request(attributes: list[KeyValue]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    span = scope.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s")
    span.start_time_unix_nano = span.end_time_unix_nano = 1_700_000_000_000_000_000
    span.attributes.extend(attributes)
    return request


def test_every_kind_of_value_reads_as_the_official_message_does() -> None:
    attributes = [KeyValue(key=f"k{i}", value=v) for i, v in enumerate(_values())]
    request = _request(attributes)
    official = {kv.key: any_value(kv.value) for kv in attributes}
    view = TraceRequestView.FromString(request.SerializeToString())
    read = attribute_values(view.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert read.keys() == official.keys()
    for key, expected in official.items():
        assert read[key] == expected and type(read[key]) is type(expected), key


def test_a_repeated_key_keeps_its_last_value() -> None:
    request = _request(
        [
            KeyValue(key="k", value=AnyValue(string_value="first")),
            KeyValue(key="k", value=AnyValue(int_value=2)),
        ]
    )
    view = parse_view(request.SerializeToString())
    assert attribute_values(view.resource_spans[0].scope_spans[0].spans[0].attributes) == {"k": 2}


def test_a_value_that_is_not_utf8_rejects_its_span_only() -> None:
    request = _request([KeyValue(key="bad", value=AnyValue(bytes_value=b"\xff\xfe"))])
    good = request.resource_spans[0].scope_spans[0].spans.add()
    good.CopyFrom(request.resource_spans[0].scope_spans[0].spans[0])
    good.span_id = b"\x03" * 8
    del good.attributes[:]
    body = request.SerializeToString()
    # Turn the first span's bytes_value (field 7) into a string_value (field 1) that is not UTF-8:
    # the official message refuses the whole request, the view rejects that one span.
    body = body.replace(b"\x3a\x02\xff\xfe", b"\x0a\x02\xff\xfe", 1)
    with pytest.raises(Exception, match="(?i)utf-8|parse"):
        ExportTraceServiceRequest.FromString(body)
    batch = convert_otlp_request(body, "p1", max_spans=10, max_field_bytes=1000)
    assert [row["span_id"] for row in batch.row_dicts()] == ["03" * 8]
    assert [(r.index, r.span_id) for r in batch.rejected] == [(0, "02" * 8)]
    assert "'bad' is not a valid OTLP AnyValue" in batch.rejected[0].reason


@pytest.mark.parametrize(
    "value",
    [
        AnyValue(string_value="x" * 200),
        AnyValue(string_value="abc"),
        AnyValue(int_value=300),
        AnyValue(double_value=0.25),
    ],
)
def test_a_truncated_value_is_rejected_not_misread(value: AnyValue) -> None:
    view = TraceRequestView.FromString(_request([]).SerializeToString())
    attributes = view.resource_spans[0].scope_spans[0].spans[0].attributes
    attributes["cut"] = value.SerializeToString()[:-1]
    with pytest.raises(SpanRejected, match="'cut'"):
        attribute_values(attributes)


def test_fields_the_view_does_not_read_are_skipped() -> None:
    request = _request([])
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.kind = Span.SPAN_KIND_CLIENT
    span.trace_state = "a=b"
    span.links.add(trace_id=b"\x05" * 16, span_id=b"\x06" * 8)
    batch = convert_otlp_request(
        request.SerializeToString(),
        "p1",
        max_spans=10,
        max_field_bytes=1000,
    )
    assert batch.rejected == [] and [r["span_id"] for r in batch.row_dicts()] == ["02" * 8]
