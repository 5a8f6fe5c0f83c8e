"""Evaluations (sampling rules through the form, sampling runs) and Datasets & eval runs
(dataset versions, CI runs, two runs compared), each scoped to its project."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import httpx
import pytest
from haloscope.platform.evals import records
from haloscope.platform.evals.config import EvalConfig, MetricSpec
from haloscope.platform.evals.datasets import items_from_dicts
from haloscope.platform.evals.gate import run_gate
from haloscope.platform.evals.platform_client import run_summary_body
from haloscope.platform.evals.runs import ItemRecord, RunRecord
from haloscope.platform.evals.scoring import summarize
from haloscope.platform.jobs import rules, sampling
from haloscope.platform.jobs.runtime import JobRuntime

from tests.web.conftest import LiveDashboard, csrf_token_in
from tests.web.seed import SeededProject, create_member, rag_trace, send_traces

CONTAINS = [{"name": "contains", "version": None, "config": {"values": ["60 days"]}}]
RULE_FORM = {
    "name": "refund answers",
    "enabled": "true",
    "sample_rate": "0.25",
    "per_day": "",
    "kinds": ["llm", "retrieval"],
    "names": "",
    "models": "gpt-4o-mini",
    "tags": "prod, rag",
    "release": "",
    "metadata": "team=support",
    "evaluators": json.dumps(CONTAINS),
    "max_items_per_run": "100",
    "window_hours": "24",
    "seed": "7",
    "batch_size": "2",
}


@pytest.fixture
def owner(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> tuple[httpx.Client, SeededProject, SeededProject]:
    """A client signed in as the owner of two projects: the one under test and another."""
    email, (project, other) = create_member(dashboard.sessionmaker, ["evals", "other"])
    return client_for(email), project, other


def _stored_rule(dashboard: LiveDashboard, project_id: str, name: str) -> dict | None:
    with dashboard.sessionmaker() as db:
        rule = rules.find_rule(db, project_id, name)
        return None if rule is None else rules.rule_as_dict(rule)


def test_rules_are_created_and_edited_through_the_csrf_protected_form(
    dashboard: LiveDashboard, owner: tuple[httpx.Client, SeededProject, SeededProject]
) -> None:
    client, project, _ = owner
    base = f"/projects/{project.project_id}/evaluations"
    token = csrf_token_in(client.get(f"{base}/rules/new").text)

    assert client.post(f"{base}/rules", data=RULE_FORM).status_code == 403
    forged = client.post(f"{base}/rules", data={**RULE_FORM, "csrf_token": token + "x"})
    assert forged.status_code == 403
    assert _stored_rule(dashboard, project.project_id, "refund answers") is None

    created = client.post(f"{base}/rules", data={**RULE_FORM, "csrf_token": token})
    assert created.status_code == 303 and created.headers["location"] == base
    stored = _stored_rule(dashboard, project.project_id, "refund answers")
    assert stored is not None
    assert stored["sample_rate"] == 0.25 and stored["per_day"] is None and stored["seed"] == 7
    assert stored["filters"]["kinds"] == ["llm", "retrieval"]
    assert stored["filters"]["tags"] == ["prod", "rag"]
    assert stored["filters"]["metadata"] == {"team": "support"}
    assert stored["evaluators"] == CONTAINS and stored["enabled"] is True
    listing = client.get(base).text
    assert f'href="{base}/rules/{stored["id"]}"' in listing and "25.0% of matching" in listing

    edit_url = f"{base}/rules/{stored['id']}"
    form = client.get(edit_url).text
    assert 'value="gpt-4o-mini"' in form and 'value="prod, rag"' in form
    changes = {**RULE_FORM, "sample_rate": "", "per_day": "50", "kinds": ["llm"], "seed": "9"}
    changes.pop("enabled")  # an unchecked box is not sent
    saved = client.post(edit_url, data={**changes, "csrf_token": token})
    assert saved.status_code == 303
    edited = _stored_rule(dashboard, project.project_id, stored["id"])
    assert edited is not None
    assert (edited["sample_rate"], edited["per_day"], edited["seed"]) == (None, 50, 9)
    assert edited["filters"]["kinds"] == ["llm"] and edited["enabled"] is False


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"per_day": "10"}, "set exactly one of sample_rate and per_day"),
        ({"kinds": ["llm", "robot"]}, "unknown kind(s) [&#39;robot&#39;]"),
        ({"evaluators": '[{"name": "no-such-judge"}]'}, "evaluators[0]"),
        ({"evaluators": "[{"}, "evaluators: not valid JSON"),
        ({"window_hours": "a day"}, "window_hours must be a whole number"),
        ({"metadata": "team"}, "is not a key=value line"),
    ],
)
def test_a_refused_rule_shows_the_reason_and_keeps_what_was_typed(
    dashboard: LiveDashboard,
    owner: tuple[httpx.Client, SeededProject, SeededProject],
    change: dict,
    reason: str,
) -> None:
    client, project, _ = owner
    base = f"/projects/{project.project_id}/evaluations"
    token = csrf_token_in(client.get(f"{base}/rules/new").text)
    typed = {**RULE_FORM, "name": "typed name 42", **change, "csrf_token": token}
    refused = client.post(f"{base}/rules", data=typed)
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text and reason in refused.text
    assert 'value="typed name 42"' in refused.text and 'value="gpt-4o-mini"' in refused.text
    assert "team=support" in refused.text or change.get("metadata") == "team"
    assert _stored_rule(dashboard, project.project_id, "typed name 42") is None

    with dashboard.sessionmaker.begin() as db:
        rule_id = rules.create_rule(
            db, project.project_id, rules.RuleSpec(name="kept", sample_rate=0.5)
        ).id
    before = _stored_rule(dashboard, project.project_id, rule_id)
    edit = client.post(f"{base}/rules/{rule_id}", data={**typed, "name": "renamed"})
    assert edit.status_code == 400 and reason in edit.text and 'value="renamed"' in edit.text
    assert _stored_rule(dashboard, project.project_id, rule_id) == before


def test_sampling_runs_are_listed_with_their_counts(
    dashboard: LiveDashboard, owner: tuple[httpx.Client, SeededProject, SeededProject]
) -> None:
    client, project, _ = owner
    now_us = int(time.time() * 1_000_000)
    traces = [rag_trace(now_us - (i + 2) * 60_000_000, f"refund question {i}") for i in range(3)]
    send_traces(dashboard.base_url, project, traces)
    dashboard.flush()
    runtime = JobRuntime(
        dashboard.app.state.haloscope.settings, dashboard.store, dashboard.sessionmaker
    )
    with dashboard.sessionmaker.begin() as db:
        spec = rules.RuleSpec(
            name="all llm",
            filters={"kinds": ["llm"]},
            sample_rate=1.0,
            evaluators=tuple(CONTAINS),
            batch_size=2,
        )
        rule = rules.create_rule(db, project.project_id, spec)
        rule_id = rule.id
        done_id = sampling.start_run(db, rule, "test").id
        failed_id = sampling.start_run(db, rule, "api").id
    for batch_id in sampling.plan_run(runtime, done_id):
        sampling.judge_batch(runtime, batch_id)
    sampling.fail_run(runtime, failed_id, "judge engine unavailable: out of memory")

    page = client.get(f"/projects/{project.project_id}/evaluations").text
    done_row = _row(page, done_id)
    assert 'data-run-status="completed"' in done_row
    assert _count(done_row, "selected") == "3" and _count(done_row, "scored") == "3"
    assert _count(done_row, "batches") == "2 / 2" and _count(done_row, "failed") == "0"
    failed_row = _row(page, failed_id)
    assert 'data-run-status="failed"' in failed_row and "out of memory" in failed_row

    detail = client.get(f"/projects/{project.project_id}/evaluations/runs/{done_id}")
    assert detail.status_code == 200
    assert detail.text.count("<code>contains@1</code>") == 2
    rule_page = client.get(f"/projects/{project.project_id}/evaluations/rules/{rule_id}").text
    assert done_id in rule_page and failed_id in rule_page


def _row(page: str, run_id: str) -> str:
    match = re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', page, re.S)
    assert match, f"run {run_id} is not listed"
    return match.group(1)


def _count(row: str, name: str) -> str:
    match = re.search(rf'data-count="{name}">([^<]*)<', row)
    assert match, f"no {name} count"
    return match.group(1).strip()


def _eval_run(run_id: str, scores: list[float], dataset: dict) -> RunRecord:
    items = [
        ItemRecord(id=f"q{i}", input_hash=f"h{i}", output="answer", scores={"accuracy": s})
        for i, s in enumerate(scores)
    ]
    return RunRecord(run_id, "2025-01-01T00:00:00Z", dataset, "app:answer", "", {}, items)


def test_datasets_and_eval_runs_are_listed_and_two_runs_compared(
    dashboard: LiveDashboard, owner: tuple[httpx.Client, SeededProject, SeededProject]
) -> None:
    client, project, _ = owner
    raw = [{"id": f"q{i}", "input": f"question {i}", "expected_output": "yes"} for i in range(3)]
    for count in (2, 3):
        records.add_dataset_version(
            dashboard.sessionmaker,
            project.project_id,
            "support-qa",
            items_from_dicts(raw[:count], "t"),
            "test",
        )
    config = EvalConfig(
        metrics=(MetricSpec("accuracy", evaluator="contains"),), bootstrap_samples=200
    )
    dataset = {"name": "support-qa", "version": 2, "hash": "abc"}
    baseline = _eval_run("base-1", [0.9, 0.8, 0.95, 0.9, 0.85, 0.9], dataset)
    candidate = _eval_run("cand-1", [0.3, 0.2, 0.4, 0.3, 0.25, 0.35], dataset)
    for run in (baseline, candidate):
        run.summary = summarize(run.items, config)
        records.record_run(dashboard.sessionmaker, project.project_id, run_summary_body(run))
    report = run_gate(candidate, config, baseline).to_json()
    records.record_gate(dashboard.sessionmaker, project.project_id, "cand-1", report)

    page = client.get(f"/projects/{project.project_id}/datasets").text
    assert re.search(r'data-version="2">.*?data-count="items">3<', page, re.S)
    assert re.search(r'data-version="1">.*?data-count="items">2<', page, re.S)
    assert 'data-eval-run="base-1"' in page and 'data-eval-run="cand-1"' in page
    assert 'data-verdict="fail"' in page and 'id="compare-baseline"' in page

    compared = client.get(
        f"/projects/{project.project_id}/datasets/compare",
        params={"baseline": "base-1", "candidate": "cand-1"},
    )
    assert compared.status_code == 200
    row = re.search(r'<tr data-metric="accuracy">(.*?)</tr>', compared.text, re.S)
    assert row
    change = candidate.summary["accuracy"]["value"] - baseline.summary["accuracy"]["value"]
    assert f"{change:+.3f}" in row.group(1)
    assert f"{baseline.summary['accuracy']['value']:.3f}" in row.group(1)
    assert report["metrics"][0]["reason"] in compared.text.replace("&#39;", "'")
    assert 'data-gate="fail"' in compared.text

    reverse = client.get(
        f"/projects/{project.project_id}/datasets/compare",
        params={"baseline": "cand-1", "candidate": "base-1"},
    )
    assert reverse.status_code == 200 and 'data-gate="none"' in reverse.text


def test_other_projects_rules_runs_and_eval_runs_are_refused(
    dashboard: LiveDashboard, owner: tuple[httpx.Client, SeededProject, SeededProject]
) -> None:
    client, project, other = owner
    with dashboard.sessionmaker.begin() as db:
        rule = rules.create_rule(db, other.project_id, rules.RuleSpec(name="theirs", per_day=5))
        rule_id, run_id = rule.id, sampling.start_run(db, rule, "test").id
    records.record_run(
        dashboard.sessionmaker, other.project_id, {"run_id": "theirs-1", "summary": {}}
    )
    records.record_run(
        dashboard.sessionmaker, project.project_id, {"run_id": "mine-1", "summary": {}}
    )
    base = f"/projects/{project.project_id}"
    token = csrf_token_in(client.get(f"{base}/evaluations/rules/new").text)

    assert client.get(f"{base}/evaluations/rules/{rule_id}").status_code == 404
    edit = client.post(
        f"{base}/evaluations/rules/{rule_id}", data={**RULE_FORM, "csrf_token": token}
    )
    assert edit.status_code == 404
    assert _stored_rule(dashboard, other.project_id, rule_id)["name"] == "theirs"
    assert client.get(f"{base}/evaluations/runs/{run_id}").status_code == 404
    compare = client.get(
        f"{base}/datasets/compare", params={"baseline": "theirs-1", "candidate": "mine-1"}
    )
    assert compare.status_code == 404
    assert "theirs" not in client.get(f"{base}/evaluations").text
    assert "theirs-1" not in client.get(f"{base}/datasets").text

    assert client.get(f"/projects/{other.project_id}/evaluations/runs/{run_id}").status_code == 200
