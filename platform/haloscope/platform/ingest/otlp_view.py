"""A lean view of the OTLP trace export request: the fields the mapping reads, with attribute
lists read as maps of raw ``AnyValue`` bytes.

An OTLP ``KeyValue`` (``key = 1``, ``value = 2``) has the wire layout of a protobuf map entry,
so ``repeated KeyValue attributes`` parses as ``map<string, bytes>``: the C parser (upb) then
builds one ``str`` key and one ``bytes`` value per attribute instead of two message wrappers,
and :func:`attribute_values` decodes the common scalar values from those bytes directly. The
other fields keep their numbers and types, so any valid OTLP request parses; fields the mapping
does not read (links, trace state, dropped counts) are skipped as unknown fields. A map keeps
the last of repeated keys, as the mapping always did; its iteration order is not the request's.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from haloscope.platform.ingest.errors import PayloadError, SpanRejected
from haloscope.platform.ingest.otlp_record import SpanRecord
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

_PACKAGE = "haloscope.otlp_view"
_F = descriptor_pb2.FieldDescriptorProto
# message -> its fields as (name, number, type, repeated, message type or None); "attributes"
# is the map<string, bytes> described above.
_MESSAGES: dict[str, tuple[tuple[str, int, int, bool, str | None], ...]] = {
    "ExportTraceServiceRequest": (("resource_spans", 1, _F.TYPE_MESSAGE, True, "ResourceSpans"),),
    "ResourceSpans": (
        ("resource", 1, _F.TYPE_MESSAGE, False, "Resource"),
        ("scope_spans", 2, _F.TYPE_MESSAGE, True, "ScopeSpans"),
    ),
    "Resource": (("attributes", 1, _F.TYPE_MESSAGE, True, None),),
    "ScopeSpans": (
        ("scope", 1, _F.TYPE_MESSAGE, False, "InstrumentationScope"),
        ("spans", 2, _F.TYPE_MESSAGE, True, "Span"),
    ),
    "InstrumentationScope": (
        ("name", 1, _F.TYPE_STRING, False, None),
        ("version", 2, _F.TYPE_STRING, False, None),
    ),
    "Span": (
        ("trace_id", 1, _F.TYPE_BYTES, False, None),
        ("span_id", 2, _F.TYPE_BYTES, False, None),
        ("parent_span_id", 4, _F.TYPE_BYTES, False, None),
        ("name", 5, _F.TYPE_STRING, False, None),
        ("start_time_unix_nano", 7, _F.TYPE_FIXED64, False, None),
        ("end_time_unix_nano", 8, _F.TYPE_FIXED64, False, None),
        ("attributes", 9, _F.TYPE_MESSAGE, True, None),
        ("events", 11, _F.TYPE_MESSAGE, True, "Event"),
        ("status", 15, _F.TYPE_MESSAGE, False, "Status"),
    ),
    "Event": (
        ("name", 2, _F.TYPE_STRING, False, None),
        ("attributes", 3, _F.TYPE_MESSAGE, True, None),
    ),
    # ``code`` is the StatusCode enum on the wire: a varint, read here as an integer.
    "Status": (
        ("message", 2, _F.TYPE_STRING, False, None),
        ("code", 3, _F.TYPE_INT32, False, None),
    ),
}
STATUS_CODE_ERROR = 2


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="haloscope/otlp_view.proto", package=_PACKAGE, syntax="proto3"
    )
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for name, number, kind, repeated, type_name in fields:
            label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            field = message.field.add(name=name, number=number, type=kind, label=label)
            if name == "attributes":
                entry = message.nested_type.add(name="AttributesEntry")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
                entry.field.add(name="value", number=2, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
                type_name = f"{message_name}.AttributesEntry"
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
    return file


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file_descriptor())
TraceRequestView = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName(f"{_PACKAGE}.ExportTraceServiceRequest")
)


def parse_view(body: bytes) -> Any:
    """Protobuf bytes of an export request as a :data:`TraceRequestView`; ``PayloadError``
    400 when they are not a valid message."""
    try:
        return TraceRequestView.FromString(body)
    except DecodeError as exc:
        raise PayloadError(400, f"body is not a valid OTLP protobuf message: {exc}") from exc


# AnyValue's first byte (field number << 3 | wire type) for the scalars decoded inline.
_STRING, _BOOL, _INT, _DOUBLE = 0x0A, 0x10, 0x18, 0x21
_unpack_double = struct.Struct("<d").unpack_from


def route_attributes(
    attributes: Mapping[str, bytes], slots: Mapping[str, tuple[int, int]], n_slots: int
) -> tuple[list[Any], dict[str, Any]]:
    """Decode an attributes map of the view in one pass: a key of ``slots`` (key -> slot index,
    precedence rank) fills its slot when its value is present and non-empty and no key of
    better rank has; every other attribute goes to the returned dict. ``SpanRejected`` for a
    value that is not a valid ``AnyValue`` (text that is not UTF-8, say)."""
    values: list[Any] = [None] * n_slots
    ranks = [len(slots)] * n_slots
    owners: list[str | None] = [None] * n_slots
    rest = {}
    try:
        for key in attributes:  # keys and lookups are C; the map's items() is a Python view
            raw = attributes[key]
            # Inline, the common values: a string of under 128 bytes (tag, one length byte, the
            # text), a small non-negative integer (tag, one varint byte); _value does the rest.
            n = len(raw)
            if 1 < n < 130 and raw[0] == _STRING and raw[1] == n - 2:
                value = raw[2:].decode()
            elif n == 2 and raw[0] == _INT and raw[1] < 0x80:
                value = raw[1]
            else:
                value = _value(raw)
            slot = slots.get(key)
            if slot is None or value is None or value == "":
                rest[key] = value
                continue
            index, rank = slot
            if rank < ranks[index]:
                displaced = owners[index]
                if displaced is not None:
                    rest[displaced] = values[index]
                values[index], ranks[index], owners[index] = value, rank, key
            else:
                rest[key] = value
    except (UnicodeDecodeError, DecodeError) as exc:
        raise SpanRejected(f"attribute {key!r} is not a valid OTLP AnyValue: {exc}") from exc
    return values, rest


def span_record(span: Any, slots: Mapping[str, tuple[int, int]], n_slots: int) -> SpanRecord:
    """The :class:`SpanRecord` of a span of the view, its attributes routed into ``slots`` (see
    :func:`route_attributes`); ``SpanRejected`` for a value that is not a valid ``AnyValue``."""
    slot_values, rest = route_attributes(span.attributes, slots, n_slots)
    events, status = span.events, span.status
    return SpanRecord(  # positional, in field order: keywords cost ~0.5 µs a span more
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.name,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        slot_values,
        rest,
        # Iterating an empty repeated field costs ~0.6 µs: most spans have no events.
        [(event.name, attribute_values(event.attributes)) for event in events] if events else [],
        status.code,
        status.message,
    )


def attribute_values(attributes: Mapping[str, bytes]) -> dict[str, Any]:
    """An attributes map of the view as a dict of Python values (see ``route_attributes``)."""
    return route_attributes(attributes, {}, 0)[1]


def _value(raw: bytes) -> Any:
    """One ``AnyValue`` from its bytes, past the caller's inline cases: longer strings,
    integers, doubles and booleans read directly, anything else (arrays, key/value lists,
    bytes, negative integers) parsed."""
    n = len(raw)
    if n > 2:
        tag = raw[0]
        if tag == _STRING and raw[1] >= 0x80 and raw[2] < 0x80:  # 128 bytes to 16 KiB of text
            if n == (raw[1] & 0x7F | raw[2] << 7) + 3:
                return raw[3:].decode()
        elif tag == _INT and raw[-1] < 0x80 and n <= 10:  # a non-negative varint below 2**63
            if all(byte >= 0x80 for byte in raw[1:-1]):
                value = 0
                for shift, byte in enumerate(raw[1:]):
                    value |= (byte & 0x7F) << (7 * shift)
                return value
        elif tag == _DOUBLE and n == 9:
            return _unpack_double(raw, 1)[0]
    elif n == 2 and raw[0] == _BOOL and raw[1] < 0x80:
        return raw[1] != 0
    return any_value(AnyValue.FromString(raw))


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` message as a Python value (bytes as hex text)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _kvlist(value.kvlist_value.values)
    if which == "bytes_value":
        return value.bytes_value.hex()
    return None


def _kvlist(values: list[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in values}
