"""OTLP JSON documents to protobuf bytes without ``json_format``: the fast path of
``otlp.protobuf_body``.

``json_format.ParseDict`` walks the document through reflection, at about 300 µs per span.
This encoder is driven by the same message descriptors, but plans each message once and writes
the protobuf wire bytes directly. It accepts only the plain forms of the proto3 JSON mapping
(strings, integers as numbers or decimal text, enum names or numbers, base64 bytes, finite
numbers or "NaN"/"Infinity" for doubles) and OTLP's hex ids; for anything else (a ``null``,
a field under its proto name, a value of the wrong type, an integer out of range, deep
nesting) it declines by raising ``FastPathDeclined``, and ``json_format`` decides, error message
included.
tests/api/test_otlp_json.py checks that what it accepts parses to the very message
``json_format`` builds.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from haloscope.platform.ingest.errors import FastPathDeclined
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_MAX_DEPTH = 32
_F = FieldDescriptor
_INT_RANGES = {
    _F.TYPE_INT32: (-(2**31), 2**31),
    _F.TYPE_INT64: (-(2**63), 2**63),
    _F.TYPE_UINT32: (0, 2**32),
    _F.TYPE_UINT64: (0, 2**64),
    _F.TYPE_FIXED32: (0, 2**32),
    _F.TYPE_FIXED64: (0, 2**64),
    _F.TYPE_ENUM: (-(2**31), 2**31),
}
_FIXED = {_F.TYPE_FIXED32: struct.Struct("<I").pack, _F.TYPE_FIXED64: struct.Struct("<Q").pack}
_pack_double = struct.Struct("<d").pack
_DOUBLE_TEXT = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
# OTLP JSON spells these ids as hex, not base64 (docs/api.md).
_HEX_ID_FIELDS = {
    "opentelemetry.proto.trace.v1.Span": ("trace_id", "span_id", "parent_span_id"),
    "opentelemetry.proto.trace.v1.Span.Link": ("trace_id", "span_id"),
}


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes([n]) for n in range(0x80)]


def _integer(value: Any, low: int, high: int) -> int:
    if type(value) is str:
        digits = value[1:] if value[:1] == "-" else value
        if digits.isascii() and digits.isdigit():
            value = int(value)
    if type(value) is not int or not low <= value < high:
        raise FastPathDeclined
    return value


def _text(value: Any) -> bytes:
    if type(value) is not str:
        raise FastPathDeclined
    try:
        return value.encode()
    except UnicodeEncodeError:  # an unpaired surrogate
        raise FastPathDeclined from None


def _base64(value: Any) -> bytes:
    """Bytes the way json_format reads them: URL-safe or standard base64, padding optional."""
    raw = _text(value)
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (4 - len(raw) % 4))
    except (binascii.Error, ValueError):
        raise FastPathDeclined from None


def _hex(value: Any) -> bytes:
    """An OTLP JSON id: hex text; text that is not hex reads as no id (the span is rejected)."""
    if type(value) is not str:
        raise FastPathDeclined
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def _double(value: Any) -> float:
    if type(value) is float and value - value == 0:  # finite
        return value
    if type(value) is int and -(2**63) <= value < 2**63:
        return float(value)
    if type(value) is str and value in _DOUBLE_TEXT:
        return _DOUBLE_TEXT[value]
    raise FastPathDeclined


# A field's plan: its tag bytes, how to encode one JSON value (to the bytes after the tag),
# whether it repeats, and its oneof's name (or None).
_Plan = dict[str, tuple[bytes, Callable[[Any, int], bytes], bool, str | None]]


def _length_delimited(read: Callable[[Any], bytes]) -> Callable[[Any, int], bytes]:
    def encode(value: Any, depth: int) -> bytes:
        raw = read(value)
        return _varint(len(raw)) + raw

    return encode


def _scalar_encoder(field: FieldDescriptor) -> Callable[[Any, int], bytes]:
    kind = field.type
    if kind == _F.TYPE_STRING:
        return _length_delimited(_text)
    if kind == _F.TYPE_BYTES:
        hex_ids = _HEX_ID_FIELDS.get(field.containing_type.full_name, ())
        return _length_delimited(_hex if field.name in hex_ids else _base64)
    if kind == _F.TYPE_BOOL:

        def encode_bool(value: Any, depth: int) -> bytes:
            if type(value) is not bool:
                raise FastPathDeclined
            return _SMALL[value]

        return encode_bool
    if kind == _F.TYPE_DOUBLE:
        return lambda value, depth: _pack_double(_double(value))
    if kind == _F.TYPE_ENUM:
        names = {v.name: v.number for v in field.enum_type.values}

        def encode_enum(value: Any, depth: int) -> bytes:
            number = names.get(value) if type(value) is str else _integer(value, -(2**31), 2**31)
            if number is None:
                raise FastPathDeclined
            return _varint(number & 0xFFFFFFFFFFFFFFFF)

        return encode_enum
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        fixed = _FIXED.get(kind)
        if fixed is not None:
            return lambda value, depth: fixed(_integer(value, low, high))
        return lambda value, depth: _varint(_integer(value, low, high) & 0xFFFFFFFFFFFFFFFF)

    return _unsupported


def _unsupported(value: Any, depth: int) -> bytes:
    """Float, signed varint and fixed types, and packed repeated scalars: none in OTLP traces."""
    raise FastPathDeclined


_WIRE_TYPES = {_F.TYPE_DOUBLE: 1, _F.TYPE_FIXED64: 1, _F.TYPE_FIXED32: 5}
# message name -> (its plan, the proto names of its fields that differ from their JSON names)
_plans: dict[str, tuple[_Plan, frozenset[str]]] = {}


def _plan(descriptor: Descriptor) -> tuple[_Plan, frozenset[str]]:
    """A message's plan: each JSON name of its fields mapped to how the field is written, and
    the proto names json_format also reads (built once per message)."""
    plan: _Plan = {}
    _plans[descriptor.full_name] = (
        plan,
        frozenset(f.name for f in descriptor.fields) - {f.json_name for f in descriptor.fields},
    )
    for field in descriptor.fields:
        repeated = _is_repeated(field)
        if field.type == _F.TYPE_MESSAGE:
            wire_type, encode = 2, _message_encoder(field.message_type)
        else:
            wire_type = 2 if field.type in (_F.TYPE_STRING, _F.TYPE_BYTES) else 0
            wire_type = _WIRE_TYPES.get(field.type, wire_type)
            encode = _unsupported if repeated and wire_type != 2 else _scalar_encoder(field)
        oneof = field.containing_oneof.name if field.containing_oneof else None
        plan[field.json_name] = (_varint(field.number << 3 | wire_type), encode, repeated, oneof)
    return _plans[descriptor.full_name]


def _is_repeated(field: FieldDescriptor) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf >= 6; older releases have only the label
        return field.is_repeated
    return field.label == _F.LABEL_REPEATED


def _message_encoder(descriptor: Descriptor) -> Callable[[Any, int], bytes]:
    def encode(value: Any, depth: int) -> bytes:
        raw = _message(descriptor, value, depth + 1)
        return _varint(len(raw)) + raw

    if descriptor.full_name == _KEY_VALUE:
        return _key_value_encoder(encode)
    return encode


def _key_value_encoder(general: Callable[[Any, int], bytes]) -> Callable[[Any, int], bytes]:
    """The hot shape of an attribute written directly: ``{"key": text, "value": {"stringValue"
    | "intValue" | "boolValue" | "doubleValue": plain value}}``; any other goes to ``general``.
    The bytes are those ``general`` writes."""

    def encode(attribute: Any, depth: int) -> bytes:
        if type(attribute) is dict and len(attribute) == 2:
            key, value = attribute.get("key"), attribute.get("value")
            if type(key) is str and type(value) is dict and len(value) == 1:
                ((name, scalar),) = value.items()
                kind = type(scalar)
                try:
                    if name == "stringValue" and kind is str:
                        raw = scalar.encode()
                        value_bytes = b"\x0a" + _varint(len(raw)) + raw
                    elif name == "intValue" and (kind is str or kind is int):
                        value_bytes = b"\x18" + _varint(
                            _integer(scalar, -(2**63), 2**63) & 0xFFFFFFFFFFFFFFFF
                        )
                    elif name == "boolValue" and kind is bool:
                        value_bytes = _BOOLS[scalar]
                    elif name == "doubleValue":
                        value_bytes = b"\x21" + _pack_double(_double(scalar))
                    else:
                        return general(attribute, depth)
                    raw_key = key.encode()
                except UnicodeEncodeError:  # an unpaired surrogate
                    raise FastPathDeclined from None
                entry = (
                    b"\x0a"
                    + _varint(len(raw_key))
                    + raw_key
                    + b"\x12"
                    + _varint(len(value_bytes))
                    + value_bytes
                )
                return _varint(len(entry)) + entry
        return general(attribute, depth)

    return encode


_KEY_VALUE = "opentelemetry.proto.common.v1.KeyValue"
_BOOLS = {False: b"\x10\x00", True: b"\x10\x01"}


def _message(descriptor: Descriptor, document: Any, depth: int) -> bytes:
    if type(document) is not dict or depth > _MAX_DEPTH:
        raise FastPathDeclined
    plan, proto_names = _plans.get(descriptor.full_name) or _plan(descriptor)
    parts = []
    oneofs_set: set[str] = set()
    for key, value in document.items():
        field = plan.get(key)
        if field is None:
            # json_format reads a field under its proto name too, and refuses "[...]" names
            # (extensions): both left to it; any other unknown name is ignored, as it does.
            if key in proto_names or key.startswith("["):
                raise FastPathDeclined
            continue
        tag, encode, repeated, oneof = field
        if value is None:
            raise FastPathDeclined
        if oneof is not None:
            if oneof in oneofs_set:  # json_format refuses two values of one oneof
                raise FastPathDeclined
            oneofs_set.add(oneof)
        if repeated:
            if type(value) is not list:
                raise FastPathDeclined
            for item in value:
                if item is None:
                    raise FastPathDeclined
                parts.append(tag)
                parts.append(encode(item, depth))
        else:
            parts.append(tag)
            parts.append(encode(value, depth))
    return b"".join(parts)


def encode_request(document: Any) -> bytes:
    """The protobuf bytes of an OTLP JSON ``ExportTraceServiceRequest`` document (ids in hex);
    ``FastPathDeclined`` when it is not in the plain form handled here."""
    try:
        return _message(ExportTraceServiceRequest.DESCRIPTOR, document, 0)
    except RecursionError as exc:
        raise FastPathDeclined("the OTLP JSON document is nested too deeply") from exc
