"""Judge-human agreement and recalibration over the real API and chDB: a known-answer case
(accuracy 0.8, kappa 0.6 on 10 spans) with majority votes, ties, re-sent and deleted labels;
categorical and numeric labels; recalibration of an overconfident judge (held-back Brier
down), versions, restore and switch-off; refusals; and isolation between projects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from haloscope.platform.feedback.recalibration import MIN_LABELS_PER_CLASS

from tests.feedback.seeding import (
    EVALUATOR,
    LABEL,
    VERSION,
    Target,
    judge,
    label,
    labelled,
    overconfident_pairs,
)
from tests.support.api_fixtures import LiveApi, ProjectKeys

AGREEMENT = f"/api/v1/evaluators/{EVALUATOR}/agreement"
CALIBRATIONS = f"/api/v1/evaluators/{EVALUATOR}/calibrations"


@pytest.fixture
def keys(live_api: LiveApi) -> ProjectKeys:
    return live_api.new_project()


@pytest.fixture
def client(live_api: LiveApi, keys: ProjectKeys) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as http:
        yield http


def _agreement(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get(AGREEMENT, params={"version": VERSION, "label_name": LABEL, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_known_answer_accuracy_kappa_confusion_and_disagreements(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    store, project = live_api.store, keys.project_id
    # The judge flags the first five of ten spans; people flag spans 0-3 and 5: they agree on
    # 8 of 10 (tp 4, fp 1, fn 1, tn 4), each positive on half: kappa = (0.8 - 0.5) / 0.5.
    targets = [Target() for _ in range(10)]
    for i, target in enumerate(targets):
        judge(store, project, target, 0.9 if i < 5 else 0.1)
    for i in (1, 2, 3, 5, 6, 7, 8, 9):
        label(client, targets[i], i in (1, 2, 3, 5))
    # span 0: ann first said no, then (a new score, not a replacement) yes; her newest counts
    label(client, targets[0], False, key="first")
    label(client, targets[0], True, key="second")
    # span 4: three reviewers, majority no (a disagreement with the judge)
    for author, value in (("ann", False), ("bob", False), ("cat", True)):
        label(client, targets[4], value, author=author)
    # left out: a tie, a deleted label, a label on the trace only, an unlabelled judge score,
    # another evaluator version's score, another label name
    tie = Target()
    judge(store, project, tie, 0.8)
    label(client, tie, True, author="ann")
    label(client, tie, False, author="bob")
    deleted = Target()
    judge(store, project, deleted, 0.8)
    gone = label(client, deleted, False)
    assert client.delete(f"/api/v1/scores/{gone}").status_code == 200
    trace_only = Target()
    judge(store, project, trace_only, 0.8)
    label(client, trace_only, False, span=False)
    judge(store, project, Target(), 0.8)
    judge(store, project, targets[6], 0.99, version="1")
    label(client, targets[6], True, name="other-label")

    report = _agreement(client)
    assert (report["evaluator"], report["version"], report["label_name"]) == (
        EVALUATOR,
        VERSION,
        LABEL,
    )
    assert (report["n"], report["ties"], report["truncated"]) == (10, 1, False)
    assert report["accuracy"]["value"] == pytest.approx(0.8)
    assert report["kappa"]["value"] == pytest.approx(0.6)
    for figure in ("accuracy", "kappa"):
        low, high = report[figure]["low"], report[figure]["high"]
        assert low <= report[figure]["value"] <= high and low < high
    assert report["confusion"] == {
        "judge_positive": {"human_positive": 4, "human_negative": 1},
        "judge_negative": {"human_positive": 1, "human_negative": 4},
    }
    assert report["classes"] == {"negative": "faithful", "positive": "hallucinated"}
    assert report["bootstrap"] == {"samples": 1000, "seed": 0} and report["confidence"] == 0.95
    assert report == _agreement(client), "the bootstrap is seeded"
    assert report["disagreements_total"] == 2
    by_span = {d["span_id"]: d for d in report["disagreements"]}
    assert set(by_span) == {targets[4].span_id, targets[5].span_id}
    four = by_span[targets[4].span_id]
    assert four["trace_id"] == targets[4].trace_id
    assert (four["judge_value"], four["judge_label"], four["human_label"]) == (
        0.9,
        "hallucinated",
        "faithful",
    )
    assert four["votes"] == {"positive": 1, "negative": 2}
    assert four["authors"] == ["ann", "bob", "cat"]
    assert by_span[targets[5].span_id]["human_label"] == "hallucinated"

    first = _agreement(client, end=str(targets[0].timestamp + 1))
    assert first["n"] == 1 and first["accuracy"]["value"] == 1.0
    later = _agreement(client, start="2999-01-01T00:00:00Z")
    assert later["n"] == 0 and later["accuracy"]["value"] is None


def test_categorical_and_numeric_labels(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    store, project = live_api.store, keys.project_id
    targets = [Target() for _ in range(4)]
    for target, value in zip(targets, (0.9, 0.9, 0.1, 0.1), strict=True):
        judge(store, project, target, value)
    for target, verdict, degree in zip(
        targets, ("bad", "good", "good", "bad"), (0.7, 0.5, 0.2, 0.49), strict=True
    ):
        label(client, target, verdict, name="verdict")
        label(client, target, degree, name="degree")

    refused = client.get(AGREEMENT, params={"version": VERSION, "label_name": "verdict"})
    assert refused.status_code == 400
    assert "positive=" in refused.json()["error"] and "categorical" in refused.json()["error"]
    verdict = _agreement(client, label_name="verdict", positive="bad")
    assert verdict["n"] == 4 and verdict["accuracy"]["value"] == pytest.approx(0.5)
    assert verdict["positive"] == "bad"
    # numeric: 0.5 and above is positive, so 0.7 and 0.5 agree with the judge's 0.9s
    degree = _agreement(client, label_name="degree")
    assert degree["accuracy"]["value"] == 1.0 and degree["kappa"]["value"] == 1.0


def test_recalibration_of_an_overconfident_judge_versions_restore_and_switch_off(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    labelled(live_api.store, client, keys.project_id, overconfident_pairs(60))
    created = client.post(CALIBRATIONS, json={"label_name": LABEL, "version": VERSION})
    assert created.status_code == 201, created.text
    first = created.json()
    assert (first["version"], first["active"], first["n_labels"]) == (1, True, 60)
    assert first["created_by"] == keys.public_key and first["label_name"] == LABEL
    metrics, params = first["metrics"], first["params"]
    assert (metrics["fitted_on"], metrics["held_back"], metrics["holdout"]) == (42, 18, 0.3)
    assert (metrics["positives"], metrics["negatives"]) == (30, 30)
    assert metrics["before"]["n"] == metrics["after"]["n"] == 18
    assert metrics["after"]["brier"] < metrics["before"]["brier"]
    assert metrics["after"]["log_loss"] < metrics["before"]["log_loss"]
    assert params["labels"] == ["faithful", "hallucinated"]
    assert 0 < params["a"] < 1, "an overconfident judge's logits are shrunk"

    second = client.post(
        CALIBRATIONS, json={"label_name": LABEL, "version": VERSION, "seed": 7, "holdout": 0.5}
    )
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["metrics"]["held_back"] == 30

    def listing() -> dict[str, Any]:
        response = client.get(CALIBRATIONS, params={"version": VERSION})
        assert response.status_code == 200, response.text
        return response.json()

    assert listing()["active"] == 2
    assert [(c["version"], c["active"]) for c in listing()["data"]] == [(2, True), (1, False)]
    restored = client.post(f"{CALIBRATIONS}/1/activate", params={"version": VERSION})
    assert restored.status_code == 200 and restored.json()["active"] is True
    assert [(c["version"], c["active"]) for c in listing()["data"]] == [(2, False), (1, True)]
    off = client.delete(f"{CALIBRATIONS}/active", params={"version": VERSION})
    assert off.status_code == 200 and off.json()["active"] is None
    assert listing()["active"] is None and len(listing()["data"]) == 2
    again = client.delete(f"{CALIBRATIONS}/active", params={"version": VERSION})
    assert again.status_code == 404 and "no project calibration" in again.json()["error"]
    missing = client.post(f"{CALIBRATIONS}/3/activate", params={"version": VERSION})
    assert missing.status_code == 404 and "version 3" in missing.json()["error"]
    # another evaluator version has calibrations of its own
    assert client.get(CALIBRATIONS, params={"version": "1"}).json()["data"] == []


def test_too_few_labels_or_an_evaluator_without_two_classes_is_refused(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    few = MIN_LABELS_PER_CLASS - 1
    labelled(live_api.store, client, keys.project_id, [(0.9, True)] * 15 + [(0.1, False)] * few)
    refused = client.post(CALIBRATIONS, json={"label_name": LABEL, "version": VERSION})
    assert refused.status_code == 422
    reason = refused.json()["error"]
    assert f"15 hallucinated and {few} faithful" in reason
    assert f"at least {MIN_LABELS_PER_CLASS} of each class" in reason
    assert client.get(CALIBRATIONS, params={"version": VERSION}).json()["data"] == []
    for body, expected in (
        ({"holdout": 0.9}, "holdout must be between"),
        ({"label_name": "nobody-labelled-this"}, "0 hallucinated and 0 faithful"),
    ):
        answer = client.post(CALIBRATIONS, json={"label_name": LABEL, "version": VERSION, **body})
        assert answer.status_code == 422 and expected in answer.json()["error"], answer.text
    no_classes = client.post(
        "/api/v1/evaluators/context_precision/calibrations", json={"label_name": LABEL}
    )
    assert no_classes.status_code == 422
    assert "does not decide between two" in no_classes.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status", "reason"),
    [
        ("GET", AGREEMENT, {"label_name": LABEL, "version": "9"}, None, 404, "no version '9'"),
        ("GET", "/api/v1/evaluators/nope/agreement", {"label_name": LABEL}, None, 404, "unknown"),
        ("GET", AGREEMENT, {}, None, 400, "label_name"),
        ("GET", AGREEMENT, {"label_name": ""}, None, 400, "label_name"),
        ("GET", AGREEMENT, {"label_name": LABEL, "start": "10", "end": "5"}, None, 400, "after"),
        ("GET", AGREEMENT, {"label_name": LABEL, "end": "yesterday"}, None, 400, "end="),
        ("POST", CALIBRATIONS, None, {"label_name": LABEL, "x": 1}, 400, "x"),
        ("POST", CALIBRATIONS, None, {}, 400, "label_name"),
        ("POST", CALIBRATIONS, None, {"label_name": LABEL, "seed": -1}, 400, "seed"),
        ("POST", f"{CALIBRATIONS}/first/activate", None, None, 400, "calibration"),
        ("POST", f"{CALIBRATIONS}/{2**70}/activate", None, None, 400, "calibration"),
        ("POST", f"{CALIBRATIONS}/0/activate", None, None, 400, "calibration"),
    ],
)
def test_requests_are_validated_with_a_reason(
    client: httpx.Client,
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: dict[str, Any] | None,
    status: int,
    reason: str,
) -> None:
    response = client.request(method, path, params=params, json=body)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]


def test_another_project_sees_and_changes_nothing(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    labelled(live_api.store, client, keys.project_id, overconfident_pairs(40))
    assert client.post(CALIBRATIONS, json={"label_name": LABEL}).status_code == 201
    mine = _agreement(client)
    assert mine["n"] == 40

    other = live_api.new_project()
    with httpx.Client(base_url=live_api.base_url, auth=other.basic_auth, timeout=60) as theirs:
        seen = theirs.get(AGREEMENT, params={"label_name": LABEL}).json()
        assert seen["n"] == 0 and seen["disagreements"] == []
        assert theirs.get(CALIBRATIONS).json() == {
            "evaluator": EVALUATOR,
            "version": VERSION,
            "active": None,
            "data": [],
        }
        assert theirs.post(f"{CALIBRATIONS}/1/activate").status_code == 404
        assert theirs.delete(f"{CALIBRATIONS}/active").status_code == 404
        refused = theirs.post(CALIBRATIONS, json={"label_name": LABEL})
        assert refused.status_code == 422 and "0 hallucinated" in refused.json()["error"]
    listing = client.get(CALIBRATIONS).json()
    assert listing["active"] == 1 and len(listing["data"]) == 1
    assert _agreement(client) == mine
