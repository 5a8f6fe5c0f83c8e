"""The Drift page over reports stored by the drift job itself (``run_drift_job`` on spans in
the session's chDB store, the real MiniLM for the input-embedding feature): features, verdict
badges, adjusted p-values and SVG histograms stored with the report; the report selector; the
empty state; another project's report refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape, unescape

import httpx
import pytest
from haloscope.evaluators.embeddings import Embedder
from haloscope.platform.db.models import DriftReportRecord
from haloscope.web.pages.drift_page import format_p

from tests.web.conftest import LiveDashboard
from tests.web.seed import (
    SeededProject,
    create_member,
    seed_drift_report,
)

NOW = datetime.now(UTC).replace(microsecond=0)
BAR_TITLE = re.compile(r"<title>(baseline|current) ([^<]*): ([\d.]+)%</title>")


@dataclass
class DriftProject:
    """A signed-up user's project with one shifted drift report."""

    email: str
    project: SeededProject
    report: DriftReportRecord


@pytest.fixture(scope="module")
def drifted(dashboard: LiveDashboard) -> DriftProject:
    email, (project,) = create_member(dashboard.sessionmaker, ["drift"])
    embedder = Embedder.default(device="cpu")
    report_id = seed_drift_report(
        dashboard.store, dashboard.sessionmaker, project.project_id, NOW, embedder=embedder
    )
    with dashboard.sessionmaker() as session:
        report = session.get(DriftReportRecord, report_id)
        assert report is not None
        session.expunge(report)
    return DriftProject(email, project, report)


def _row(html: str, feature: str) -> str:
    match = re.search(rf'<tr data-feature="{re.escape(feature)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {feature}"
    return match.group(1)


def _card(html: str, feature: str) -> str:
    match = re.search(rf'data-feature-card="{re.escape(feature)}">(.*?)</section>', html, re.S)
    assert match, f"no card for {feature}"
    return match.group(1)


def _bars(card: str) -> dict[str, dict[str, float]]:
    """Percent per bin label of each window, read from the bars' titles."""
    bars: dict[str, dict[str, float]] = {"baseline": {}, "current": {}}
    for side, label, percent in BAR_TITLE.findall(card):
        bars[side][unescape(label)] = float(percent)
    return bars


def test_latest_report_shows_every_feature_verdict_p_value_and_histogram(
    drifted: DriftProject, client_for: Callable[[str], httpx.Client]
) -> None:
    client = client_for(drifted.email)
    page = client.get(f"/projects/{drifted.project.project_id}/drift")
    assert page.status_code == 200
    html = page.text
    features = drifted.report.features
    assert {"latency_ms", "total_tokens", "cost"} <= set(drifted.report.drifted)
    assert "input_embedding" in features and "score:faithfulness" in features
    assert f'data-report-id="{drifted.report.id}"' in html
    assert 'data-baseline-pinned="false"' in html and "previous window" in html
    for name, feature in features.items():
        row = _row(html, name)
        verdict = "drifted" if name in drifted.report.drifted else "no drift"
        assert f'data-status="{feature["status"]}">{verdict}<' in row
        assert (
            f'<td class="num" data-p-adjusted>{escape(format_p(feature["p_adjusted"]))}</td>' in row
        )
    assert "data-statistic>" in _row(html, "input_embedding")
    assert "mmd2" in _row(html, "input_embedding")

    latency = _card(html, "latency_ms")
    assert '<svg class="chart"' in latency and 'role="img"' in latency
    bars = _bars(latency)
    # Baseline deciles hold about a tenth of the baseline each; doubled latencies all land
    # above the baseline's last decile.
    assert len(bars["baseline"]) == len(bars["current"]) == 10
    assert all(5 <= share <= 15 for share in bars["baseline"].values())
    assert max(bars["current"].values()) >= 90
    assert max(bars["current"], key=bars["current"].get).startswith(">")
    assert sum(_bars(_card(html, "error"))["current"].values()) == pytest.approx(100)
    assert "<svg" in _card(html, "score:faithfulness")

    embedding = _card(html, "input_embedding")
    assert "<svg" not in embedding and "data-no-histogram" in embedding
    assert "<script" not in html


def test_the_selector_shows_an_earlier_report(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["drift-history"])
    store, sessions = dashboard.store, dashboard.sessionmaker
    earlier = seed_drift_report(store, sessions, project.project_id, NOW - timedelta(days=3))
    latest = seed_drift_report(store, sessions, project.project_id, NOW, shifted=False)
    client = client_for(email)
    url = f"/projects/{project.project_id}/drift"

    html = client.get(url).text
    assert f'data-report-id="{latest}"' in html
    assert '<label for="report">Report</label>' in html
    assert f'<option value="{latest}" selected>' in html
    assert f'<option value="{earlier}" >' in html
    assert 'data-kpi="drifted">0 of' in html
    assert 'data-status="drift"' not in html

    chosen = client.get(url, params={"report": earlier}).text
    assert f'data-report-id="{earlier}"' in chosen
    assert f'<option value="{earlier}" selected>' in chosen
    assert 'data-status="drift">drifted<' in _row(chosen, "latency_ms")
    assert client.get(url, params={"report": "no-such-report"}).status_code == 404


def test_another_projects_report_is_refused(
    drifted: DriftProject,
    dashboard: LiveDashboard,
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, (own,) = create_member(dashboard.sessionmaker, ["drift-other"])
    client = client_for(email)
    assert client.get(f"/projects/{drifted.project.project_id}/drift").status_code == 404
    foreign = client.get(f"/projects/{own.project_id}/drift", params={"report": drifted.report.id})
    assert foreign.status_code == 404
    assert "latency_ms" not in foreign.text


def test_without_reports_the_page_says_how_to_get_one(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["drift-empty"])
    page = client_for(email).get(f"/projects/{project.project_id}/drift")
    assert page.status_code == 200
    assert 'data-empty="drift"' in page.text
    assert f"haloscope drift run --project {project.name}" in page.text
    assert "<svg" not in page.text and 'id="report"' not in page.text
