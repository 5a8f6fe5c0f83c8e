"""Property-based fuzzing of both ingest routes: arbitrary bodies never cause a 5xx, every
refusal carries a reason, and the valid spans of a partly broken batch are stored."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.api.otel_spans import recorded_spans
from tests.api.spans import new_span_id, new_trace_id, rag_trace
from tests.security.fuzzing import FUZZ, JSON_VALUES, assert_handled, json_bytes, mutate
from tests.support.api_fixtures import LiveApi, ProjectKeys

SPAN_FIELDS = sorted({key for span in rag_trace() for key in span} | {"tool", "documents"})
JSON_TYPE = {"Content-Type": "application/json"}
PROTOBUF_TYPE = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def keys(live_api: LiveApi) -> ProjectKeys:
    return live_api.new_project()


@pytest.fixture(scope="module")
def client(live_api: LiveApi, keys: ProjectKeys) -> httpx.Client:
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def otlp_document() -> dict[str, Any]:
    return json_format.MessageToDict(encode_spans(recorded_spans()))


def test_arbitrary_json_bodies(client: httpx.Client) -> None:
    @FUZZ
    @given(body=JSON_VALUES, gzipped=st.booleans())
    def post(body: Any, gzipped: bool) -> None:
        raw = json_bytes(body)
        headers = {**JSON_TYPE, **({"Content-Encoding": "gzip"} if gzipped else {})}
        response = client.post(
            "/api/v1/ingest", content=gzip.compress(raw) if gzipped else raw, headers=headers
        )
        assert_handled(response)

    post()


def test_arbitrary_bytes_with_every_encoding(client: httpx.Client) -> None:
    @FUZZ
    @given(
        raw=st.binary(max_size=300),
        encoding=st.sampled_from([None, "gzip", "deflate", "br", "gzip, gzip", ""]),
        route=st.sampled_from(["/api/v1/ingest", "/v1/traces"]),
        content_type=st.sampled_from(
            ["application/json", "application/x-protobuf", "text/plain", "", "application/json;;"]
        ),
    )
    def post(raw: bytes, encoding: str | None, route: str, content_type: str) -> None:
        headers = {"Content-Type": content_type}
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        assert_handled(client.post(route, content=raw, headers=headers))

    post()


def test_mutated_sdk_spans_leave_valid_neighbours_stored(
    client: httpx.Client, live_api: LiveApi, keys: ProjectKeys
) -> None:
    valid_traces: list[str] = []

    @FUZZ
    @given(
        field=st.sampled_from([*SPAN_FIELDS, "unknown_field"]),
        value=JSON_VALUES,
        drop=st.booleans(),
    )
    def post(field: str, value: Any, drop: bool) -> None:
        good_first, _, good_last = rag_trace()
        broken = {**rag_trace()[2], "trace_id": new_trace_id(), "span_id": new_span_id()}
        if drop:
            broken.pop(field, None)
        else:
            broken[field] = value
        body = {"sdk": {"name": "fuzz"}, "spans": [good_first, broken, good_last]}
        response = client.post("/api/v1/ingest", content=json_bytes(body), headers=JSON_TYPE)
        assert_handled(response)
        assert response.status_code in (200, 207), response.text
        result = response.json()
        assert {r["index"] for r in result["rejected"]} <= {1}, result
        assert all(r["reason"] for r in result["rejected"]), result
        assert result["accepted"] == 3 - len(result["rejected"])
        valid_traces.append(good_first["trace_id"])

    post()
    live_api.flush()
    missing = [t for t in valid_traces if len(live_api.store.get_trace(keys.project_id, t)) != 2]
    assert not missing, f"{len(missing)} of {len(valid_traces)} valid traces not fully stored"


def test_mutated_otlp_json(client: httpx.Client, otlp_document: dict[str, Any]) -> None:
    @FUZZ
    @given(path=st.lists(st.integers(0, 20), max_size=8), value=JSON_VALUES)
    def post(path: list[int], value: Any) -> None:
        body = json_bytes(mutate(otlp_document, path, value))
        assert_handled(client.post("/v1/traces", content=body, headers=JSON_TYPE))

    post()


def test_corrupted_otlp_protobuf(client: httpx.Client) -> None:
    message = encode_spans(recorded_spans()).SerializeToString()

    @FUZZ
    @given(
        flips=st.lists(
            st.tuples(st.integers(0, len(message) - 1), st.integers(0, 255)), min_size=1, max_size=6
        ),
        cut=st.integers(0, len(message)),
    )
    def post(flips: list[tuple[int, int]], cut: int) -> None:
        corrupted = bytearray(message)
        for index, byte in flips:
            corrupted[index] = byte
        response = client.post(
            "/v1/traces", content=bytes(corrupted[:cut] or corrupted), headers=PROTOBUF_TYPE
        )
        assert_handled(response)

    post()


def test_oversized_and_deeply_nested_bodies_are_refused_with_a_reason(
    client: httpx.Client, live_api: LiveApi
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = {
        "sdk": {},
        "spans": [{**rag_trace()[0], "input": orjson.loads(b"[" * 200 + b"]" * 200)}],
    }
    limit = live_api.app.state.haloscope.settings.max_request_bytes
    for route, body in (
        ("/api/v1/ingest", deep),
        ("/api/v1/ingest", json_bytes(nested)),
        ("/api/v1/ingest", b" " * (limit + 1)),
        ("/v1/traces", b"\x0a" * (limit + 1)),
    ):
        response = client.post(route, content=body, headers=JSON_TYPE)
        assert_handled(response)
    assert client.post("/api/v1/ingest", content=b" " * (limit + 1)).status_code == 413


def test_invalid_utf8_inside_a_span_string_is_a_400(client: httpx.Client) -> None:
    span = {**rag_trace()[0], "user_id": "USER"}
    body = json_bytes({"spans": [span]}).replace(b"USER", b"\xed\xa0\x80")
    response = client.post("/api/v1/ingest", content=body, headers=JSON_TYPE)
    assert_handled(response)
    assert response.status_code == 400
