"""The compare page of eval runs item by item (over HTTP): badges by the gate's own rule,
filters, sorting, pages, the word diff escaped, refusals; and the form that starts a run."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from haloscope.platform.auth.users import add_member, create_user
from haloscope.platform.evals import records

from tests.web.conftest import LiveDashboard, csrf_token_in
from tests.web.eval_seed import cli_environment, eval_gate, eval_run, regressed_items
from tests.web.seed import PASSWORD, SeededProject, create_member

ITEM = re.compile(r'<article class="card eval-item" data-item="([^"]+)" data-regressed="(\w+)"')
METRICS = ["correct", "grounded", "refusal", "concise"]


def _items(html: str) -> list[tuple[str, bool]]:
    return [(item_id, flag == "true") for item_id, flag in ITEM.findall(html)]


def _article(html: str, item_id: str) -> str:
    match = re.search(rf'data-item="{re.escape(item_id)}".*?</article>', html, re.S)
    assert match, f"item {item_id} is not shown"
    return match.group(0)


@pytest.fixture
def member(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> tuple[httpx.Client, SeededProject]:
    email, (project,) = create_member(dashboard.sessionmaker, ["compare"])
    return client_for(email), project


def test_badges_and_counts_are_the_gates_regressed_items(
    dashboard: LiveDashboard, member: tuple[httpx.Client, SeededProject], tmp_path: Path
) -> None:
    client, project = member
    with cli_environment(dashboard.base_url, project, tmp_path):
        eval_run("cmp-base", "examples.rag.app:answer")
        eval_run("cmp-pr", "examples.rag.app:answer_truncated_index")
        report = eval_gate("cmp-pr", "cmp-base", tmp_path)
    page = f"/projects/{project.project_id}/datasets/compare"
    runs = [("run", "cmp-base"), ("run", "cmp-pr")]

    everything = client.get(page, params=runs).text
    assert len(_items(everything)) == 40
    for metric in report["metrics"]:
        row = re.search(rf'<tr data-metric="{metric["name"]}">(.*?)</tr>', everything, re.S)
        assert row, metric["name"]
        counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', row.group(1)))
        assert int(counts.get("regressed", 0)) == metric["test"]["regressed"]
        assert int(counts.get("improved", 0)) == metric["test"]["improved"]

    for metric in METRICS:
        shown = client.get(page, params=[*runs, ("regressed", "1"), ("metric", metric)]).text
        assert {i for i, _ in _items(shown)} == regressed_items(report, [metric]), metric
    shown = client.get(page, params=[*runs, ("regressed", "1")]).text
    assert {i for i, flag in _items(shown) if flag} == regressed_items(report)

    ordered = _items(client.get(page, params=[*runs, ("sort", "regressed")]).text)
    flags = [flag for _, flag in ordered]
    assert flags == sorted(flags, reverse=True), "regressed items come first"
    example = sorted(regressed_items(report, ["correct"]))[0]
    article = _article(shown, example)
    assert "<del>" in article and 'data-change="regressed"' in article


def test_filters_pages_and_an_escaped_word_diff(
    dashboard: LiveDashboard, member: tuple[httpx.Client, SeededProject], tmp_path: Path
) -> None:
    client, project = member
    dataset = tmp_path / "numbers.jsonl"
    dataset.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"n-{n}",
                    "input": f"question {n}",
                    "expected_output": f"A{n}",
                    "metadata": {"tags": ["even" if n % 2 == 0 else "odd"]},
                }
            )
            + "\n"
            for n in range(1, 61)
        )  # fmt: skip
    )
    config = tmp_path / "eval.yaml"
    config.write_text(
        "metrics:\n  - name: answered\n    scorer: tests.web.eval_targets:mentions_answer\n"
        "    aggregate: pass_rate\nbootstrap_samples: 200\n"
    )
    with cli_environment(dashboard.base_url, project, tmp_path):
        eval_run("num-1", "tests.web.eval_targets:answer_v1", dataset, config)
        eval_run("num-2", "tests.web.eval_targets:answer_v2", dataset, config)
        eval_run("num-3", "tests.web.eval_targets:answer_v1", dataset, config)
    page = f"/projects/{project.project_id}/datasets/compare"
    runs = [("run", "num-1"), ("run", "num-2"), ("run", "num-3")]

    first = client.get(page, params=runs)
    assert first.status_code == 200
    assert [i for i, _ in _items(first.text)] == [f"n-{n}" for n in range(1, 51)]
    assert "<script>" not in first.text and "&lt;script&gt;alert(3)&lt;/script&gt;" in first.text
    assert 'data-matching="60"' in first.text and "page 1 of 2" in first.text
    second_url = re.search(r'<a href="([^"]+)">Next page', first.text).group(1)
    second = client.get(second_url.replace("&amp;", "&"))
    assert [i for i, _ in _items(second.text)] == [f"n-{n}" for n in range(51, 61)]

    even = client.get(page, params=[*runs, ("tag", "even")]).text
    assert [i for i, _ in _items(even)] == [f"n-{n}" for n in range(2, 61, 2)]
    regressed = client.get(page, params=[*runs, ("regressed", "1"), ("tag", "even")]).text
    assert [i for i, _ in _items(regressed)] == [f"n-{n}" for n in range(6, 61, 6)]

    changed = _article(first.text, "n-3")
    diff = re.search(r'<td data-run="num-2">\s*<div class="output">(.*?)</div>', changed, re.S)
    assert diff, changed
    assert "<del>answer</del><ins>reply</ins>" in diff.group(1)
    assert "<del>A3.</del><ins>unknown.</ins>" in diff.group(1)
    assert "&lt;script&gt;" in diff.group(1)
    gained = _article(first.text, "n-5")
    assert "<ins>surely </ins>" in gained and 'data-change="unchanged"' in gained
    # The third run equals the baseline: its column shows no change at all.
    same = re.search(r'<td data-run="num-3">\s*<div class="output">(.*?)</div>', changed, re.S)
    assert same and "<del>" not in same.group(1) and "<ins>" not in same.group(1)


def test_runs_of_different_dataset_versions_or_unknown_metrics_are_refused(
    dashboard: LiveDashboard, member: tuple[httpx.Client, SeededProject]
) -> None:
    client, project = member
    for run_id, version in (("v1-run", "1"), ("v2-run", "2"), ("v2-other", "2")):
        records.record_run(
            dashboard.sessionmaker,
            project.project_id,
            {"run_id": run_id, "dataset": "faq", "dataset_version": version,
             "summary": {"correct": {"value": 0.5, "aggregate": "pass_rate"}}},
        )  # fmt: skip
    page = f"/projects/{project.project_id}/datasets/compare"
    refused = client.get(page, params=[("run", "v1-run"), ("run", "v2-run")])
    assert refused.status_code == 400
    assert "same dataset version" in refused.text and "faq@1" in refused.text
    one = client.get(page, params=[("run", "v2-run")])
    assert one.status_code == 400 and "at least one candidate" in one.text
    unknown = client.get(page, params=[("run", "v2-run"), ("run", "v2-other"), ("metric", "x")])
    assert unknown.status_code == 400 and "no metric" in unknown.text
    empty = client.get(page, params=[("run", "v2-run"), ("run", "v2-other")])
    assert empty.status_code == 200 and 'data-items="none"' in empty.text


def test_starting_a_run_needs_the_csrf_token_an_editor_and_a_registered_target(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["runs"])
    viewer_email = f"viewer-{uuid.uuid4().hex[:10]}@example.com"
    with dashboard.sessionmaker.begin() as db:
        viewer_user = create_user(db, viewer_email, PASSWORD)
        add_member(db, viewer_user.id, project.project_id, "viewer")
    owner = client_for(email)
    url = f"/projects/{project.project_id}/datasets/runs"
    page = owner.get(f"/projects/{project.project_id}/datasets").text
    assert 'data-registry="empty"' in page and "HALOSCOPE_EVAL_TARGETS" in page
    form = {"dataset_version": "faq@1", "target": "rag", "config": "rag"}
    assert owner.post(url, data=form).status_code == 403
    assert owner.post(url, data={**form, "csrf_token": "wrong"}).status_code == 403
    refused = owner.post(url, data={**form, "csrf_token": csrf_token_in(page)})
    assert refused.status_code == 400 and "no target &#39;rag&#39; is registered" in refused.text

    viewer = client_for(viewer_email)
    token = csrf_token_in(viewer.get(f"/projects/{project.project_id}/datasets").text)
    assert viewer.post(url, data={**form, "csrf_token": token}).status_code == 403
