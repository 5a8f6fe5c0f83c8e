"""The embedded path of ``haloscope up``: worker and beat in threads of this process on the
SQLite broker over the process's chDB store, driven through the ``haloscope`` CLI (sampling
rules and runs, drift reports and the pinned baseline, alert rules and history)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from haloscope.evaluators import EvalInput, Evaluator, Outcome, Resources, register
from haloscope.evaluators.embeddings import Embedder
from haloscope.platform.cli.main import main
from haloscope.platform.jobs.alerts import evaluate_alerts
from haloscope.platform.jobs.embedded import EmbeddedJobs
from haloscope.platform.jobs.runtime import get_runtime
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.conftest import HOUR_US, rag_trace


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


@register
class BrokenPlugin(Evaluator):
    """A custom evaluator with a bug: every batch raises."""

    name = "test_broken_plugin"
    version = "1"
    description = "Raises on every batch (a broken plugin)."

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        raise RuntimeError("plugin bug")


def test_a_batch_that_raises_fails_its_spans_and_the_run_still_completes(
    embedded: EmbeddedJobs,
    chdb_store: TraceStore,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    now_us: int,
) -> None:
    assert main(["project", "create", "broken-plugin", "--json"]) == 0
    project_id = json.loads(capsys.readouterr().out)["id"]
    rows = []
    for position in range(3):
        rows += rag_trace(project_id, now_us - (position + 1) * HOUR_US, "Paris.", "Paris.")
    chdb_store.insert_spans(rows)
    create = ["rules", "create", "--project", "broken-plugin", "--name", "broken", "--rate", "1"]
    plugin = ["--kind", "llm", "--evaluator", "test_broken_plugin", "--batch-size", "2"]
    assert main([*create, *plugin]) == 0
    capsys.readouterr()
    wait = ["--rule", "broken", "--wait", "60", "--json"]
    status, out = _cli(capsys, "sample", "run", "--project", "broken-plugin", *wait)
    run = json.loads(out)
    assert status == 0
    assert (run["status"], run["selected"], run["scored"], run["failed"]) == ("completed", 3, 0, 3)
    assert "RuntimeError: plugin bug" in run["error"]


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


def test_cli_drift_pins_runs_shows_and_unpins(
    embedded: EmbeddedJobs,
    chdb_store: TraceStore,
    embedder: Embedder,
    capsys: pytest.CaptureFixture[str],
    now_us: int,
) -> None:
    get_runtime().resources = Resources(embedder=embedder)
    status, out = _cli(capsys, "project", "create", "drift-cli", "--json")
    project_id = json.loads(out)["id"]
    for hours_ago in (2, 30, 10 * 24):
        chdb_store.insert_spans(rag_trace(project_id, now_us - hours_ago * HOUR_US, "Paris.", "P"))
    assert main(["drift", "pin", "--project", "drift-cli", "--start", "yesterday", "--end", "x"])
    assert "use e.g. 2025-11-20T00:00:00Z" in capsys.readouterr().err
    status = main(
        ["drift", "pin", "--project", "drift-cli"]
        + ["--start", "2025-01-02T00:00:00Z", "--end", "2025-01-01T00:00:00Z"]
    )
    assert status == 2 and "must start before it ends" in capsys.readouterr().err

    start = datetime.fromtimestamp(now_us / 1e6 - 11 * 86_400, UTC).replace(microsecond=0)
    end = start + timedelta(days=2)
    status, out = _cli(
        capsys, "drift", "pin", "--project", "drift-cli", "--start", start.isoformat(),
        "--end", end.isoformat(), "--note", "launch", "--json",
    )  # fmt: skip
    assert status == 0 and json.loads(out)["start"] == start.isoformat()
    status, out = _cli(capsys, "drift", "run", "--project", "drift-cli", "--wait", "90", "--json")
    report = json.loads(out)
    assert status == 0 and report["baseline"] == {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "pinned": True,
    }
    assert report["features"]["latency_ms"]["n_reference"] == 2  # the trace 10 days ago
    assert report["features"]["input_embedding"]["status"] == "insufficient_data"
    status, out = _cli(capsys, "drift", "show", "--project", "drift-cli", "--json")
    shown = json.loads(out)
    assert (shown["baseline"]["note"], shown["report"]["id"]) == ("launch", report["id"])

    assert _cli(capsys, "drift", "unpin", "--project", "drift-cli")[0] == 0
    assert main(["drift", "unpin", "--project", "drift-cli"]) == 2
    assert "no pinned drift baseline" in capsys.readouterr().err
    status, out = _cli(capsys, "drift", "show", "--project", "drift-cli")
    assert out.startswith("baseline: previous window\ndrift report " + report["id"])
    assert "input_embedding" in out and "insufficient_data" in out


def test_cli_alert_rules_and_history(
    embedded: EmbeddedJobs,
    chdb_store: TraceStore,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    now_us: int,
) -> None:
    status, out = _cli(capsys, "project", "create", "alerts-cli", "--json")
    project_id = json.loads(out)["id"]
    base = ["alerts", "create", "--project", "alerts-cli"]
    assert main([*base, "--name", "x", "--metric", "vibes"]) == 2
    assert "unknown metric 'vibes'; use one of" in capsys.readouterr().err
    assert main([*base, "--name", "x", "--metric", "error_rate", "--no-log"]) == 2
    assert "add --webhook URL" in capsys.readouterr().err
    status, out = _cli(
        capsys, *base, "--name", "slow", "--metric", "p95_latency_ms", "--threshold", "3",
        "--webhook", "http://127.0.0.1:9/hook", "--json",
    )  # fmt: skip
    slow = json.loads(out)
    assert (slow["threshold"], slow["relative"], [c["type"] for c in slow["channels"]]) == (
        3.0,
        True,
        ["webhook", "log"],
    )
    status, out = _cli(capsys, "alerts", "defaults", "--project", "alerts-cli", "--not-factual")
    assert status == 0 and out.count("added: ") == 3
    status, out = _cli(capsys, "alerts", "list", "--project", "alerts-cli", "--json")
    assert [r["name"] for r in json.loads(out)] == [
        "cost-per-request",
        "error-rate",
        "p95-latency",
        "slow",
    ]
    assert _cli(capsys, "alerts", "history", "--project", "alerts-cli")[1] == "no alerts fired\n"

    rows = rag_trace(project_id, now_us - HOUR_US, "Paris.", "P", status="error")
    chdb_store.insert_spans(rows)
    with sessions() as session:
        fired = evaluate_alerts(session, chdb_store, project_id, metrics=("error_rate",))
        session.commit()
        assert [e.metric for e in fired] == ["error_rate"]
    status, out = _cli(
        capsys, "alerts", "history", "--project", "alerts-cli", "--rule", "error-rate", "--json"
    )
    (event,) = json.loads(out)
    assert (event["metric"], event["value"], event["limit"]) == ("error_rate", 0.5, 0.01)
    status, out = _cli(capsys, "alerts", "history", "--project", "alerts-cli")
    assert "error-rate: error_rate = 0.5 exceeds 0.01" in out and "[log ok]" in out

    assert _cli(capsys, "alerts", "delete", "--project", "alerts-cli", "error-rate")[0] == 0
    assert _cli(capsys, "alerts", "history", "--project", "alerts-cli")[1] == "no alerts fired\n"
    assert main(["alerts", "delete", "--project", "alerts-cli", "error-rate"]) == 2
    assert "see `haloscope alerts list --project alerts-cli`" in capsys.readouterr().err
    assert main(["alerts", "list", "--project", "nope"]) == 2
    assert "haloscope project create" in capsys.readouterr().err
