"""Ingest through worker processes: the same answers as inline conversion, rejections and
whole-request errors carried back across the process boundary, and a killed worker replaced."""

from __future__ import annotations

import gzip
import os
import signal
from collections.abc import Iterator

import httpx
import orjson
import pytest
from haloscope.platform.config import Settings
from haloscope.platform.store import TraceStore
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from sqlalchemy.orm import Session, sessionmaker

from tests.api.otel_spans import recorded_spans
from tests.api.spans import rag_trace
from tests.api.store_queries import wait_for_span_count
from tests.support.api_fixtures import LiveApi, running_api


@pytest.fixture(scope="module")
def pooled_api(
    chdb_settings: Settings,
    chdb_store: TraceStore,
    api_metadata: tuple[str, sessionmaker[Session]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveApi]:
    """The real API converting ingest requests in two worker processes."""
    settings = chdb_settings.replace(data_dir=tmp_path_factory.mktemp("pooled-api"))
    with running_api(settings, chdb_store, api_metadata, ingest_workers=2) as api:
        yield api


def test_workers_store_sdk_and_otlp_batches_and_report_rejections(pooled_api: LiveApi) -> None:
    keys = pooled_api.new_project()
    converter = pooled_api.app.state.haloscope.converter
    assert len(converter.worker_pids()) == 2
    bad = {**rag_trace()[0], "span_id": "not-hex"}
    otlp = encode_spans(recorded_spans()).SerializeToString()
    with httpx.Client(base_url=pooled_api.base_url, auth=keys.basic_auth, timeout=30) as http:
        mixed = http.post(
            "/api/v1/ingest",
            content=gzip.compress(orjson.dumps({"spans": [*rag_trace(), bad]})),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        assert mixed.status_code == 207, mixed.text
        assert mixed.json()["accepted"] == 3
        (rejection,) = mixed.json()["rejected"]
        assert rejection["index"] == 3 and "span_id" in rejection["reason"]
        traces = http.post(
            "/v1/traces", content=otlp, headers={"Content-Type": "application/x-protobuf"}
        )
        assert traces.status_code == 200, traces.text
    expected = 3 + len(recorded_spans())
    assert wait_for_span_count(pooled_api.store, keys.project_id, expected) == expected


def test_whole_request_errors_cross_the_process_boundary(pooled_api: LiveApi) -> None:
    keys = pooled_api.new_project()
    with httpx.Client(base_url=pooled_api.base_url, auth=keys.basic_auth, timeout=30) as http:
        malformed = http.post(
            "/api/v1/ingest", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]
        bomb = http.post(
            "/api/v1/ingest",
            content=gzip.compress(
                b" " * (pooled_api.app.state.haloscope.settings.max_request_bytes + 1)
            ),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        assert bomb.status_code == 413, bomb.text


def test_a_killed_worker_is_replaced_and_the_request_still_stored(pooled_api: LiveApi) -> None:
    keys = pooled_api.new_project()
    converter = pooled_api.app.state.haloscope.converter
    for pid in converter.worker_pids():
        os.kill(pid, signal.SIGKILL)
    with httpx.Client(base_url=pooled_api.base_url, auth=keys.basic_auth, timeout=60) as http:
        answer = http.post("/api/v1/ingest", json={"spans": rag_trace()})
    assert answer.status_code == 200, answer.text
    assert wait_for_span_count(pooled_api.store, keys.project_id, 3) == 3
    assert len(converter.worker_pids()) == 2
