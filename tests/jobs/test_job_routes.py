"""The job routes over the live API: sampling rules and runs, drift reports, alert rules and
history, each scoped to the key's project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from haloscope.platform.db.models import AlertEvent, AlertRule
from haloscope.platform.jobs.drift_job import DriftWindows, run_drift_job

from tests.support.api_fixtures import LiveApi, ProjectKeys

RULE = {"name": "prod-llm", "sample_rate": 0.5, "filters": {"kinds": ["llm"], "tags": ["prod"]}}


@pytest.fixture
def keys(live_api: LiveApi) -> ProjectKeys:
    """A fresh project of the live API."""
    return live_api.new_project()


def _client(live_api: LiveApi, keys: ProjectKeys) -> httpx.Client:
    return httpx.Client(base_url=f"{live_api.base_url}/api/v1", auth=keys.basic_auth, timeout=30)


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_sampling_rule_crud_is_project_scoped(live_api: LiveApi, keys: ProjectKeys) -> None:
    with _client(live_api, keys) as api, _client(live_api, live_api.new_project()) as other:
        created = api.post("/sampling-rules", json=RULE)
        assert created.status_code == 201, created.text
        rule = created.json()
        assert rule["filters"]["kinds"] == ["llm"] and rule["filters"]["tags"] == ["prod"]
        assert [e["name"] for e in rule["evaluators"]] == ["hallucination.rag"]
        assert "already exists" in _error(api.post("/sampling-rules", json=RULE), 409)

        assert [r["id"] for r in api.get("/sampling-rules").json()["data"]] == [rule["id"]]
        assert api.get(f"/sampling-rules/{rule['name']}").json()["id"] == rule["id"]
        assert other.get("/sampling-rules").json()["data"] == []
        _error(other.get(f"/sampling-rules/{rule['id']}"), 404)
        _error(other.patch(f"/sampling-rules/{rule['id']}", json={"enabled": False}), 404)
        _error(other.delete(f"/sampling-rules/{rule['id']}"), 404)

        switched = api.patch(
            f"/sampling-rules/{rule['id']}",
            json={"sample_rate": None, "per_day": 200, "max_items_per_run": 50},
        )
        assert switched.status_code == 200, switched.text
        assert switched.json()["per_day"] == 200 and switched.json()["sample_rate"] is None
        assert api.get(f"/sampling-rules/{rule['id']}").json()["max_items_per_run"] == 50

        assert api.delete(f"/sampling-rules/{rule['id']}").status_code == 204
        _error(api.get(f"/sampling-rules/{rule['id']}"), 404)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": "r", "sample_rate": 2.0}, "sample_rate must be in (0, 1]"),
        ({"name": "r"}, "exactly one of sample_rate and per_day"),
        ({"name": "r", "per_day": 5, "filters": {"kind": ["llm"]}}, "unknown filter"),
        ({"name": "r", "per_day": 5, "filters": {"kinds": ["nope"]}}, "unknown kind"),
        ({"name": "r", "per_day": 5, "evaluators": [{"name": "no.such"}]}, "evaluators[0]"),
        ({"name": "r", "per_day": 5, "colour": "red"}, "colour"),
        ({"name": "", "per_day": 5}, "name"),
    ],
)
def test_bad_sampling_rules_are_refused_with_reasons(
    live_api: LiveApi, keys: ProjectKeys, body: dict[str, Any], reason: str
) -> None:
    with _client(live_api, keys) as api:
        assert reason in _error(api.post("/sampling-rules", json=body), 400)
        assert api.get("/sampling-rules").json()["data"] == []


def test_bad_rule_update_keeps_the_rule(live_api: LiveApi, keys: ProjectKeys) -> None:
    with _client(live_api, keys) as api:
        rule = api.post("/sampling-rules", json=RULE).json()
        reason = _error(api.patch(f"/sampling-rules/{rule['id']}", json={"per_day": 10}), 400)
        assert "exactly one" in reason
        assert "cannot be null" in _error(
            api.patch(f"/sampling-rules/{rule['id']}", json={"window_hours": None}), 400
        )
        assert api.get(f"/sampling-rules/{rule['id']}").json()["sample_rate"] == 0.5


def test_triggered_run_reports_status_progress_and_counts(
    live_api: LiveApi, keys: ProjectKeys
) -> None:
    with _client(live_api, keys) as api, _client(live_api, live_api.new_project()) as other:
        rule = api.post("/sampling-rules", json=RULE).json()
        started = api.post(f"/sampling-rules/{rule['name']}/runs")
        assert started.status_code == 202, started.text
        run = started.json()
        assert run["rule_id"] == rule["id"] and run["trigger"] == "api"
        assert run["status"] == "running" and run["batches_done"] == 0
        fetched = api.get(f"/sampling-runs/{run['id']}").json()
        assert {k: fetched[k] for k in ("selected", "scored", "failed", "progress")} == {
            "selected": 0,
            "scored": 0,
            "failed": 0,
            "progress": 1.0,
        }
        assert [r["id"] for r in api.get(f"/sampling-rules/{rule['id']}/runs").json()["data"]] == [
            run["id"]
        ]
        _error(other.get(f"/sampling-runs/{run['id']}"), 404)
        _error(other.post(f"/sampling-rules/{rule['id']}/runs"), 404)
        assert "limit" in _error(api.get(f"/sampling-rules/{rule['id']}/runs?limit=0"), 400)


def test_drift_reports_are_listed_and_scoped(live_api: LiveApi, keys: ProjectKeys) -> None:
    windows = DriftWindows.previous(datetime.now(UTC), hours=1)
    with live_api.sessionmaker() as session:
        record = run_drift_job(session, live_api.store, keys.project_id, windows)
        session.commit()
        report_id = record.id
    with _client(live_api, keys) as api, _client(live_api, live_api.new_project()) as other:
        listed = api.get("/drift-reports").json()["data"]
        assert [r["id"] for r in listed] == [report_id]
        report = api.get(f"/drift-reports/{report_id}").json()
        assert report["features"]["latency_ms"]["status"] == "insufficient_data"
        assert report["drifted"] == []
        assert other.get("/drift-reports").json()["data"] == []
        _error(other.get(f"/drift-reports/{report_id}"), 404)


def test_drift_baseline_is_pinned_shown_and_cleared_per_project(
    live_api: LiveApi, keys: ProjectKeys
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=8)
    window = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    with _client(live_api, keys) as api, _client(live_api, live_api.new_project()) as other:
        assert api.get("/drift-baseline").json() == {"baseline": None}
        pinned = api.put("/drift-baseline", json={**window, "note": "launch"})
        assert pinned.status_code == 200, pinned.text
        shown = api.get("/drift-baseline").json()["baseline"]
        assert (shown["start"], shown["end"], shown["note"]) == (
            window["start"],
            window["end"],
            "launch",
        )
        assert other.get("/drift-baseline").json() == {"baseline": None}
        _error(other.delete("/drift-baseline"), 404)

        queued = api.post("/drift-reports", json={"window_hours": 6})
        assert queued.status_code == 202, queued.text
        assert queued.json()["baseline"] == {"start": window["start"], "end": window["end"]}

        assert api.delete("/drift-baseline").status_code == 204
        assert api.get("/drift-baseline").json() == {"baseline": None}
        assert "no drift baseline" in _error(api.delete("/drift-baseline"), 404)
        previous = api.post("/drift-reports")
        assert previous.status_code == 202, previous.text
        windows = previous.json()
        assert windows["baseline"]["end"] == windows["current"]["start"]
        assert "end" in _error(api.post("/drift-reports", json={"end": "2025-01-01T00:00"}), 400)
        assert "window_hours" in _error(api.post("/drift-reports", json={"window_hours": 0}), 400)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "start before"),
        ({"start": "2025-01-01T00:00:00", "end": "2025-01-02T00:00:00"}, "time zone"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}, "in the past"),
        ({"start": "2024-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "at most 90 days"),
        ({"start": "yesterday", "end": "2025-01-01T00:00:00Z"}, "start"),
        ({"start": "2025-01-01T00:00:00Z"}, "end"),
    ],
)
def test_bad_drift_baselines_are_refused_with_reasons(
    live_api: LiveApi, keys: ProjectKeys, body: dict[str, Any], reason: str
) -> None:
    with _client(live_api, keys) as api:
        assert reason in _error(api.put("/drift-baseline", json=body), 400)
        assert api.get("/drift-baseline").json() == {"baseline": None}


def test_default_alert_rules_are_added_once(live_api: LiveApi, keys: ProjectKeys) -> None:
    with _client(live_api, keys) as api:
        added = api.post("/alert-rules/defaults", json={"factual": False})
        assert added.status_code == 201, added.text
        assert [r["metric"] for r in added.json()["data"]] == [
            "cost_per_request",
            "p95_latency_ms",
            "error_rate",
        ]
        rest = api.post("/alert-rules/defaults").json()["data"]
        assert [(r["name"], r["threshold"], r["relative"]) for r in rest] == [
            ("hallucination-rate", 0.05, False)
        ]
        assert api.post("/alert-rules/defaults").json()["data"] == []
        rules = {r["name"]: r for r in api.get("/alert-rules").json()["data"]}
        assert {
            n: (r["threshold"], r["relative"], r["baseline_days"]) for n, r in rules.items()
        } == {
            "cost-per-request": (1.2, True, 7),
            "error-rate": (0.01, False, 7),
            "hallucination-rate": (0.05, False, 7),
            "p95-latency": (2.0, True, 7),
        }
        bad = {"channels": [{"type": "webhook", "url": "nope"}]}
        assert "channels[0].url" in _error(api.post("/alert-rules/defaults", json=bad), 400)


def test_alert_rules_crud_defaults_and_history(live_api: LiveApi, keys: ProjectKeys) -> None:
    hook = {"type": "webhook", "url": "http://127.0.0.1:9/hook"}
    with _client(live_api, keys) as api, _client(live_api, live_api.new_project()) as other:
        created = api.post("/alert-rules", json={"name": "latency", "metric": "p95_latency_ms"})
        assert created.status_code == 201, created.text
        rule = created.json()
        assert (rule["threshold"], rule["relative"]) == (2.0, True)
        halluc = api.post(
            "/alert-rules",
            json={"name": "halluc", "metric": "hallucination_rate", "channels": [hook]},
        ).json()
        assert (halluc["threshold"], halluc["relative"], halluc["channels"]) == (
            0.05,
            False,
            [hook],
        )
        assert "already exists" in _error(
            api.post("/alert-rules", json={"name": "latency", "metric": "error_rate"}), 409
        )
        assert [r["name"] for r in api.get("/alert-rules").json()["data"]] == ["halluc", "latency"]
        _error(other.get(f"/alert-rules/{rule['id']}"), 404)

        changed = api.patch(f"/alert-rules/{rule['id']}", json={"threshold": 3.0})
        assert changed.json()["threshold"] == 3.0

        with live_api.sessionmaker() as session:
            stored = session.get(AlertRule, halluc["id"])
            assert stored is not None
            session.add(
                AlertEvent(
                    rule_id=stored.id,
                    project_id=keys.project_id,
                    metric=stored.metric,
                    value=0.2,
                    baseline=None,
                    limit_value=0.05,
                    message="hallucination_rate 0.2 > 0.05",
                    deliveries=[],
                )
            )
            session.commit()
        events = api.get("/alert-events", params={"rule": "halluc"}).json()["data"]
        assert [(e["rule_id"], e["value"], e["limit"]) for e in events] == [
            (halluc["id"], 0.2, 0.05)
        ]
        assert api.get("/alert-events", params={"rule": "latency"}).json()["data"] == []
        assert other.get("/alert-events").json()["data"] == []
        assert api.delete(f"/alert-rules/{halluc['id']}").status_code == 204
        assert api.get("/alert-events").json()["data"] == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": "a", "metric": "vibes"}, "unknown metric"),
        ({"name": "a", "metric": "error_rate", "threshold": -1}, "threshold"),
        ({"name": "a", "metric": "error_rate", "relative": True}, "absolute threshold"),
        ({"name": "a", "metric": "cost_per_request", "window_hours": 0}, "window_hours"),
        (
            {"name": "a", "metric": "drift", "channels": [{"type": "webhook", "url": "ftp://x"}]},
            "channels[0].url",
        ),
        ({"name": "a", "metric": "drift", "channels": [{"type": "pager"}]}, "channels[0].type"),
    ],
)
def test_bad_alert_rules_are_refused_with_reasons(
    live_api: LiveApi, keys: ProjectKeys, body: dict[str, Any], reason: str
) -> None:
    with _client(live_api, keys) as api:
        assert reason in _error(api.post("/alert-rules", json=body), 400)


def test_job_routes_need_a_key(live_api: LiveApi) -> None:
    response = httpx.get(f"{live_api.base_url}/api/v1/sampling-rules")
    assert response.status_code == 401
