"""Evaluations > Agreement: the figures with their intervals, the confusion matrix and the
disagreeing spans linked to their traces; "Recalibrate from labels" (CSRF, owners and members
only) with before/after, restore and switch-off; refusals on the page; viewers and other
projects."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from haloscope.platform.auth.users import add_member, create_user
from haloscope.platform.feedback import calibrations

from tests.feedback.seeding import EVALUATOR, LABEL, VERSION, labelled, overconfident_pairs
from tests.web.conftest import LiveDashboard, csrf_token_in
from tests.web.seed import PASSWORD, SeededProject, create_member

SELECTION = {"evaluator": f"{EVALUATOR}@{VERSION}", "label_name": LABEL, "range": "7d"}


@pytest.fixture
def owner(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> tuple[httpx.Client, SeededProject, SeededProject]:
    """The owner of two projects; the first has 60 spans judged by an overconfident judge
    and labelled: agreement 42/60, tp 24, fp 12, fn 6, tn 18, kappa (0.7 - 0.5) / 0.5."""
    email, (project, other) = create_member(dashboard.sessionmaker, ["agreement", "other"])
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=60) as api:
        labelled(dashboard.store, api, project.project_id, overconfident_pairs(60))
        labelled(dashboard.store, api, project.project_id, [(0.9, True)] * 3, name="few")
    return client_for(email), project, other


def _page(client: httpx.Client, project: SeededProject, **params: str) -> httpx.Response:
    return client.get(
        f"/projects/{project.project_id}/evaluations/agreement", params={**SELECTION, **params}
    )


def _text(html: str, attribute: str) -> str:
    match = re.search(rf"{re.escape(attribute)}[^>]*>(.*?)</(?:dd|td)>", html, re.S)
    assert match, f"no {attribute}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _active(dashboard: LiveDashboard, project_id: str) -> list[tuple[int, bool]]:
    with dashboard.sessionmaker() as db:
        rows = calibrations.list_calibrations(db, project_id, EVALUATOR, VERSION)
        return [(row.version, row.active) for row in rows]


def test_the_agreement_figures_confusion_matrix_and_disagreements_are_shown(
    owner: tuple[httpx.Client, SeededProject, SeededProject],
) -> None:
    client, project, _ = owner
    listing = client.get(f"/projects/{project.project_id}/evaluations").text
    assert f'href="/projects/{project.project_id}/evaluations/agreement"' in listing

    empty = client.get(f"/projects/{project.project_id}/evaluations/agreement")
    assert empty.status_code == 200 and 'data-figure="n"' not in empty.text
    assert f'<option value="{EVALUATOR}@{VERSION}"' in empty.text
    assert f'<option value="{LABEL}">' in empty.text  # the project's score names

    page = _page(client, project)
    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    html = page.text
    assert _text(html, 'data-figure="n"') == "60"
    accuracy = _text(html, 'data-figure="accuracy"')
    kappa = _text(html, 'data-figure="kappa"')
    assert accuracy.startswith("0.700 (95% CI ") and kappa.startswith("0.400 (95% CI ")
    low, high = (float(x) for x in re.findall(r"\d\.\d{3}", accuracy)[1:])
    assert low < 0.7 < high
    cells = {c: _text(html, f'data-cell="{c}"') for c in ("tp", "fp", "fn", "tn")}
    assert cells == {"tp": "24", "fp": "12", "fn": "6", "tn": "18"}
    rows = re.findall(r'<tr data-disagreement="(\w+):(\w+)">(.*?)</tr>', html, re.S)
    assert len(rows) == 18
    for trace_id, span_id, row in rows:
        link = f'href="/projects/{project.project_id}/traces/{trace_id}?span={span_id}"'
        assert link in row and "ann" in row
    assert "<script" not in html.replace('<script src="/static/', "")


def test_recalibrate_from_labels_restore_and_switch_off(
    dashboard: LiveDashboard, owner: tuple[httpx.Client, SeededProject, SeededProject]
) -> None:
    client, project, _ = owner
    base = f"/projects/{project.project_id}/evaluations/agreement"
    page = _page(client, project).text
    assert "Recalibrate from labels" in page and "No project calibration" in page
    token = csrf_token_in(page)
    form = {**SELECTION, "holdout": "0.3"}

    assert client.post(f"{base}/recalibrate", data=form).status_code == 403
    forged = client.post(f"{base}/recalibrate", data={**form, "csrf_token": token + "x"})
    assert forged.status_code == 403 and _active(dashboard, project.project_id) == []

    done = client.post(f"{base}/recalibrate", data={**form, "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"].startswith(f"{base}?")
    assert _active(dashboard, project.project_id) == [(1, True)]
    shown = client.get(done.headers["location"]).text
    row = re.search(r'<tr data-calibration="1">(.*?)</tr>', shown, re.S)
    assert row and "active" in row.group(1) and "18 held back" in row.group(1)
    before = _text(row.group(1), 'data-metrics="before"')
    after = _text(row.group(1), 'data-metrics="after"')
    brier = [float(re.search(r"Brier (\d\.\d+)", t).group(1)) for t in (before, after)]
    assert brier[1] < brier[0]

    again = client.post(f"{base}/recalibrate", data={**form, "csrf_token": token})
    assert again.status_code == 303
    assert _active(dashboard, project.project_id) == [(2, True), (1, False)]
    versions = _page(client, project).text
    assert 'aria-label="Restore calibration v1"' in versions
    restore = client.post(
        f"{base}/calibrations/1/activate", data={**SELECTION, "csrf_token": token}
    )
    assert restore.status_code == 303
    assert _active(dashboard, project.project_id) == [(2, False), (1, True)]
    off = client.post(f"{base}/calibrations/deactivate", data={**SELECTION, "csrf_token": token})
    assert off.status_code == 303
    assert _active(dashboard, project.project_id) == [(2, False), (1, False)]
    missing = client.post(
        f"{base}/calibrations/9/activate", data={**SELECTION, "csrf_token": token}
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"label_name": "few"}, "too few labels to recalibrate"),
        ({"holdout": "most"}, "held-back share must be a number"),
        ({"holdout": "0.95"}, "holdout must be between"),
    ],
)
def test_a_refused_recalibration_shows_the_reason(
    dashboard: LiveDashboard,
    owner: tuple[httpx.Client, SeededProject, SeededProject],
    form: dict[str, str],
    reason: str,
) -> None:
    client, project, _ = owner
    token = csrf_token_in(_page(client, project).text)
    refused = client.post(
        f"/projects/{project.project_id}/evaluations/agreement/recalibrate",
        data={**SELECTION, **form, "csrf_token": token},
    )
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text and reason in refused.text
    assert _active(dashboard, project.project_id) == []


def test_bad_selections_answer_400_on_the_page(
    owner: tuple[httpx.Client, SeededProject, SeededProject],
) -> None:
    client, project, _ = owner
    for params, reason in (
        ({"evaluator": "hallucination.rag"}, "name@version"),
        ({"evaluator": "nope@1"}, "unknown evaluator"),
        ({"evaluator": f"{EVALUATOR}@9"}, "no version &#39;9&#39;"),
    ):
        response = _page(client, project, **params)
        assert response.status_code == 400 and reason in response.text, params
        assert response.headers["content-type"].startswith("text/html")
    assert _page(client, project, range="forever").status_code == 400


def test_viewers_see_figures_but_cannot_recalibrate_and_other_projects_see_nothing(
    dashboard: LiveDashboard,
    client_for: Callable[[str], httpx.Client],
    owner: tuple[httpx.Client, SeededProject, SeededProject],
) -> None:
    client, project, other = owner
    email = f"viewer-{uuid.uuid4().hex[:10]}@example.com"
    with dashboard.sessionmaker.begin() as db:
        add_member(db, create_user(db, email, PASSWORD).id, project.project_id, "viewer")
    viewer = client_for(email)
    page = _page(viewer, project)
    assert page.status_code == 200 and _text(page.text, 'data-figure="n"') == "60"
    assert "Recalibrate from labels" not in page.text and "only owners and members" in page.text
    viewer_token = csrf_token_in(page.text)  # the sign-out form's: valid for the viewer
    base = f"/projects/{project.project_id}/evaluations/agreement"
    for path in (f"{base}/recalibrate", f"{base}/calibrations/deactivate"):
        refused = viewer.post(path, data={**SELECTION, "csrf_token": viewer_token})
        assert refused.status_code == 403 and "Viewers cannot" in refused.text, path
    assert _active(dashboard, project.project_id) == []

    token = csrf_token_in(_page(client, project).text)

    done = client.post(f"{base}/recalibrate", data={**SELECTION, "csrf_token": token})
    assert done.status_code == 303
    theirs = _page(client, other)
    assert (
        _text(theirs.text, 'data-figure="n"') == "0" and 'data-calibration="1"' not in theirs.text
    )
    restore = client.post(
        f"/projects/{other.project_id}/evaluations/agreement/calibrations/1/activate",
        data={**SELECTION, "csrf_token": token},
    )
    assert restore.status_code == 404
    assert _active(dashboard, other.project_id) == []
    assert _active(dashboard, project.project_id) == [(1, True)]
