"""Per-API-key rate limiting: the token bucket, the 429 answer, and the SDK backing off."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from haloscope import sdk
from haloscope.platform.api.rate_limit import RateLimiter, retry_after_header
from haloscope.platform.config import Settings
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

from tests.api.spans import rag_trace
from tests.api.store_queries import stored_span_count, wait_for_span_count
from tests.support.api_fixtures import LiveApi, running_api


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_the_burst_then_refills_at_the_rate() -> None:
    clock = ManualClock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.acquire("b") == 0.0, "another key has its own bucket"
    clock.now += 0.25
    assert limiter.acquire("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.acquire("a") == 0.0
    clock.now += 100
    assert [limiter.acquire("a") for _ in range(4)][-1] > 0, "refill is capped at the burst"


def test_zero_rate_disables_the_limit() -> None:
    limiter = RateLimiter(0.0, 1)
    assert not limiter.enabled
    assert all(limiter.acquire("a") == 0.0 for _ in range(1000))


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after_header(0.01) == {"Retry-After": "1"}
    assert retry_after_header(1.2) == {"Retry-After": "2"}


@pytest.fixture(scope="module")
def limited_api(
    chdb_settings: Settings,
    chdb_store: TraceStore,
    api_metadata: tuple[str, sessionmaker[Session]],
) -> Iterator[LiveApi]:
    """The real API with a tight limit: 5 requests/s, bursts of 3."""
    with running_api(
        chdb_settings,
        chdb_store,
        api_metadata,
        write_flush_interval_s=0.02,
        rate_limit_per_s=5.0,
        rate_limit_burst=3,
    ) as api:
        yield api


def test_a_key_over_its_limit_gets_429_and_another_key_does_not(limited_api: LiveApi) -> None:
    noisy, quiet = limited_api.new_project(), limited_api.new_project()
    with httpx.Client(base_url=limited_api.base_url, timeout=30) as http:
        statuses = [http.get("/api/v1/traces", auth=noisy.basic_auth).status_code for _ in range(8)]
        assert statuses[:3] == [200, 200, 200]
        assert 429 in statuses[3:]
        refused = http.post("/api/v1/ingest", json={"spans": rag_trace()}, auth=noisy.basic_auth)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "rate limit exceeded" in refused.json()["error"]
        assert http.get("/api/v1/traces", auth=quiet.basic_auth).status_code == 200
        accepted = http.post("/api/v1/ingest", json={"spans": rag_trace()}, auth=quiet.basic_auth)
        assert accepted.status_code == 200 and accepted.json()["accepted"] == 3
    assert wait_for_span_count(limited_api.store, quiet.project_id, 3) == 3
    assert stored_span_count(limited_api.store, noisy.project_id) == 0


def test_sdk_backs_off_through_a_tight_limit_and_delivers_every_span(
    limited_api: LiveApi,
) -> None:
    keys = limited_api.new_project()
    client = sdk.init(
        host=limited_api.base_url,
        public_key=keys.public_key,
        secret_key=keys.secret_key,
        flush_at=5,
        flush_interval=0.01,
        max_retries=20,
    )

    @sdk.observe
    def step(i: int) -> int:
        return i

    try:
        for i in range(60):
            step(i)
        assert client.flush(60)
        assert client.stats.retries > 0, "the limit never answered 429"
        assert (client.stats.sent, client.stats.failed) == (60, 0)
    finally:
        sdk.shutdown()
    assert wait_for_span_count(limited_api.store, keys.project_id, 60) == 60
