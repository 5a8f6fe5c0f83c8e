"""Fault tests with real processes: the SDK sends spans while the ingest API restarts, while
its key is rate limited, while the trace store is down, and from a process that exits without
flushing; every time exactly the spans sent end up stored."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from haloscope import sdk
from haloscope.platform.config import Settings
from haloscope.platform.store import TraceStore, open_store

from tests.api.spans import rag_trace
from tests.faults.processes import (
    ApiServer,
    RestartableProcess,
    distinct_span_ids,
    wait_for_distinct_span_ids,
)
from tests.faults.processes import clickhouse_endpoint as endpoint_process
from tests.sdk.exiting_app import run_app_that_exits_unflushed
from tests.support.api_fixtures import ProjectKeys

DELIVERY_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RestartableProcess, str]]:
    """A migrated ClickHouse HTTP endpoint (chDB in its own process) that a test may stop and
    restart."""
    process, url = endpoint_process(tmp_path_factory.mktemp("faults-clickhouse"))
    process.start()
    store = open_store(Settings(store="clickhouse", clickhouse_url=url))
    store.migrate()
    store.close()
    yield process, url
    process.stop()


@pytest.fixture
def make_server(
    tmp_path: Path, endpoint: tuple[RestartableProcess, str]
) -> Iterator[Callable[..., tuple[ApiServer, ProjectKeys, TraceStore]]]:
    """``make_server(**settings)``: a started ``haloscope serve``, its key pair, a store client."""
    started: list[tuple[ApiServer, TraceStore]] = []

    def make(max_file_bytes: int = 0, **settings: str) -> tuple[ApiServer, ProjectKeys, TraceStore]:
        server = ApiServer(
            tmp_path / f"api-{len(started)}",
            endpoint[1],
            max_file_bytes=max_file_bytes,
            **settings,
        )
        keys = server.prepare()
        server.start()
        store = server.open_store()
        started.append((server, store))
        return server, keys, store

    yield make
    sdk.shutdown()
    for server, store in started:
        server.stop()
        store.close()


def init_sdk(server: ApiServer, keys: ProjectKeys, **options: float) -> sdk.Client:
    """The SDK exporting to ``server`` with small batches and a patient retry budget."""
    options = {"flush_at": 10, "flush_interval": 0.05, "max_retries": 20, **options}
    return sdk.init(server.base_url, keys.public_key, keys.secret_key, **options)


@sdk.observe
def step(i: int) -> int:
    """One traced call: one span."""
    return i


def send_in_background(count: int, pace_s: float) -> threading.Thread:
    """Record ``count`` spans from a thread, one every ``pace_s`` seconds."""

    def send() -> None:
        for i in range(count):
            step(i)
            time.sleep(pace_s)

    thread = threading.Thread(target=send, name="span-sender")
    thread.start()
    return thread


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def assert_sdk_delivered(client: sdk.Client, n: int) -> None:
    """The SDK flushes and reports all ``n`` spans sent: none failed, dropped or rejected."""
    assert client.flush(DELIVERY_TIMEOUT_S), "the SDK did not deliver in time"
    stats = client.stats
    assert (stats.sent, stats.failed, stats.dropped, stats.rejected) == (n, 0, 0, 0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_api_restart_while_the_sdk_sends_loses_nothing(make_server, sig: signal.Signals) -> None:
    server, keys, store = make_server()
    client = init_sdk(server, keys)
    n = 300
    sender = send_in_background(n, pace_s=0.01)
    wait_until(lambda: distinct_span_ids(store, keys.project_id) >= 50)
    server.stop(sig)
    server.start()
    sender.join()
    assert client.stats.retries > 0, "the restart did not interrupt delivery"
    assert_sdk_delivered(client, n)
    assert wait_for_distinct_span_ids(store, keys.project_id, n) == n


def test_rate_limited_sdk_backs_off_and_everything_arrives(make_server) -> None:
    server, keys, store = make_server(rate_limit_per_s="2", rate_limit_burst="2")
    client = init_sdk(server, keys)
    for i in range(50):
        step(i)
    assert_sdk_delivered(client, 50)
    assert client.stats.retries > 0, "the rate limit never answered 429"
    assert wait_for_distinct_span_ids(store, keys.project_id, 50) == 50


def test_sdk_process_exit_flushes_unsent_spans(make_server, tmp_path: Path) -> None:
    server, keys, store = make_server()
    run_app_that_exits_unflushed(tmp_path, server.base_url, keys.public_key, keys.secret_key, 200)
    assert wait_for_distinct_span_ids(store, keys.project_id, 200) == 200


def test_store_outage_answers_503_and_loses_nothing(make_server, endpoint) -> None:
    clickhouse, _ = endpoint
    server, keys, store = make_server()
    client = init_sdk(server, keys)
    for i in range(100):
        step(i)
    assert client.flush(DELIVERY_TIMEOUT_S)
    probe = {"spans": rag_trace()}
    clickhouse.stop(signal.SIGKILL)
    try:
        sender = send_in_background(100, pace_s=0.005)
        with httpx.Client(base_url=server.base_url, auth=keys.basic_auth, timeout=30) as http:
            # Requests are spooled until the writer's next insert finds the store down; from
            # then on they are refused (the spooled ones are retried, not lost).
            answers: list[httpx.Response] = []

            def refused_now() -> bool:
                answers.append(http.post("/api/v1/ingest", json=probe))
                return answers[-1].status_code == 503

            wait_until(refused_now)
            refused = answers[-1]
            assert {a.status_code for a in answers} <= {200, 503}
            assert int(refused.headers["Retry-After"]) >= 1
            assert "trace store" in refused.json()["error"]
            assert http.get("/api/health").status_code == 503
            wait_until(lambda: client.stats.retries > 0)
            sender.join()
    finally:
        clickhouse.start()
    with httpx.Client(base_url=server.base_url, auth=keys.basic_auth, timeout=30) as http:
        # The probe's client retries like the SDK does until the store takes it again.
        wait_until(lambda: http.post("/api/v1/ingest", json=probe).status_code == 200)
    assert_sdk_delivered(client, 200)
    expected = 200 + len(probe["spans"])
    assert wait_for_distinct_span_ids(store, keys.project_id, expected) == expected


def test_a_spool_that_cannot_grow_answers_503_and_keeps_nothing_of_the_request(
    make_server,
) -> None:
    # The API process may grow no file beyond 1 MiB: a 3 MB request cannot be spooled, as on
    # a full disk. The ClickHouse endpoint is another process, unaffected.
    server, keys, store = make_server(max_file_bytes=1024 * 1024)
    big = [
        {**span, "span_id": f"{i:016x}", "output": "x" * 1000}
        for i, span in enumerate(rag_trace() * 1000, start=1)
    ]
    probe = rag_trace()
    with httpx.Client(base_url=server.base_url, auth=keys.basic_auth, timeout=60) as http:
        refused = http.post("/api/v1/ingest", json={"spans": big})
        assert refused.status_code == 503, refused.text
        assert "ingest spool cannot be written" in refused.json()["error"]
        assert int(refused.headers["Retry-After"]) >= 1
        # The segment was cut back to its last whole record: later requests are spooled.
        accepted = http.post("/api/v1/ingest", json={"spans": probe})
        assert accepted.status_code == 200, accepted.text
    assert wait_for_distinct_span_ids(store, keys.project_id, len(probe)) == len(probe)
    server.stop()  # SIGTERM: the writer drains; nothing of the refused request appears
    assert distinct_span_ids(store, keys.project_id) == len(probe)


def test_spans_acknowledged_before_a_sigkill_are_stored_by_the_restarted_api(
    make_server, endpoint
) -> None:
    clickhouse, _ = endpoint
    server, keys, store = make_server()
    spans = rag_trace()
    clickhouse.stop(signal.SIGKILL)
    try:
        with httpx.Client(base_url=server.base_url, auth=keys.basic_auth, timeout=30) as http:
            answer = http.post("/api/v1/ingest", json={"spans": spans})
        # Acknowledged once spooled: with the store down it cannot have been inserted.
        assert answer.status_code == 200, answer.text
        server.stop(signal.SIGKILL)
    finally:
        clickhouse.start()
    assert distinct_span_ids(store, keys.project_id) == 0
    server.start()  # no client re-sends anything: the new process writes what was spooled
    assert wait_for_distinct_span_ids(store, keys.project_id, len(spans)) == len(spans)


def test_ingest_workers_exit_when_the_api_is_killed(make_server) -> None:
    server, _, _ = make_server(ingest_workers="2")
    api = psutil.Process(server.process.pid)
    workers = [child for child in api.children() if "multiprocessing" in " ".join(child.cmdline())]
    assert len([w for w in workers if "spawn_main" in " ".join(w.cmdline())]) == 2
    server.stop(signal.SIGKILL)
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == [], f"ingest workers outlived the API: {alive}"
