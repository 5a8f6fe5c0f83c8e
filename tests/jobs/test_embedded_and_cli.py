"""The embedded path of ``haloscope up``: worker and beat in threads of this process on the
SQLite broker over the process's chDB store, driven through the ``haloscope`` CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from haloscope.platform.cli.main import main
from haloscope.platform.config import Settings
from haloscope.platform.jobs.embedded import EmbeddedJobs, start_embedded_jobs
from haloscope.platform.jobs.runtime import install_runtime
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.conftest import HOUR_US, rag_trace


@pytest.fixture
def embedded(
    chdb_settings: Settings,
    chdb_store: TraceStore,
    metadata_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EmbeddedJobs]:
    """Embedded jobs on a SQLite broker in a fresh data dir; the CLI sees the same config."""
    data_dir = tmp_path / "data"
    settings = chdb_settings.replace(data_dir=data_dir, database_url=metadata_url)
    monkeypatch.setenv("HALOSCOPE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HALOSCOPE_DATABASE_URL", metadata_url)
    monkeypatch.delenv("HALOSCOPE_BROKER_URL", raising=False)
    jobs = start_embedded_jobs(settings, chdb_store)
    yield jobs
    jobs.stop()
    install_runtime(None)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_cli_rule_and_run_on_the_embedded_worker(
    embedded: EmbeddedJobs,
    chdb_store: TraceStore,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    now_us: int,
) -> None:
    status, _ = _cli(capsys, "project", "create", "embedded-jobs")
    assert status == 0
    with sessions() as session:
        from haloscope.platform.auth.api_keys import get_project_by_name

        project_id = get_project_by_name(session, "embedded-jobs").id
    rows = []
    for position, answer in enumerate(["Paris.", "Rome.", "In Paris.", "Oslo."]):
        rows += rag_trace(
            project_id,
            now_us - (position + 1) * HOUR_US,
            answer,
            "Paris.",
            tags=["prod"] if position < 3 else [],
        )
    chdb_store.insert_spans(rows)

    status, out = _cli(
        capsys,
        "rules",
        "create",
        "--project",
        "embedded-jobs",
        "--name",
        "prod-paris",
        "--rate",
        "1",
        "--kind",
        "llm",
        "--tag",
        "prod",
        "--evaluator",
        "contains",
        "--evaluator-config",
        '{"contains": {"values": ["paris"]}}',
        "--batch-size",
        "2",
        "--json",
    )
    assert status == 0, out
    rule = json.loads(out)
    assert rule["filters"]["tags"] == ["prod"]
    assert rule["evaluators"] == [
        {"name": "contains", "version": None, "config": {"values": ["paris"]}}
    ]
    status, out = _cli(capsys, "rules", "list", "--project", "embedded-jobs", "--json")
    assert [r["name"] for r in json.loads(out)] == ["prod-paris"]

    status, out = _cli(
        capsys,
        "sample",
        "run",
        "--project",
        "embedded-jobs",
        "--rule",
        "prod-paris",
        "--wait",
        "60",
        "--json",
    )
    run = json.loads(out)
    assert status == 0
    assert (run["status"], run["selected"], run["scored"], run["progress"]) == (
        "completed",
        3,
        3,
        1.0,
    )
    values = chdb_store.driver.query(
        "SELECT value FROM scores FINAL WHERE project_id = {p:String} AND "
        "sampling_run_id = {r:String} ORDER BY value",
        {"p": project_id, "r": run["id"]},
    )
    assert [row["value"] for row in values] == [0.0, 1.0, 1.0]


def test_cli_refuses_bad_rules(embedded: EmbeddedJobs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["project", "create", "bad-rules"]) == 0
    status = main(["rules", "create", "--project", "bad-rules", "--name", "x", "--rate", "2"])
    assert status == 2
    assert "sample_rate must be in (0, 1]" in capsys.readouterr().err
    status = main(
        [
            "rules",
            "create",
            "--project",
            "bad-rules",
            "--name",
            "x",
            "--rate",
            "0.5",
            "--evaluator",
            "nope",
        ]
    )
    assert status == 2
    assert "evaluators[0]" in capsys.readouterr().err
