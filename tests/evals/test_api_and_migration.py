"""Eval/dataset API routes on the live API (project isolation, recording from the CLI) and
the 0002 Alembic migration on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from haloscope.platform.cli.main import main
from haloscope.platform.db.engine import make_engine, upgrade_database
from sqlalchemy import inspect, text

from tests.support.api_fixtures import LiveApi, ProjectKeys

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "rag" / "eval.yaml"
DATASET = REPO / "examples" / "rag" / "dataset.jsonl"


def _use_platform(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, host: str, keys: ProjectKeys
) -> None:
    """The CLI's environment: this data dir, the platform at ``host`` with ``keys``."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("HALOSCOPE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HALOSCOPE_CONFIG", "")
    monkeypatch.setenv("HALOSCOPE_HOST", host)
    monkeypatch.setenv("HALOSCOPE_PUBLIC_KEY", keys.public_key)
    monkeypatch.setenv("HALOSCOPE_SECRET_KEY", keys.secret_key)


def test_migration_0002_creates_dataset_and_run_tables(metadata_db_url: str) -> None:
    upgrade_database(metadata_db_url)
    engine = make_engine(metadata_db_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        versions = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        uniques = inspect(conn).get_unique_constraints("dataset_versions")
    engine.dispose()
    assert {"datasets", "dataset_versions", "eval_runs"} <= tables
    assert versions and versions != {"0001"}
    assert any(set(u["column_names"]) == {"dataset_id", "version"} for u in uniques)


def test_dataset_versions_are_project_scoped_and_immutable(live_api: LiveApi) -> None:
    a, b = live_api.new_project(), live_api.new_project()
    url = f"{live_api.base_url}/api/v1/datasets/faq/versions"
    first = httpx.post(url, json={"items": [{"input": "q1"}]}, auth=a.basic_auth)
    second = httpx.post(url, json={"items": [{"input": "q2"}]}, auth=a.basic_auth)
    other = httpx.post(url, json={"items": [{"input": "zz"}]}, auth=b.basic_auth)
    assert [r.status_code for r in (first, second, other)] == [201, 201, 201]
    assert (first.json()["version"], second.json()["version"], other.json()["version"]) == (1, 2, 1)
    v1 = httpx.get(f"{url}/1", auth=a.basic_auth).json()
    assert [i["input"] for i in v1["items"]] == ["q1"]
    assert httpx.get(f"{url}/latest", auth=b.basic_auth).json()["items"][0]["input"] == "zz"
    bad = httpx.post(url, json={"items": [{"expected_output": "x"}]}, auth=a.basic_auth)
    assert bad.status_code == 400 and "has no 'input'" in bad.json()["error"]
    assert httpx.get(f"{url}/9", auth=a.basic_auth).status_code == 404


def test_cli_records_run_and_verdict_in_its_project_only(
    live_api: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = live_api.new_project(), live_api.new_project()
    _use_platform(monkeypatch, tmp_path, live_api.base_url, mine)
    run = ["eval", "run", "--config", str(CONFIG), "--dataset-file", str(DATASET), "--no-progress"]
    assert main([*run, "--target", "examples.rag.app:answer", "--run-id", "api-base"]) == 0
    assert (
        main([*run, "--target", "examples.rag.app:answer_truncated_index", "--run-id", "api-pr"])
        == 0
    )
    gate = ["eval", "gate", "--config", str(CONFIG), "--run", "api-pr", "--baseline", "api-base"]
    assert main(gate) == 1

    recorded = httpx.get(f"{live_api.base_url}/api/v1/eval-runs/api-pr", auth=mine.basic_auth)
    assert recorded.status_code == 200
    body = recorded.json()
    assert body["verdict"] == "fail" and body["item_count"] == 40
    assert body["summary"]["correct"]["value"] == pytest.approx(23 / 40)
    assert body["gate"]["baseline_run_id"] == "api-base"
    listed = httpx.get(f"{live_api.base_url}/api/v1/eval-runs", auth=mine.basic_auth).json()
    assert {r["run_id"] for r in listed["data"]} == {"api-base", "api-pr"}
    hidden = httpx.get(f"{live_api.base_url}/api/v1/eval-runs/api-pr", auth=other.basic_auth)
    assert hidden.status_code == 404
    assert httpx.get(f"{live_api.base_url}/api/v1/eval-runs", auth=other.basic_auth).json() == {
        "data": []
    }
    duplicate = httpx.post(
        f"{live_api.base_url}/api/v1/eval-runs",
        json={"run_id": "api-pr", "summary": {}},
        auth=mine.basic_auth,
    )
    assert duplicate.status_code == 409
    assert json.loads((tmp_path / "eval-runs" / "runs" / "api-pr.json").read_text())["items"]


def test_dataset_version_from_ingested_traces_stays_in_its_project(live_api: LiveApi) -> None:
    owner, stranger = live_api.new_project(), live_api.new_project()
    trace_id, root_id, search_id = "ab" * 16, "01" * 8, "02" * 8
    spans = [
        {"trace_id": trace_id, "span_id": root_id, "name": "rag", "kind": "chain",
         "start_time": 1_700_000_000_000_000, "end_time": 1_700_000_000_900_000,
         "input": {"question": "How long do refunds take?"}, "output": "Five business days."},
        {"trace_id": trace_id, "span_id": search_id, "parent_span_id": root_id,
         "name": "search", "kind": "retrieval",
         "start_time": 1_700_000_000_100_000, "end_time": 1_700_000_000_200_000,
         "documents": [{"id": "kb-1", "score": 0.9, "content": "Refunds take 5 business days."}]},
    ]  # fmt: skip
    ingest = f"{live_api.base_url}/api/v1/ingest"
    assert httpx.post(ingest, json={"spans": spans}, auth=owner.basic_auth).status_code == 200
    live_api.flush()

    url = f"{live_api.base_url}/api/v1/datasets/prod-refunds/versions/from-traces"
    created = httpx.post(url, json={"trace_ids": [trace_id.upper()]}, auth=owner.basic_auth)
    assert created.status_code == 201, created.text
    version = httpx.get(
        f"{live_api.base_url}/api/v1/datasets/prod-refunds/versions/latest", auth=owner.basic_auth
    ).json()
    (item,) = version["items"]
    assert item["input"] == "How long do refunds take?"
    assert item["expected_output"] == "Five business days."
    assert item["context"] == ["Refunds take 5 business days."]

    foreign = httpx.post(url, json={"trace_ids": [trace_id]}, auth=stranger.basic_auth)
    assert foreign.status_code == 404 and trace_id in foreign.json()["error"]


def test_an_eval_run_summary_must_give_each_metric_a_value(live_api: LiveApi) -> None:
    keys = live_api.new_project()
    for summary in ({"accuracy": 0.5}, {"accuracy": {"n": 3}}, {"accuracy": {"value": "high"}}):
        refused = httpx.post(
            f"{live_api.base_url}/api/v1/eval-runs",
            json={"run_id": "bad-summary", "summary": summary},
            auth=keys.basic_auth,
        )
        assert refused.status_code == 400, summary
        assert "summary" in refused.json()["error"]


def test_eval_run_reads_a_dataset_version_stored_in_the_platform(
    live_api: LiveApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mine, other = live_api.new_project(), live_api.new_project()
    _use_platform(monkeypatch, tmp_path, live_api.base_url, mine)
    items = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    pushed = httpx.post(
        f"{live_api.base_url}/api/v1/datasets/golden/versions",
        json={"items": items},
        auth=mine.basic_auth,
    )
    assert pushed.status_code == 201, pushed.text
    run = ["eval", "run", "--config", str(CONFIG), "--no-progress", "--no-record"]
    run += ["--target", "examples.rag.app:answer"]
    assert main([*run, "--platform-dataset", "golden@1", "--run-id", "from-platform"]) == 0
    assert main([*run, "--dataset-file", str(DATASET), "--run-id", "from-file"]) == 0
    runs = tmp_path / "eval-runs" / "runs"
    from_platform = json.loads((runs / "from-platform.json").read_text())
    from_file = json.loads((runs / "from-file.json").read_text())
    assert from_platform["dataset"]["name"] == "golden" and from_platform["dataset"]["version"] == 1
    assert from_platform["summary"] == from_file["summary"]
    assert len(from_platform["items"]) == len(items) == 40

    capsys.readouterr()
    _use_platform(monkeypatch, tmp_path, live_api.base_url, other)
    assert main([*run, "--platform-dataset", "golden", "--run-id", "stranger"]) == 2
    assert "--platform-dataset 'golden'" in capsys.readouterr().err
    for name in ("HALOSCOPE_HOST", "HALOSCOPE_PUBLIC_KEY", "HALOSCOPE_SECRET_KEY"):
        monkeypatch.delenv(name)
    assert main([*run, "--platform-dataset", "golden", "--run-id", "offline"]) == 2
    assert "needs HALOSCOPE_HOST" in capsys.readouterr().err
