"""Eval run items in the platform: the store's round trip on both drivers, what ``haloscope
eval run`` uploads (idempotently, in batches), the item list and its export, the gate's item
rule and its Markdown link, and other projects kept out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from haloscope.platform.cli.main import main
from haloscope.platform.evals import items as item_rows
from haloscope.platform.evals.config import load_config
from haloscope.platform.evals.datasets import load_items_file
from haloscope.platform.evals.gate import run_gate
from haloscope.platform.evals.platform_client import PlatformClient, item_batches
from haloscope.platform.evals.runs import RunStore
from haloscope.platform.evals.scoring import REGRESSED, item_change
from haloscope.platform.store import TraceStore
from haloscope.platform.store.eval_items import EvalItemStore, ItemFilter
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.security.fuzzing import FUZZ, JSON_VALUES, assert_handled, json_bytes
from tests.support.api_fixtures import LiveApi, ProjectKeys
from tests.web.eval_seed import cli_environment, eval_run

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "rag" / "eval.yaml"
DATASET = REPO / "examples" / "rag" / "dataset.jsonl"
METRICS = ["correct", "grounded", "refusal", "concise"]


def _upload(index: int, **extra: object) -> dict:
    body = {
        "id": f"item-{index:03d}",
        "position": index,
        "input": {"question": f"q{index}", "big": 123456789012345678901234567890},
        "expected_output": f"answer {index}",
        "output": f"out {index}\ttab\nline 'quoted' \\ back",
        "contexts": [f"passage {index}"],
        "tags": ["even" if index % 2 == 0 else "odd", "all"],
        "metadata": {"topic": "t"},
        "latency_ms": 1.5 * index,
        "metrics": [
            {"name": "correct", "score": index % 3 / 2, "label": "pass", "latency_ms": 0.25},
            {"name": "judge", "score": None, "reason": "judge said no", "error": "timeout"},
        ],
    }
    return {**body, **extra}


def _rows(project_id: str, run_id: str, uploads: list[dict]) -> list[dict]:
    parsed = item_rows.decode_upload(json.dumps({"items": uploads}).encode())
    key = item_rows.RunKey(project_id, run_id, "faq", "3", 1_767_225_600_000_000)
    return [item_rows.item_row(key, item) for item in parsed]


def test_item_rows_round_trip_in_keyset_pages(trace_store: TraceStore, project_id: str) -> None:
    store = EvalItemStore(trace_store.driver)
    uploads = [_upload(i) for i in range(7)]
    store.insert(_rows(project_id, "run-a", uploads))
    store.insert(_rows(project_id, "run-b", uploads[:2]))
    store.insert(_rows(f"{project_id}-other", "run-a", uploads))

    seen, cursor = [], None
    while True:
        page = store.page(project_id, "run-a", ItemFilter(), limit=3, cursor=cursor)
        seen.extend(page.rows)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [r["item_id"] for r in seen] == [u["id"] for u in uploads]
    decoded = json.loads(orjson.dumps(item_rows.item_view(seen[4])))
    assert decoded["input"] == uploads[4]["input"]  # an integer beyond 64 bits survives
    assert decoded["output"] == uploads[4]["output"] and decoded["tags"] == ["even", "all"]
    assert decoded["dataset"] == "faq" and decoded["dataset_version"] == "3"
    assert decoded["latency_ms"] == 6.0 and decoded["contexts"] == ["passage 4"]
    assert decoded["metrics"] == [
        {"name": "correct", "score": 0.5, "label": "pass", "reason": None,
         "latency_ms": 0.25, "error": None},
        {"name": "judge", "score": None, "label": None, "reason": "judge said no",
         "latency_ms": 0.0, "error": "timeout"},
    ]  # fmt: skip

    odd = store.page(project_id, "run-a", ItemFilter(tags=("odd", "all"))).rows
    assert [r["item_id"] for r in odd] == ["item-001", "item-003", "item-005"]
    passing = store.page(project_id, "run-a", ItemFilter(metric="correct", min_score=0.5)).rows
    assert [r["item_id"] for r in passing] == ["item-001", "item-002", "item-004", "item-005"]
    assert store.page(project_id, "run-a", ItemFilter(metric="missing")).rows == []

    # Sent again with a changed output: replaced, never added.
    store.insert(_rows(project_id, "run-a", [_upload(3, output="changed")]))
    assert store.count(project_id, "run-a") == 7
    (again,) = store.items(project_id, ["run-a"], ["item-003"])
    assert again["output"] == "changed"
    assert {r["run_id"] for r in store.across_runs(project_id, "item-001")} == {"run-a", "run-b"}
    with pytest.raises(ValueError, match="cursor"):
        store.page(project_id, "run-a", ItemFilter(), cursor="bm90LWEtY3Vyc29y")
    with pytest.raises(ValueError, match="need a metric"):
        ItemFilter(min_score=0.1)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"items": []}, "length >= 1"),
        ({"items": [{"id": "a"}, {"id": "a"}]}, "appears twice"),
        ({"items": [{"id": "a", "metrics": [{"name": "m"}, {"name": "m"}]}]}, "metric name"),
        ({"items": [{"id": "a", "surprise": 1}]}, "unknown field"),
        ({"items": [{"id": "a", "latency_ms": -1}]}, ">= 0"),
        ({"items": [{"id": "", "output": "x"}]}, "length >= 1"),
        ({"items": [{"id": "a", "position": 2**32}]}, "<= 4294967295"),
    ],
)
def test_invalid_uploads_are_refused_with_the_reason(body: dict, reason: str) -> None:
    with pytest.raises(item_rows.UploadError, match=reason):
        item_rows.decode_upload(json.dumps(body).encode())


def test_uploads_are_batched_by_count_and_size() -> None:
    small = [{"id": f"i{n}", "output": "x"} for n in range(2500)]
    assert [count for count, _ in item_batches(small)] == [1000, 1000, 500]
    large = [{"id": f"i{n}", "output": "x" * 1_500_000} for n in range(5)]
    batches = list(item_batches(large))
    assert [count for count, _ in batches] == [2, 2, 1]
    assert all(len(json.loads(body)["items"]) == count for count, body in batches)


@pytest.fixture
def cli_env(live_api: LiveApi, tmp_path: Path) -> Iterator[ProjectKeys]:
    """A new project whose key pair the CLI records with, files under ``tmp_path``."""
    keys = live_api.new_project()
    with cli_environment(live_api.base_url, keys, tmp_path):
        yield keys


def _all_items(live_api: LiveApi, keys: ProjectKeys, run_id: str, **params: object) -> list:
    url = f"{live_api.base_url}/api/v1/eval-runs/{run_id}/items"
    found, cursor = [], None
    while True:
        query = {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(url, params=query, auth=keys.basic_auth)
        assert page.status_code == 200, page.text
        found += page.json()["data"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


def test_eval_run_records_every_item_idempotently(
    live_api: LiveApi, cli_env: ProjectKeys, tmp_path: Path
) -> None:
    eval_run("items-base", "examples.rag.app:answer")
    run = RunStore(tmp_path / "eval-runs").load("items-base")
    stored = _all_items(live_api, cli_env, "items-base")
    assert [i["item_id"] for i in stored] == [i.id for i in run.items]
    assert [i["position"] for i in stored] == list(range(40))
    for item, record in zip(stored, run.items, strict=True):
        assert item["output"] == record.output and item["contexts"] == record.contexts
        assert item["dataset"] == "dataset" and item["dataset_version"] == "0"
        assert item["latency_ms"] >= 0 and item["error"] is None
        assert [m["name"] for m in item["metrics"]] == METRICS
        for metric in item["metrics"]:
            assert metric["score"] == record.scores[metric["name"]]
            assert metric["label"] == record.labels[metric["name"]]
            assert metric["latency_ms"] == pytest.approx(record.metric_latency_ms[metric["name"]])
    first = stored[0]
    assert first["input"] == "How much does the Starter plan cost per month?"
    assert first["expected_output"] == "$9" and first["metadata"] == {"topic": "price"}

    # The CLI's upload sent again (a retried CI job): still one row per item.
    client = PlatformClient.from_env()
    assert client is not None
    uploads = item_rows.upload_items(load_items_file(DATASET), run.items, METRICS)
    again = [{**u, "output": "second upload"} for u in uploads]
    assert client.record_items("items-base", again) == 40
    client.close()
    stored = _all_items(live_api, cli_env, "items-base")
    assert len(stored) == 40 and {i["output"] for i in stored} == {"second upload"}
    filtered = _all_items(live_api, cli_env, "items-base", metric="correct", max_score=0.5)
    assert {i["item_id"] for i in filtered} == {i.id for i in run.items if not i.scores["correct"]}


def test_export_streams_csv_with_formula_cells_escaped_and_jsonl(
    live_api: LiveApi, cli_env: ProjectKeys
) -> None:
    base = live_api.base_url
    created = httpx.post(
        f"{base}/api/v1/eval-runs",
        json={"run_id": "export-run", "dataset": "faq", "dataset_version": "2",
              "summary": {"correct": {"value": 0.5}, "judge": {"value": 0.1}}},
        auth=cli_env.basic_auth,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    uploads = [
        _upload(0, output='=HYPERLINK("http://evil")', input="+SUM(A1)"),
        _upload(1, output="-2+3", expected_output="@cmd"),
        _upload(2, output="plain, with comma", tags=["x"]),
    ]
    posted = httpx.post(
        f"{base}/api/v1/eval-runs/export-run/items",
        json={"items": uploads},
        auth=cli_env.basic_auth,
    )
    assert posted.status_code == 200 and posted.json()["accepted"] == 3

    exported = httpx.get(
        f"{base}/api/v1/eval-runs/export-run/items/export", auth=cli_env.basic_auth
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert (
        'filename="haloscope-eval-items-export-run.csv"' in exported.headers["content-disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["item_id"] for r in rows] == ["item-000", "item-001", "item-002"]
    assert rows[0]["output"] == '\'=HYPERLINK("http://evil")' and rows[0]["input"] == "'+SUM(A1)"
    assert rows[1]["output"] == "'-2+3" and rows[1]["expected_output"] == "'@cmd"
    assert rows[2]["output"] == "plain, with comma" and rows[2]["tags"] == "x"
    assert rows[0]["tags"] == "even,all" and rows[1]["latency_ms"] == "1.5"
    assert rows[1]["correct.score"] == "0.5" and rows[1]["correct.label"] == "pass"
    assert rows[0]["judge.score"] == "" and rows[0]["judge.error"] == "timeout"
    assert rows[0]["judge.reason"] == "judge said no"

    jsonl = httpx.get(
        f"{base}/api/v1/eval-runs/export-run/items/export",
        params={"format": "jsonl", "tag": "even"},
        auth=cli_env.basic_auth,
    )
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    listed = httpx.get(
        f"{base}/api/v1/eval-runs/export-run/items", params={"tag": "even"}, auth=cli_env.basic_auth
    ).json()["data"]
    assert lines == listed and [i["item_id"] for i in lines] == ["item-000"]
    bad = httpx.get(
        f"{base}/api/v1/eval-runs/export-run/items/export",
        params={"format": "xlsx"},
        auth=cli_env.basic_auth,
    )
    assert bad.status_code == 400 and "format" in bad.json()["error"]


def test_another_projects_run_answers_404_and_stays_untouched(
    live_api: LiveApi, cli_env: ProjectKeys
) -> None:
    base, other = live_api.base_url, live_api.new_project()
    httpx.post(
        f"{base}/api/v1/eval-runs", json={"run_id": "mine", "summary": {}}, auth=cli_env.basic_auth
    )
    body = {"items": [_upload(0, output="secret output")]}
    assert (
        httpx.post(
            f"{base}/api/v1/eval-runs/mine/items", json=body, auth=cli_env.basic_auth
        ).status_code
        == 200
    )
    for method, path in (
        ("POST", "/api/v1/eval-runs/mine/items"),
        ("GET", "/api/v1/eval-runs/mine/items"),
        ("GET", "/api/v1/eval-runs/mine/items/export"),
        ("POST", "/api/v1/eval-runs/missing/items"),
    ):
        sent = {"items": [_upload(0, output="overwritten")]} if method == "POST" else None
        response = httpx.request(method, f"{base}{path}", json=sent, auth=other.basic_auth)
        assert response.status_code == 404, (path, response.text)
        assert "secret output" not in response.text
    (item,) = _all_items(live_api, cli_env, "mine")
    assert item["output"] == "secret output"
    missing = httpx.post(f"{base}/api/v1/eval-runs/nope/items", json=body, auth=cli_env.basic_auth)
    assert missing.status_code == 404
    invalid = httpx.post(
        f"{base}/api/v1/eval-runs/mine/items",
        json={"items": [{"id": "x", "metrics": "no"}]},
        auth=cli_env.basic_auth,
    )
    assert invalid.status_code == 400 and "metrics" in invalid.json()["error"]


def test_gate_counts_regressed_items_by_the_item_rule_and_links_the_compare_page(
    live_api: LiveApi, cli_env: ProjectKeys, tmp_path: Path
) -> None:
    eval_run("link-base", "examples.rag.app:answer")
    eval_run("link-pr", "examples.rag.app:answer_truncated_index")
    gate = ["eval", "gate", "--config", str(CONFIG), "--run", "link-pr", "--baseline",
            "link-base", "--markdown", str(tmp_path / "gate.md"), "--json",
            str(tmp_path / "gate.json")]  # fmt: skip
    assert main(gate) == 1
    markdown = (tmp_path / "gate.md").read_text()
    url = (
        f"{live_api.base_url}/projects/{cli_env.project_id}/datasets/compare"
        "?run=link-base&run=link-pr"
    )
    assert f"[Compare the runs item by item]({url})" in markdown

    store = RunStore(tmp_path / "eval-runs")
    base, current = store.load("link-base"), store.load("link-pr")
    config = load_config(CONFIG)
    report = run_gate(current, config, base)
    by_id = {i.id: i for i in base.items}
    for verdict in report.metrics:
        metric = config.metric(verdict.name)
        expected = [
            i.id
            for i in current.items
            if item_change(metric, by_id[i.id].scores[metric.name], i.scores[metric.name])
            == REGRESSED
        ]
        assert list(verdict.regressed_items) == expected
        assert verdict.test is not None and verdict.test.regressed == len(expected)
    correct = next(m for m in report.metrics if m.name == "correct")
    assert len(correct.regressed_items) == 17  # McNemar's count (test_gate_cli)
    written = json.loads((tmp_path / "gate.json").read_text())
    assert written["metrics"][0]["regressed_items"] == list(correct.regressed_items)


def test_arbitrary_uploads_are_answered_with_a_reason_never_a_5xx(
    live_api: LiveApi, cli_env: ProjectKeys
) -> None:
    base = live_api.base_url
    httpx.post(
        f"{base}/api/v1/eval-runs",
        json={"run_id": "fuzzed", "summary": {}},
        auth=cli_env.basic_auth,
    )
    url = f"{base}/api/v1/eval-runs/fuzzed/items"
    field = st.sampled_from(item_rows.UPLOAD_FIELDS)
    item = st.dictionaries(field, JSON_VALUES, max_size=6).map(lambda d: {"id": "x", **d})

    @settings(FUZZ, max_examples=80)
    @given(
        body=st.one_of(JSON_VALUES, st.fixed_dictionaries({"items": st.lists(item, max_size=3)}))
    )
    def call(body: object) -> None:
        response = httpx.post(url, content=json_bytes(body), auth=cli_env.basic_auth,
                              headers={"Content-Type": "application/json"})  # fmt: skip
        assert_handled(response)

    call()
    listed = httpx.get(url, auth=cli_env.basic_auth)
    assert listed.status_code == 200
    for stored in listed.json()["data"]:
        assert stored["item_id"] == "x"
