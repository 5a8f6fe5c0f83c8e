"""OTLP/HTTP end to end: the official OpenTelemetry exporter (protobuf) and OTLP JSON, sent to
the live API on loopback, read back through the query API."""

from __future__ import annotations

import base64

import httpx
import orjson
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.api.otel_spans import recorded_spans
from tests.support.api_fixtures import LiveApi


def test_official_exporter_protobuf_gzip(live_api: LiveApi) -> None:
    keys = live_api.new_project()
    spans = recorded_spans()
    exporter = OTLPSpanExporter(
        endpoint=f"{live_api.base_url}/v1/traces",
        headers=keys.bearer_header,
        compression=Compression.Gzip,
    )
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    live_api.flush()

    trace_id = format(spans[0].context.trace_id, "032x")
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth) as client:
        trace = client.get(f"/api/v1/traces/{trace_id}").json()
    by_name = {span["name"]: span for span in trace["spans"]}
    assert len(by_name) == len(spans)
    assert by_name["chat gpt-4o"]["usage"] == {
        "prompt_tokens": 42,
        "completion_tokens": 7,
        "total_tokens": 49,
    }
    assert by_name["vector search"]["documents"][0]["id"] == "kb-1"
    assert by_name["execute_tool lookup_order"]["tool"] == {
        "name": "lookup_order",
        "arguments": {"order_id": "A17"},
    }
    assert by_name["flaky step"]["status"] == "error"
    assert by_name["support-agent"]["release"] == "2.0.1"
    root_id = by_name["support-agent"]["span_id"]
    assert [node["span_id"] for node in trace["tree"]] == [root_id]
    assert len(trace["tree"][0]["children"]) == len(spans) - 1


def test_otlp_json_with_partial_success(live_api: LiveApi) -> None:
    keys = live_api.new_project()
    document = json_format.MessageToDict(encode_spans(recorded_spans()))
    otlp_spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    for span in otlp_spans:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64decode(span[key]).hex()
    otlp_spans[0]["spanId"] = "not-hex"
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth) as client:
        response = client.post(
            "/v1/traces",
            content=orjson.dumps(document),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        partial = response.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "1" and "span_id" in partial["errorMessage"]
        live_api.flush()
        trace = client.get(f"/api/v1/traces/{otlp_spans[1]['traceId']}").json()
    assert len(trace["spans"]) == len(otlp_spans) - 1


def test_otlp_rejects_unknown_content_type(live_api: LiveApi) -> None:
    keys = live_api.new_project()
    response = httpx.post(
        f"{live_api.base_url}/v1/traces",
        content=b"hello",
        headers={"Content-Type": "text/plain"},
        auth=keys.basic_auth,
    )
    assert response.status_code == 415 and "Content-Type" in response.json()["error"]
