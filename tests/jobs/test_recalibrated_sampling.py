"""Sampling runs apply the project's active calibration: real runs (planned and judged on the
embedded chDB store) of a stand-in judge that states its probability, before and after a
recalibration from human labels, after restoring an earlier calibration version and after
switching calibration off. Each stored score is the one the calibration predicts, with the
evaluator's own score kept in its reason and evidence; recalibration fits on that own score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson
import pytest
from haloscope.evaluators import Calibration, EvalInput, Evaluator, Evidence, Outcome, register
from haloscope.platform.config import Settings
from haloscope.platform.feedback import calibrations
from haloscope.platform.feedback.labels import LabelQuery, evaluator_ref, labelled_items
from haloscope.platform.feedback.recalibration import recalibrate
from haloscope.platform.jobs import rules, sampling
from haloscope.platform.jobs.runtime import JobRuntime
from haloscope.platform.scores.submission import parse_submission
from haloscope.platform.store import TraceStore
from haloscope.platform.store.scores import ScoreStore
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.conftest import rag_trace

PASSAGE = "The Eiffel Tower is in Paris."
LABEL = "reviewed_hallucination"
JUDGE = "test_stated_probability"


@register
class StatedProbability(Evaluator):
    """A stand-in judge: the answer states its probability of hallucination (``p=0.95``)."""

    name = JUDGE
    version = "1"
    description = "Reads the probability stated in the answer (a deterministic stand-in)."
    binary_labels = ("faithful", "hallucinated")

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        outcomes = []
        for item in items:
            p = float(item.output.rsplit("p=", 1)[1])
            label = "hallucinated" if p >= 0.5 else "faithful"
            evidence = (Evidence("claim", item.output, score=p),)
            outcomes.append(Outcome(p, label, f"stated {p}", evidence))
        return outcomes


@pytest.fixture
def runtime(
    chdb_settings: Settings, chdb_store: TraceStore, sessions: sessionmaker[Session]
) -> JobRuntime:
    return JobRuntime(chdb_settings, chdb_store, sessions)


def _spans(store: TraceStore, project: str, now_us: int, stated: list[float]) -> list[dict]:
    """Store one RAG trace per stated probability; their LLM spans."""
    rows, llm = [], []
    for i, p in enumerate(stated):
        trace = rag_trace(project, now_us - (i + 1) * 60_000_000, f"Answer. p={p}", PASSAGE)
        rows += trace
        llm.append(trace[1])
    store.insert_spans(rows)
    return llm


def _run_scores(runtime: JobRuntime, project: str, rule_id: str) -> dict[str, dict]:
    """Run the rule once (plan, then every judge batch); the run's scores by span id."""
    with runtime.sessionmaker.begin() as db:
        rule = rules.find_rule(db, project, rule_id)
        assert rule is not None
        run_id = sampling.start_run(db, rule, "test").id
    for batch_id in sampling.plan_run(runtime, run_id):
        sampling.judge_batch(runtime, batch_id)
    rows = runtime.store.driver.query(
        "SELECT span_id, value, label, reason, evidence FROM scores FINAL "
        "WHERE project_id = {p:String} AND sampling_run_id = {r:String}",
        {"p": project, "r": run_id},
    )
    return {row["span_id"]: row for row in rows}


def _label(store: TraceStore, project: str, span: dict, positive: bool) -> None:
    score = parse_submission(
        {
            "trace_id": span["trace_id"],
            "span_id": span["span_id"],
            "name": LABEL,
            "value": positive,
            "source": "annotation",
            "author": "reviewer",
        }
    )
    ScoreStore(store.driver).insert([score.row(project, span["start_time"])])


def _assert_calibrated(
    scores: dict[str, dict], spans: list[dict], stated: list[float], version: int, params: dict
) -> None:
    calibration = Calibration(params["a"], params["b"], params["threshold"])
    expected = calibration.probability(np.array(stated))
    for span, raw, p in zip(spans, stated, expected, strict=True):
        row = scores[span["span_id"]]
        own_label = "hallucinated" if raw >= 0.5 else "faithful"
        assert row["value"] == pytest.approx(p, abs=1e-12)
        assert row["label"] == ("hallucinated" if p >= params["threshold"] else "faithful")
        note = f"[project calibration v{version}: uncalibrated {raw:.4f} {own_label}]"
        assert row["reason"] == f"stated {raw} {note}"
        evidence = orjson.loads(row["evidence"])
        assert evidence[0]["kind"] == "claim"
        assert evidence[-1] == {
            "kind": "calibration",
            "text": f"project calibration v{version}",
            "score": raw,
            "label": own_label,
            "reference": None,
            "start": None,
            "end": None,
        }


def test_sampling_runs_store_the_active_calibrations_scores_and_go_back_after_restore(
    runtime: JobRuntime, chdb_store: TraceStore, project: str, now_us: int
) -> None:
    with runtime.sessionmaker.begin() as db:
        spec = rules.RuleSpec(
            name="judge llm spans",
            filters={"kinds": ["llm"]},
            sample_rate=1.0,
            evaluators=({"name": JUDGE, "version": None, "config": {}},),
            batch_size=25,
        )
        rule_id = rules.create_rule(db, project, spec).id

    # 1. An overconfident judge (0.95 / 0.05, right on 7 of 10), no project calibration yet.
    truth = [i % 2 == 0 for i in range(40)]
    stated = [
        0.95 if (t if i % 10 not in (1, 4, 7) else not t) else 0.05 for i, t in enumerate(truth)
    ]
    first_spans = _spans(chdb_store, project, now_us, stated)
    first = _run_scores(runtime, project, rule_id)
    assert len(first) == 40
    for span, p in zip(first_spans, stated, strict=True):
        assert first[span["span_id"]]["value"] == p
        assert first[span["span_id"]]["reason"] == f"stated {p}"
    for span, positive in zip(first_spans, truth, strict=True):
        _label(chdb_store, project, span, positive)

    # 2. Recalibrate: the next run's scores are the fitted map of the stated probabilities.
    query = LabelQuery(evaluator_ref(JUDGE, "1"), LABEL)
    v1 = recalibrate(chdb_store.driver, runtime.sessionmaker, project, query, created_by="t")
    assert v1["version"] == 1 and v1["metrics"]["after"]["brier"] < v1["metrics"]["before"]["brier"]
    probe = [0.95, 0.05, 0.6, 0.3]
    second_spans = _spans(chdb_store, project, now_us - 3_600_000_000, probe)
    second = _run_scores(runtime, project, rule_id)
    assert set(second) == {s["span_id"] for s in second_spans}
    _assert_calibrated(second, second_spans, probe, 1, v1["params"])
    # The flip side of shrinking an overconfident judge: 0.95 now reads as about 0.7.
    assert 0.6 < second[second_spans[0]["span_id"]]["value"] < 0.8

    # Labels on recalibrated scores: the next fit reads the evaluator's own score back.
    for span, positive in zip(second_spans, (True, False, True, False), strict=True):
        _label(chdb_store, project, span, positive)
    items = {i.span_id: i for i in labelled_items(chdb_store.driver, project, query).items}
    recalibrated = items[second_spans[2]["span_id"]]
    assert (recalibrated.raw_value, recalibrated.raw_label) == (0.6, "hallucinated")
    assert recalibrated.recalibrated and recalibrated.value != 0.6
    v2 = recalibrate(chdb_store.driver, runtime.sessionmaker, project, query, holdout=0.5, seed=3)
    assert v2["version"] == 2 and v2["n_labels"] == 44 and v2["params"] != v1["params"]
    third_spans = _spans(chdb_store, project, now_us - 2 * 3_600_000_000, probe)
    _assert_calibrated(_run_scores(runtime, project, rule_id), third_spans, probe, 2, v2["params"])

    # 3. Restore version 1: later runs apply it again.
    with runtime.sessionmaker.begin() as db:
        calibrations.activate_calibration(db, project, JUDGE, "1", 1)
    fourth_spans = _spans(chdb_store, project, now_us - 3 * 3_600_000_000, probe)
    _assert_calibrated(_run_scores(runtime, project, rule_id), fourth_spans, probe, 1, v1["params"])

    # 4. Switch the project calibration off: the evaluator's own scores again.
    with runtime.sessionmaker.begin() as db:
        calibrations.deactivate_calibrations(db, project, JUDGE, "1")
    fifth_spans = _spans(chdb_store, project, now_us - 4 * 3_600_000_000, probe)
    fifth = _run_scores(runtime, project, rule_id)
    for span, p in zip(fifth_spans, probe, strict=True):
        row = fifth[span["span_id"]]
        assert (row["value"], row["reason"]) == (p, f"stated {p}")
        assert "calibration" not in row["evidence"]
