"""Custom judges end to end on the live app and the real default judge (SmolLM2-135M): one
judge saved from a YAML file (``haloscope evaluators create``) and one from the dashboard form
(after a preview on chosen traces), both named in a sampling rule and in ``haloscope eval
run`` (from the file offline, and the stored version through the platform). Every path gives
each span / item the same score for the same input and output (within 1e-5: a warm prefix
cache moves float32 scores in the last digits)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
import yaml
from haloscope.evaluators import Resources
from haloscope.evaluators.custom_judge import builtin_templates
from haloscope.inference import load_engine
from haloscope.platform.cli.main import main
from haloscope.platform.jobs import rules, sampling
from haloscope.platform.jobs.runtime import JobRuntime
from haloscope.platform.jobs.selection import SpanKey, read_spans_with_context
from haloscope.platform.jobs.span_inputs import eval_input
from sqlalchemy.orm import Session, sessionmaker

from tests.web.conftest import LiveDashboard, csrf_token_in
from tests.web.seed import create_member, rag_trace, send_traces

QUESTIONS = (
    "How long do I have to return an item for a refund?",
    "What is the capital of France?",
    "Can you recommend a good pizza topping?",
)
SCORE = re.compile(r'<tr data-trace="([0-9a-f]+)">.*?data-score>([0-9.]+)<', re.S)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_yaml_and_form_judges_score_sampling_and_eval_runs_alike(
    dashboard: LiveDashboard,
    api_metadata: tuple[str, sessionmaker[Session]],
    client_for,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["judges"])
    t0 = int(time.time() * 1_000_000) - 600_000_000
    traces = [rag_trace(t0 + i * 1_000_000, q) for i, q in enumerate(QUESTIONS)]
    send_traces(dashboard.base_url, project, traces)
    dashboard.flush()

    # 1. From YAML through the CLI; the same file again is the same version.
    monkeypatch.setenv("HALOSCOPE_DATABASE_URL", api_metadata[0])
    spec = {**builtin_templates()["answer_relevance"], "name": "relevance"}
    judge_file = tmp_path / "relevance.yaml"
    judge_file.write_text(yaml.safe_dump(spec))
    status, out = _cli(
        capsys, "evaluators", "create", "--file", str(judge_file), "--project", project.name,
        "--json",
    )  # fmt: skip
    assert status == 0 and json.loads(out)["version"] == 1 and json.loads(out)["created"]
    status, out = _cli(capsys, "evaluators", "create", "--file", str(judge_file),
                       "--project", project.name)  # fmt: skip
    assert status == 0 and "custom:relevance@1 unchanged" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**spec, "template": "{{ question }}"}))
    assert main(["evaluators", "create", "--file", str(bad), "--project", project.name]) != 0
    status, out = _cli(capsys, "evaluators", "list", "--project", project.name)
    assert "custom:relevance@1  [custom judge]" in out

    # 2. From the dashboard form: the template prefills it, a preview runs it on two traces.
    client = client_for(email)
    page = client.get(f"/projects/{project.project_id}/judges?template=answer_relevance")
    assert page.status_code == 200 and "custom:relevance" in page.text
    form = {
        "csrf_token": csrf_token_in(page.text),
        "name": "relevance_form",
        "description": spec["description"],
        "system": spec["system"],
        "template": spec["template"],
        "mode": "choice",
        "choices": "Yes, No",
        "positive": "Yes",
        "labels": "irrelevant, relevant",
        "threshold": "0.5",
    }
    trace_ids = [trace[0]["trace_id"] for trace in traces]
    preview = client.post(
        f"/projects/{project.project_id}/judges",
        data={**form, "action": "preview", "trace_ids": " ".join(trace_ids[:2])},
    )
    assert preview.status_code == 200, preview.text
    previewed = {t: float(s) for t, s in SCORE.findall(preview.text)}
    assert sorted(previewed) == sorted(trace_ids[:2])
    refused = client.post(
        f"/projects/{project.project_id}/judges",
        data={**form, "action": "save", "template": "{{ answer }}"},
    )
    assert refused.status_code == 400 and "unknown field(s) [&#39;answer&#39;]" in refused.text
    no_csrf = client.post(
        f"/projects/{project.project_id}/judges", data={**form, "csrf_token": "x"}
    )
    assert no_csrf.status_code == 403
    saved = client.post(f"/projects/{project.project_id}/judges", data={**form, "action": "save"})
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("saved=custom:relevance_form@1")

    # The API sees both; the form's judge has the YAML judge's wording under its own name.
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=30) as api:
        listed = api.get("/api/v1/judges").json()
        assert [j["name"] for j in listed["judges"]] == ["relevance", "relevance_form"]
        stored = {j["name"]: j["spec"] for j in listed["judges"]}
        assert stored["relevance"] == {**stored["relevance_form"], "name": "relevance"}
        assert len(listed["templates"]) == 5

    # 3. A sampling run with both judges.
    engine = load_engine("torch")
    runtime = JobRuntime(
        dashboard.app.state.haloscope.settings,
        dashboard.store,
        dashboard.sessionmaker,
        Resources(engine=engine),
    )
    with dashboard.sessionmaker.begin() as db:
        rule = rules.create_rule(
            db,
            project.project_id,
            rules.RuleSpec(
                name="relevance",
                filters={"kinds": ["llm"]},
                sample_rate=1.0,
                window_hours=1,
                evaluators=(
                    {"name": "custom:relevance", "version": None, "config": {}},
                    {"name": "custom:relevance_form", "version": "1", "config": {}},
                ),
            ),
        )
        run_id = sampling.start_run(db, rule, "test").id
    for batch_id in sampling.plan_run(runtime, run_id):
        sampling.judge_batch(runtime, batch_id)
    rows = dashboard.store.driver.query(
        "SELECT trace_id, span_id, name, evaluator_version, value, label FROM scores FINAL "
        "WHERE project_id = {p:String} AND sampling_run_id = {r:String}",
        {"p": project.project_id, "r": run_id},
    )
    sampled = {(r["name"], r["trace_id"]): r for r in rows}
    assert len(sampled) == 2 * len(traces)
    assert {(r["name"], r["evaluator_version"]) for r in rows} == {
        ("custom:relevance", "1"),
        ("custom:relevance_form", "1"),
    }

    # 4. `haloscope eval run` on the spans' own inputs and outputs: the YAML file offline and
    # the stored judge through the platform.
    llm = [next(s for s in trace if s["kind"] == "llm") for trace in traces]
    keys = [SpanKey(s["trace_id"], s["span_id"], s["start_time"]) for s in llm]
    spans, documents = read_spans_with_context(dashboard.store, project.project_id, keys)
    inputs = [eval_input(spans[k.span_id], documents.get(k.trace_id, ())) for k in keys]
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps({"id": k.trace_id, "input": x.input}) + "\n"
            for k, x in zip(keys, inputs, strict=True)
        )
    )
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(
        "".join(
            json.dumps({"id": k.trace_id, "output": x.output}) + "\n"
            for k, x in zip(keys, inputs, strict=True)
        )
    )
    config = tmp_path / "eval.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "metrics": [
                    {"name": "from_file", "evaluator": "custom:relevance",
                     "judge": judge_file.name},
                    {"name": "stored", "evaluator": "custom:relevance_form", "version": 1},
                ]
            }
        )
    )  # fmt: skip
    monkeypatch.setenv("HALOSCOPE_HOST", dashboard.base_url)
    monkeypatch.setenv("HALOSCOPE_PUBLIC_KEY", project.public_key)
    monkeypatch.setenv("HALOSCOPE_SECRET_KEY", project.secret_key)
    runs = tmp_path / "runs"
    status, out = _cli(
        capsys, "eval", "run", "--config", str(config), "--dataset-file", str(items),
        "--target-outputs", str(outputs), "--no-record", "--no-progress", "--no-cache",
        "--runs-dir", str(runs),
    )  # fmt: skip
    assert status == 0, out
    (run_file,) = (runs / "runs").glob("*.json")
    run = json.loads(run_file.read_text())
    by_item = {item["id"]: item for item in run["items"]}
    for key in keys:
        item = by_item[key.trace_id]
        reference = sampled[("custom:relevance", key.trace_id)]
        for score in (
            item["scores"]["from_file"],
            item["scores"]["stored"],
            sampled[("custom:relevance_form", key.trace_id)]["value"],
        ):
            assert score == pytest.approx(reference["value"], abs=1e-5)
        assert item["labels"]["from_file"] == reference["label"]
        if key.trace_id in previewed:
            assert previewed[key.trace_id] == pytest.approx(reference["value"], abs=1e-4)

    # 5. Reviewers' labels on the judged spans: the judge's agreement card, in its own classes.
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=30) as api:
        for i, span in enumerate(llm):
            posted = api.post(
                "/api/v1/scores",
                json={
                    "trace_id": span["trace_id"],
                    "span_id": span["span_id"],
                    "name": "reviewed_relevance",
                    "value": i != 2,  # the pizza answer is not relevant
                    "author": "reviewer",
                    "source": "annotation",
                    "timestamp": span["start_time"],
                },
            )
            assert posted.status_code == 200, posted.text
        card = api.get(
            "/api/v1/evaluators/custom:relevance/agreement",
            params={"label_name": "reviewed_relevance", "version": "1"},
        )
        assert card.status_code == 200, card.text
        report = card.json()
        assert report["n"] == len(llm)
        assert report["classes"] == {"negative": "irrelevant", "positive": "relevant"}
        missing = api.get(
            "/api/v1/evaluators/custom:nope/agreement", params={"label_name": "reviewed_relevance"}
        )
        assert missing.status_code == 404
    page = client.get(f"/projects/{project.project_id}/evaluations/agreement")
    assert "custom:relevance_form@1" in page.text
