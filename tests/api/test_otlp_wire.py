"""The compiled OTLP decoder (``_otlp_wire``) agrees with the Python view on every request:
the same span records, rows, rejections and errors. It declines what it does not handle
(``FastPathDeclined``), and the Python view then decides."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from haloscope.platform.ingest import otlp_mapping, otlp_view
from haloscope.platform.ingest.errors import FastPathDeclined, PayloadError
from haloscope.platform.ingest.otlp_record import SpanRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.api.otel_spans import recorded_spans
from tests.api.otlp_requests import AGREEMENT, T0, requests

wire = otlp_mapping._otlp_wire
SLOTS, N_SLOTS = otlp_mapping._SLOTS, otlp_mapping._N_SLOTS


def outcome(body: bytes, compiled: bool) -> str:
    """What ingest makes of a body, as comparable text (``repr`` keeps NaN equal to itself)."""
    try:
        batch = otlp_mapping.convert_otlp_request(
            body, "p1", max_spans=1000, max_field_bytes=2000, compiled=compiled
        )
    except PayloadError as exc:
        return f"PayloadError {exc.status_code}: {exc}"
    return repr((batch.rows, batch.rejected))


def assert_same(body: bytes) -> None:
    assert outcome(body, True) == outcome(body, False)


def records(body: bytes, compiled: bool) -> list[SpanRecord]:
    """The span records of a valid request, from one decoder."""
    if compiled:
        resources = wire.decode(body, SLOTS, N_SLOTS)
        return [span for _, scopes in resources for _, _, spans in scopes for span in spans]
    return [
        otlp_view.span_record(span, SLOTS, N_SLOTS)
        for rs in otlp_view.parse_view(body).resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def comparable(record: SpanRecord) -> str:
    """A record as text, its attribute dicts in key order (the view's maps keep none)."""
    return repr(
        record._replace(
            attributes=sorted(record.attributes.items()),
            events=[(name, sorted(attributes.items())) for name, attributes in record.events],
        )
    )


def assert_same_records(body: bytes) -> None:
    """Both decoders give records of the one type, with the same fields and values."""
    compiled, view = records(body, True), records(body, False)
    assert {type(record) for record in compiled + view} <= {SpanRecord}
    assert [comparable(r) for r in compiled] == [comparable(r) for r in view]


def test_the_compiled_decoder_is_built() -> None:
    assert wire is not None, "build it: .venv/bin/python scripts/build_extension.py"


def _span(**fields: object) -> Span:
    span = Span(**{"trace_id": b"\x01" * 16, "span_id": b"\x02" * 8, "name": "s", **fields})
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 5_000
    return span


def _request(*spans: Span, resource: list[KeyValue] = ()) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(resource)
    resource_spans.scope_spans.add().spans.extend(spans)
    return request


def _kv(key: str, **value: object) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def _everything() -> ExportTraceServiceRequest:
    """Every field the mapping reads and several it skips, over two resources and scopes."""
    llm = _span(
        kind=Span.SPAN_KIND_CLIENT,
        trace_state="a=b",
        status=Status(code=Status.STATUS_CODE_ERROR),
        attributes=[
            _kv("openinference.span.kind", string_value="LLM"),
            _kv("gen_ai.request.model", string_value=""),
            _kv("llm.model_name", string_value="m"),
            _kv("gen_ai.usage.input_tokens", int_value=12),
            _kv("llm.token_count.completion", string_value="3"),
            _kv("llm.cost.total", double_value=0.25),
            _kv("tag.tags", array_value=ArrayValue(values=[AnyValue(string_value="t")])),
            _kv("input.value", string_value='{"q": "' + "x" * 300 + '"}'),
            _kv("input.mime_type", string_value="application/json"),
            _kv("blob", bytes_value=b"\x00\xff"),
            _kv("neg", int_value=-(2**63)),
            _kv("flag", bool_value=True),
            _kv("none"),
            _kv(
                "nested",
                kvlist_value=KeyValueList(
                    values=[_kv("b", double_value=1.5), _kv("a", string_value="é" * 100)]
                ),
            ),
        ],
    )
    llm.events.add(
        name="exception",
        time_unix_nano=T0,
        attributes=[
            _kv("exception.type", string_value="E"),
            _kv("exception.message", string_value="m"),
        ],
    )
    llm.events.add(name="gen_ai.choice", attributes=[_kv("z", int_value=1), _kv("a", int_value=2)])
    llm.links.add(trace_id=b"\x05" * 16, span_id=b"\x06" * 8)
    retrieval = _span(
        parent_span_id=b"\x02" * 8,
        attributes=[
            _kv("openinference.span.kind", string_value="RETRIEVER"),
            _kv("retrieval.documents.1.document.id", string_value="d1"),
            _kv("retrieval.documents.0.document.score", double_value=0.5),
        ],
    )
    retrieval.span_id = b"\x03" * 8
    request = _request(llm, retrieval, resource=[_kv("service.version", string_value="1.0")])
    request.resource_spans[0].schema_url = "https://opentelemetry.io/schemas/1.0"
    scope = request.resource_spans[0].scope_spans[0]
    scope.scope.name, scope.scope.version = "lib", "2"
    scope.scope.attributes.append(_kv("scope.attr", int_value=1))
    second = request.resource_spans.add()
    second.scope_spans.add().spans.append(_span(name="other"))
    return request


@pytest.mark.parametrize(
    "request_message",
    [encode_spans(recorded_spans()), _everything(), ExportTraceServiceRequest()],
    ids=["official-exporter", "every-field", "empty"],
)
def test_valid_requests_decode_compiled_and_match_the_python_view(
    request_message: ExportTraceServiceRequest,
) -> None:
    body = request_message.SerializeToString()
    assert_same_records(body)  # not declined, and the same records
    assert_same(body)
    batch = otlp_mapping.convert_otlp_request(body, "p1", max_spans=1000, max_field_bytes=2000)
    assert len(batch.rows) + len(batch.rejected) == sum(
        len(ss.spans) for rs in request_message.resource_spans for ss in rs.scope_spans
    )


def _nested_array(depth: int) -> AnyValue:
    value = AnyValue(int_value=1)
    for _ in range(depth):
        value = AnyValue(array_value=ArrayValue(values=[value]))
    return value


def _delimited(field: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are under 128 bytes)."""
    assert len(payload) < 128
    return bytes([field << 3 | 2, len(payload)]) + payload


def _in_request(span: bytes) -> bytes:
    """A request holding one span given as raw bytes."""
    return _delimited(1, _delimited(2, _delimited(2, span)))


def _with_attribute(entry: bytes) -> bytes:
    """A request whose one span has an attribute entry given as raw bytes."""
    return _in_request(GOOD_SPAN + _delimited(9, entry))


GOOD_SPAN = _span().SerializeToString()
DECLINED = {
    "truncated": _request(_span()).SerializeToString()[:-1],
    "name not utf-8": _in_request(GOOD_SPAN.replace(b"\x2a\x01s", b"\x2a\x01\xff")),
    "value not utf-8": _with_attribute(_delimited(1, b"k") + _delimited(2, b"\x0a\x01\xff")),
    "status twice": _in_request(GOOD_SPAN + _delimited(15, b"\x18\x02") + _delimited(15, b"")),
    "two oneof values": _with_attribute(_delimited(1, b"k") + _delimited(2, b"\x0a\x01a\x18\x01")),
    "unknown field in an attribute": _with_attribute(_delimited(1, b"k") + b"\x18\x01"),
    "wrong wire type": _in_request(GOOD_SPAN + b"\x28\x01"),  # name (5) as a varint
    "group wire type": _request(_span()).SerializeToString() + b"\x0b\x0c",
    "too deep": _request(
        _span(attributes=[KeyValue(key="deep", value=_nested_array(40))])
    ).SerializeToString(),
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_unusual_bodies_are_declined_and_decided_by_the_python_view(name: str) -> None:
    body = DECLINED[name]
    with pytest.raises(FastPathDeclined):
        wire.decode(body, SLOTS, N_SLOTS)
    assert_same(body)


def test_a_bad_slot_table_is_a_type_error_not_a_crash() -> None:
    body = _request(_span(attributes=[_kv("k", string_value="v")])).SerializeToString()
    with pytest.raises(TypeError, match="index, rank"):
        wire.decode(body, {"k": 3}, 1)
    with pytest.raises(ValueError, match="slot 5 of 1"):
        wire.decode(body, {"k": (5, 0)}, 1)
    assert wire.decode(body, SLOTS, N_SLOTS)  # and the module is still usable


# SpanRecord's fields in reverse order (the compiled decoder fills them by name), and with its
# last field renamed (refused).
Reordered = NamedTuple("Reordered", [(name, Any) for name in reversed(SpanRecord._fields)])
Renamed = NamedTuple("Renamed", [(name, Any) for name in SpanRecord._fields[:-1] + ("message",)])


class WithDict(tuple):
    """The right field names, but instances with a ``__dict__``: not a tuple's layout."""

    _fields = SpanRecord._fields


def test_records_are_filled_by_field_name_and_other_fields_are_refused() -> None:
    body = _everything().SerializeToString()
    expected = records(body, True)
    try:
        wire.set_types(Reordered, FastPathDeclined)
        reordered = records(body, True)
    finally:
        wire.set_types(SpanRecord, FastPathDeclined)
    assert [type(r) for r in reordered] == [Reordered] * len(expected)
    assert [r._asdict() for r in reordered] == [r._asdict() for r in expected]
    for record_type in (Renamed, WithDict, tuple, int):
        with pytest.raises(TypeError):
            wire.set_types(record_type, FastPathDeclined)
    with pytest.raises(TypeError, match="not an exception type"):
        wire.set_types(SpanRecord, object)
    assert records(body, True) == expected  # a refused call changes nothing


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@AGREEMENT
@given(body=requests().map(ExportTraceServiceRequest.SerializeToString))
def test_random_requests_give_the_same_records_rows_and_rejections(body: bytes) -> None:
    assert_same_records(body)  # valid requests are never declined
    assert_same(body)


@AGREEMENT
@given(
    body=requests().map(ExportTraceServiceRequest.SerializeToString),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 10**6),
)
def test_corrupted_requests_give_the_same_outcome(
    body: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(body)
    for position, byte in edits:
        if data:
            data[position % len(data)] = byte
    if cut % 3 == 0 and data:
        del data[cut % len(data) :]
    assert_same(bytes(data))
