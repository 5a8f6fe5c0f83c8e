"""Every ingest fast path hands an input back to its reference path only by raising
``FastPathDeclined``: a decline gives the reference path's outcome, and any other exception
(a bug in the fast path) propagates instead of turning into a silent slowdown."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from haloscope.platform.ingest import otlp, otlp_mapping, sdk_wire
from haloscope.platform.ingest.errors import FastPathDeclined, PayloadError
from haloscope.platform.ingest.otlp import JSON, parse_json_document, protobuf_body
from haloscope.platform.ingest.otlp_mapping import convert_otlp_request
from haloscope.platform.ingest.sdk_batch import parse_sdk_batch, parse_sdk_batch_reference
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.api.otel_spans import recorded_spans
from tests.api.spans import rag_trace
from tests.api.test_otlp_json import json_document

LIMITS: dict[str, Any] = {"max_spans": 100, "max_field_bytes": 10_000}
SDK_BODY = orjson.dumps({"spans": rag_trace()})
OTLP_REQUEST = encode_spans(recorded_spans())
OTLP_BODY = OTLP_REQUEST.SerializeToString()
OTLP_JSON_BODY = orjson.dumps(json_document(OTLP_REQUEST))


def raising(exception: BaseException) -> Callable[..., Any]:
    def fast_path(*args: Any) -> Any:
        raise exception

    return fast_path


def sdk_rows() -> list[Any]:
    return parse_sdk_batch(SDK_BODY, "p1", **LIMITS).rows


def otlp_rows() -> list[Any]:
    return convert_otlp_request(OTLP_BODY, "p1", **LIMITS).rows


def otlp_json_message() -> Any:
    return type(OTLP_REQUEST).FromString(protobuf_body(OTLP_JSON_BODY, JSON))


def patch_sdk_batch(monkeypatch: pytest.MonkeyPatch, fast_path: Callable[..., Any]) -> None:
    monkeypatch.setattr(sdk_wire, "decode_batch", fast_path)


def patch_sdk_span(monkeypatch: pytest.MonkeyPatch, fast_path: Callable[..., Any]) -> None:
    monkeypatch.setattr(sdk_wire, "wire_span_row", fast_path)


def patch_compiled_decoder(monkeypatch: pytest.MonkeyPatch, fast_path: Callable[..., Any]) -> None:
    monkeypatch.setattr(otlp_mapping, "_otlp_wire", SimpleNamespace(decode=fast_path))


def patch_json_encoder(monkeypatch: pytest.MonkeyPatch, fast_path: Callable[..., Any]) -> None:
    monkeypatch.setattr(otlp, "encode_request", fast_path)


REFERENCE: dict[str, Callable[[], Any]] = {
    "sdk": lambda: parse_sdk_batch_reference(SDK_BODY, "p1", **LIMITS).rows,
    "otlp": lambda: convert_otlp_request(OTLP_BODY, "p1", **LIMITS, compiled=False).rows,
    "otlp-json": lambda: parse_json_document(orjson.loads(OTLP_JSON_BODY)),
}
FAST_PATHS = [
    ("sdk", patch_sdk_batch, sdk_rows),
    ("sdk", patch_sdk_span, sdk_rows),
    ("otlp", patch_compiled_decoder, otlp_rows),
    ("otlp-json", patch_json_encoder, otlp_json_message),
]
IDS = ["sdk-batch-decoder", "sdk-span-row", "otlp-compiled-decoder", "otlp-json-encoder"]


@pytest.mark.parametrize(("kind", "patch", "outcome"), FAST_PATHS, ids=IDS)
def test_a_decline_gives_the_reference_outcome(
    kind: str,
    patch: Callable[..., None],
    outcome: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unpatched = outcome()
    patch(monkeypatch, raising(FastPathDeclined("not for me")))
    assert outcome() == unpatched == REFERENCE[kind]()


@pytest.mark.parametrize(("kind", "patch", "outcome"), FAST_PATHS, ids=IDS)
@pytest.mark.parametrize("bug", [AttributeError("no such field"), RuntimeError("broken")])
def test_a_bug_in_a_fast_path_propagates(
    kind: str,
    patch: Callable[..., None],
    outcome: Callable[[], Any],
    bug: Exception,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patch(monkeypatch, raising(bug))
    with pytest.raises(type(bug), match=str(bug)):
        outcome()


def test_a_body_nested_too_deep_for_the_fast_path_gets_the_reference_paths_400() -> None:
    deep = b'{"spans": [{"metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}]}"
    with pytest.raises(PayloadError) as refused:
        parse_sdk_batch(deep, "p1", **LIMITS)
    assert refused.value.status_code == 400, refused.value.reason
