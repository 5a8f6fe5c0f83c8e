"""OTLP/HTTP trace export bodies: decoding requests and encoding responses.

Protobuf (``application/x-protobuf``) and JSON (``application/json``) are both accepted; the
mapping (``otlp_mapping``) reads protobuf bytes, so a JSON body is parsed and re-encoded. OTLP
JSON spells trace and span ids as hex, while protobuf's JSON mapping expects base64 for bytes
fields, so ids are rewritten before parsing; an id that is not hex becomes empty and its span is
rejected by the mapping with a reason, like any other invalid span.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf import json_format
from haloscope.platform.ingest.errors import FastPathDeclined, PayloadError
from haloscope.platform.ingest.otlp_json import encode_request
from haloscope.platform.ingest.results import Rejection
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_MAX_REASONS = 5


def media_type(content_type: str | None) -> str:
    """The OTLP encoding named by a Content-Type header; ``PayloadError`` 415 otherwise."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in (PROTOBUF, JSON):
        return kind
    raise PayloadError(
        415, f"unsupported Content-Type {kind or '(none)'!r}; use {PROTOBUF} or {JSON}"
    )


def protobuf_body(body: bytes, kind: str) -> bytes:
    """An ``ExportTraceServiceRequest`` body in the given encoding as protobuf bytes: protobuf
    passes through (the mapping parses it), JSON is parsed and re-encoded (``otlp_json``, or
    ``json_format`` for what it declines); ``PayloadError`` 400 for JSON that is not an OTLP
    message."""
    if kind == PROTOBUF:
        return body
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(400, f"request body is not valid JSON: {exc}") from exc
    if type(document) is not dict:
        raise PayloadError(400, "OTLP JSON body must be an object with 'resourceSpans'")
    try:
        return encode_request(document)
    except FastPathDeclined:
        return parse_json_document(document).SerializeToString()


def parse_json_document(document: dict[str, Any]) -> ExportTraceServiceRequest:
    """An OTLP JSON document (ids in hex) as the official message, by ``json_format``: the
    reference ``otlp_json`` defers to; ``PayloadError`` 400. Rewrites the ids in place."""
    for resource_spans in _dicts(document.get("resourceSpans")):
        for scope_spans in _dicts(resource_spans.get("scopeSpans")):
            for span in _dicts(scope_spans.get("spans")):
                _hex_ids_to_base64(span)
                for link in _dicts(span.get("links")):
                    _hex_ids_to_base64(link)
    try:
        return json_format.ParseDict(
            document, ExportTraceServiceRequest(), ignore_unknown_fields=True
        )
    except (json_format.ParseError, OverflowError) as exc:
        raise PayloadError(400, f"body is not a valid OTLP JSON message: {exc}") from exc


def encode_export_response(rejected: list[Rejection], kind: str) -> bytes:
    """An ``ExportTraceServiceResponse``; partial success names the first few reasons."""
    response = ExportTraceServiceResponse()
    if rejected:
        reasons = "; ".join(
            f"span {r.index} ({r.span_id or 'no id'}): {r.reason}" for r in rejected[:_MAX_REASONS]
        )
        more = len(rejected) - _MAX_REASONS
        if more > 0:
            reasons += f"; and {more} more"
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=len(rejected), error_message=reasons)
        )
    if kind == PROTOBUF:
        return response.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(response))


def _dicts(value: Any) -> list[dict[str, Any]]:
    if type(value) is not list:
        return []
    return [item for item in value if type(item) is dict]


def _hex_ids_to_base64(obj: dict[str, Any]) -> None:
    for field in _ID_FIELDS:
        value = obj.get(field)
        if type(value) is str:
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = b""
            obj[field] = base64.b64encode(raw).decode()
