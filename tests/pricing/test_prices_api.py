"""Server-side prices through the live API: spans without a cost get one at ingest (SDK and
OTLP), project prices reprice stored spans and the overview rollups, isolation, bad input."""

from __future__ import annotations

import gzip
import time
from typing import Any

import httpx
import orjson
import pytest
from haloscope.platform.pricing.span_costs import COST_SOURCE_KEY
from haloscope.platform.store.overview_rollup import overview

from tests.api.spans import new_span_id, new_trace_id
from tests.support.api_fixtures import LiveApi, ProjectKeys

DAY_US = 86_400_000_000


@pytest.fixture
def keys(live_api: LiveApi) -> ProjectKeys:
    return live_api.new_project()


@pytest.fixture
def client(live_api: LiveApi, keys: ProjectKeys) -> httpx.Client:
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as http:
        yield http


def _llm_span(model: str, start_us: int, prompt: int, completion: int, **extra: Any) -> dict:
    return {
        "trace_id": new_trace_id(),
        "span_id": new_span_id(),
        "name": f"chat {model}",
        "kind": "llm",
        "start_time": start_us,
        "end_time": start_us + 500_000,
        "model": model,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
        **extra,
    }


def _ingest(live_api: LiveApi, client: httpx.Client, spans: list[dict]) -> None:
    body = gzip.compress(orjson.dumps({"sdk": {"name": "tests"}, "spans": spans}))
    response = client.post(
        "/api/v1/ingest",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    live_api.flush()


def _stored(live_api: LiveApi, keys: ProjectKeys, span: dict) -> dict:
    spans = live_api.store.get_trace(keys.project_id, span["trace_id"])
    assert spans, "trace not stored"
    return next(s for s in spans if s["span_id"] == span["span_id"])


def test_sdk_spans_without_a_cost_are_priced_and_own_costs_kept(
    live_api: LiveApi, keys: ProjectKeys, client: httpx.Client
) -> None:
    now = int(time.time() * 1e6)
    unpriced = _llm_span("gpt-4o-mini-2024-07-18", now, 2000, 1000)
    own = _llm_span("gpt-4o-mini", now, 2000, 1000, cost=0.25)
    unknown = _llm_span("acme-llm", now, 2000, 1000)
    _ingest(live_api, client, [unpriced, own, unknown])
    priced = _stored(live_api, keys, unpriced)
    assert priced["cost"] == pytest.approx((2000 * 0.15 + 1000 * 0.60) / 1e6)
    assert priced["metadata"][COST_SOURCE_KEY] == "price_table"
    assert _stored(live_api, keys, own)["cost"] == 0.25
    assert _stored(live_api, keys, unknown)["cost"] == 0


def test_otlp_openinference_span_gets_a_cost(
    live_api: LiveApi, keys: ProjectKeys, client: httpx.Client
) -> None:
    trace_id, span_id, now_ns = new_trace_id(), new_span_id(), time.time_ns()

    def attr(key: str, value: Any) -> dict:
        kind = "intValue" if isinstance(value, int) else "stringValue"
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}

    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", "rag")]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "ChatCompletion",
                                "kind": 1,
                                "startTimeUnixNano": str(now_ns),
                                "endTimeUnixNano": str(now_ns + 10**8),
                                "attributes": [
                                    attr("openinference.span.kind", "LLM"),
                                    attr("llm.model_name", "gpt-4o-mini"),
                                    attr("llm.token_count.prompt", 1000),
                                    attr("llm.token_count.completion", 100),
                                    attr("llm.token_count.prompt_details.cache_read", 600),
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = client.post(
        "/v1/traces", content=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    live_api.flush()
    span = _stored(live_api, keys, {"trace_id": trace_id, "span_id": span_id})
    expected = (400 * 0.15 + 600 * 0.075 + 100 * 0.60) / 1e6
    assert span["cost"] == pytest.approx(expected)


def test_project_price_reprices_stored_spans_and_the_rollup(
    live_api: LiveApi, keys: ProjectKeys, client: httpx.Client
) -> None:
    # Spans of a model the shipped table does not know, three days ago (closed, rolled-up hours).
    start = (int(time.time() * 1e6) // DAY_US - 3) * DAY_US + 3_600_000_000
    spans = [_llm_span("acme-llm-v2", start + i * 1_000_000, 1_000_000, 100_000) for i in range(3)]
    spans.append(_llm_span("acme-llm-v2", start, 1000, 1000, cost=7.0))  # the client's own cost
    _ingest(live_api, client, spans)
    window = (start - 3_600_000_000, start + 7_200_000_000)
    now = int(time.time() * 1e6)
    driver = live_api.store.driver
    assert overview(driver, keys.project_id, *window, now).totals[0]["cost"] == pytest.approx(7.0)

    created = client.post(
        "/api/v1/model-prices",
        json={
            "model_pattern": "acme-llm(-v\\d+)?",
            "input_per_million": 1.0,
            "output_per_million": 10.0,
            "effective_from": "2020-01-01",
            "note": "our contract",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["repriced"] == 3
    assert _stored(live_api, keys, spans[0])["cost"] == pytest.approx(2.0)
    assert _stored(live_api, keys, spans[3])["cost"] == 7.0
    totals = overview(driver, keys.project_id, *window, int(time.time() * 1e6)).totals[0]
    assert totals["cost"] == pytest.approx(7.0 + 3 * 2.0)

    # New spans of that model are priced at ingest from the project's price.
    fresh = _llm_span("acme-llm", int(time.time() * 1e6), 500_000, 0)
    _ingest(live_api, client, [fresh])
    assert _stored(live_api, keys, fresh)["cost"] == pytest.approx(0.5)

    listed = client.get("/api/v1/model-prices", params={"model": "acme-llm-v2"}).json()
    assert [(p["model_pattern"], p["note"]) for p in listed["project"]] == [
        ("acme-llm(-v\\d+)?", "our contract")
    ]
    assert listed["price"]["output_per_million"] == 10.0 and listed["shipped"]

    deleted = client.delete(f"/api/v1/model-prices/{created.json()['id']}")
    assert deleted.status_code == 200 and deleted.json()["repriced"] == 4
    assert _stored(live_api, keys, spans[0])["cost"] == 0
    totals = overview(driver, keys.project_id, *window, int(time.time() * 1e6)).totals[0]
    assert totals["cost"] == pytest.approx(7.0)


def test_prices_are_isolated_between_projects(
    live_api: LiveApi, keys: ProjectKeys, client: httpx.Client
) -> None:
    other = live_api.new_project()
    now = int(time.time() * 1e6)
    with httpx.Client(base_url=live_api.base_url, auth=other.basic_auth, timeout=60) as theirs:
        created = theirs.post(
            "/api/v1/model-prices",
            json={
                "model_pattern": "gpt-4o-mini",
                "input_per_million": 100.0,
                "output_per_million": 100.0,
                "effective_from": "2020-01-01",
            },
        )
        assert created.status_code == 201
        assert client.delete(f"/api/v1/model-prices/{created.json()['id']}").status_code == 404
    assert client.get("/api/v1/model-prices").json()["project"] == []
    mine = _llm_span("gpt-4o-mini", now, 1_000_000, 0)
    _ingest(live_api, client, [mine])
    assert _stored(live_api, keys, mine)["cost"] == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (
            {"model_pattern": "gpt-(", "input_per_million": 1, "output_per_million": 1},
            400,
            "not a valid regular expression",
        ),
        (
            {"model_pattern": "x", "input_per_million": -1, "output_per_million": 1},
            400,
            "input_per_million must be between",
        ),
        (
            {
                "model_pattern": "x",
                "input_per_million": 1,
                "output_per_million": 1,
                "effective_from": "yesterday",
            },
            400,
            "is not a date",
        ),
        (
            {
                "model_pattern": "x",
                "input_per_million": 1,
                "output_per_million": 1,
                "currency": "EUR",
            },
            400,
            "currency",
        ),
    ],
)
def test_bad_prices_are_refused_with_the_reason(
    client: httpx.Client, body: dict, status: int, reason: str
) -> None:
    response = client.post("/api/v1/model-prices", json=body)
    assert response.status_code == status
    assert reason in response.text


def test_a_duplicate_price_is_a_conflict(client: httpx.Client) -> None:
    body = {
        "model_pattern": "x",
        "input_per_million": 1,
        "output_per_million": 1,
        "effective_from": "2026-01-01",
    }
    assert client.post("/api/v1/model-prices", json=body).status_code == 201
    again = client.post("/api/v1/model-prices", json=body)
    assert again.status_code == 409 and "exists" in again.text
