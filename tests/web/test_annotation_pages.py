"""The annotation pages over HTTP: creating a queue from the trace filter and from a sampling
run, reviewing (the judge's verdict only after the label), refused labels, the labels on the
trace page, the dataset export, and what viewers, non-members and forged forms get."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import httpx
import pytest
from haloscope.platform.annotation import queues
from haloscope.platform.evals import records

from tests.annotation.stored import judge, sampling_rule, store_trace
from tests.web.annotation_seed import FAITHFUL_REASON, add_user, seed_queue
from tests.web.conftest import LiveDashboard, csrf_token_in
from tests.web.seed import JUDGE_REASON, SeededProject, create_member

Client = Callable[[str], httpx.Client]


@pytest.fixture
def owned(dashboard: LiveDashboard, client_for: Client) -> tuple[httpx.Client, SeededProject]:
    email, (project,) = create_member(dashboard.sessionmaker, ["annotate"])
    return client_for(email), project


def review_url(project: SeededProject, queue_id: str) -> str:
    return f"/projects/{project.project_id}/annotation/{queue_id}/review"


def label_action(page: str) -> str:
    match = re.search(r'id="label-form"[^>]*action="([^"]+)"', page)
    assert match, "the page has no label form"
    return match.group(1)


def test_an_owner_creates_a_queue_from_the_trace_lists_filter(
    dashboard: LiveDashboard, owned: tuple[httpx.Client, SeededProject]
) -> None:
    client, project = owned
    queue, ids = seed_queue(dashboard, project, name="everything")
    base = f"/projects/{project.project_id}"
    traces = client.get(f"{base}/traces", params={"status": "error", "range": "24h"})
    link = re.search(r'href="([^"]*/annotation/new[^"]*)">Annotate these traces', traces.text)
    assert link and "status=error" in link.group(1)
    form = client.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200 and "status=error" in form.text
    filter_value = re.search(r'name="filter" value="([^"]*)"', form.text)
    assert filter_value is not None
    fields = {
        "csrf_token": csrf_token_in(form.text),
        "filter": filter_value.group(1).replace("&amp;", "&"),
        "name": "failed calls",
        "score_names": ["correct"],
        "required_labels": "2",
        "source": "filter",
    }
    assert client.post(f"{base}/annotation", data={**fields, "csrf_token": "x"}).status_code == 403
    refused = client.post(f"{base}/annotation", data={**fields, "score_names": []})
    assert refused.status_code == 400 and "score_names must list" in refused.text
    assert 'value="failed calls"' in refused.text
    taken = client.post(f"{base}/annotation", data={**fields, "name": "everything"})
    assert taken.status_code == 409 and "already exists" in taken.text
    created = client.post(f"{base}/annotation", data=fields)
    assert created.status_code == 303, created.text
    with dashboard.sessionmaker() as db:
        stored = queues.find_queue(db, project.project_id, "failed calls")
        assert stored is not None and stored.required_labels == 2
        assert created.headers["location"] == f"{base}/annotation/{stored.id}"
        items = queues.list_items(db, stored, limit=10, offset=0)
        assert stored.source["status"] == "error" and stored.created_by.endswith("@example.com")
    assert [i["trace_id"] for i in items] == [ids["failed"]]
    listing = client.get(f"{base}/annotation")
    assert 'data-queue="failed calls"' in listing.text and 'data-queue="everything"' in listing.text
    assert queue["progress"]["items_total"] == 3


def test_a_queue_from_a_sampling_run_holds_the_spans_it_judged(
    dashboard: LiveDashboard, owned: tuple[httpx.Client, SeededProject]
) -> None:
    client, project = owned
    seed_queue(dashboard, project)
    judged = store_trace(dashboard.store, project.project_id, 0)
    store_trace(dashboard.store, project.project_id, 1)
    rule_id, (run_id,) = sampling_rule(dashboard.sessionmaker, project.project_id, runs=1)
    judge(dashboard.store, project.project_id, judged, run_id, "hidden reason")
    base = f"/projects/{project.project_id}/annotation"
    form = client.get(f"{base}/new")
    assert f'value="run:{rule_id}:{run_id}"' in form.text
    fields = {
        "csrf_token": csrf_token_in(form.text),
        "name": "judged spans",
        "score_names": ["correct", "tone"],
        "required_labels": "1",
        "source": f"run:{rule_id}:{run_id}",
    }
    created = client.post(base, data=fields)
    assert created.status_code == 303, created.text
    page = client.get(created.headers["location"] + "/review")
    assert judged.question in page.text and judged.passage in page.text
    assert "hidden reason" not in page.text
    missing = client.post(base, data={**fields, "name": "x", "source": "rule:nope"})
    assert missing.status_code == 404 and "sampling rule 'nope' not found" in html.unescape(
        missing.text
    )


def test_a_reviewer_sees_the_judges_verdict_only_after_labelling(
    dashboard: LiveDashboard, owned: tuple[httpx.Client, SeededProject]
) -> None:
    client, project = owned
    queue, ids = seed_queue(dashboard, project)
    url = review_url(project, queue["id"])
    first = client.get(url)
    assert "Can I pay with PayPal?" in first.text and "<kbd>1</kbd> Yes" in first.text
    assert '<script src="/static/annotation.js" defer>' in first.text
    token = csrf_token_in(first.text)
    skipped = client.post(
        label_action(first.text).replace("/label", "/skip"), data={"csrf_token": token}
    )
    assert skipped.status_code == 303
    second = client.get(skipped.headers["location"])
    assert "Skipped item 1" in second.text
    assert "Where is my order A-1001?" in second.text and FAITHFUL_REASON not in second.text

    action = label_action(second.text)
    refused = client.post(action, data={"csrf_token": token, "value_0": "true", "comment": "kept"})
    assert refused.status_code == 400 and "missing ['tone']" in html.unescape(refused.text)
    assert ">kept</textarea>" in refused.text and FAITHFUL_REASON not in refused.text
    labelled = client.post(
        action,
        data={"csrf_token": token, "value_0": "true", "value_1": "polite", "comment": "right"},
    )
    assert labelled.status_code == 303
    third = client.get(labelled.headers["location"])
    assert "Labelled item 2" in third.text and FAITHFUL_REASON in third.text
    assert "What is the refund window?" in third.text and JUDGE_REASON not in third.text

    trace = client.get(f"/projects/{project.project_id}/traces/{ids['faithful']}")
    human = re.search(
        r'<li class="score" data-score="correct" data-source="annotation">.*?</li>',
        trace.text,
        re.S,
    )
    assert human is not None
    assert ">yes<" in human.group(0) and "right" in human.group(0) and "by user-" in human.group(0)
    tone = re.search(r'data-score="tone" data-source="annotation">.*?</li>', trace.text, re.S)
    assert tone is not None and ">polite<" in tone.group(0)

    queue_page = client.get(f"/projects/{project.project_id}/annotation/{queue['id']}")
    assert 'data-progress="items">1 / 3 items done' in queue_page.text


def test_labelled_items_become_a_dataset_version_from_the_queue_page(
    dashboard: LiveDashboard, owned: tuple[httpx.Client, SeededProject]
) -> None:
    client, project = owned
    queue, _ = seed_queue(dashboard, project)
    page = client.get(review_url(project, queue["id"]))
    token = csrf_token_in(page.text)
    fields = {"csrf_token": token, "value_0": "false", "value_1": "curt"}
    assert client.post(label_action(page.text), data=fields).status_code == 303
    base = f"/projects/{project.project_id}/annotation/{queue['id']}"
    bad = client.post(f"{base}/dataset", data={"csrf_token": token, "dataset": "a b"})
    assert bad.status_code == 400 and "invalid dataset name" in bad.text
    done = client.post(f"{base}/dataset", data={"csrf_token": token, "dataset": "golden"})
    assert done.status_code == 303 and done.headers["location"].endswith("/datasets")
    with dashboard.sessionmaker() as db:
        version = records.get_dataset_version(db, project.project_id, "golden", None)
    assert version["item_count"] == 1
    assert version["items"][0]["metadata"]["labels"] == {"correct": False, "tone": "curt"}
    deleted = client.post(f"{base}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and client.get(base).status_code == 404


def test_viewers_see_progress_but_cannot_annotate(
    dashboard: LiveDashboard, owned: tuple[httpx.Client, SeededProject], client_for: Client
) -> None:
    owner, project = owned
    queue, _ = seed_queue(dashboard, project)
    item_form = owner.get(review_url(project, queue["id"]))
    action = label_action(item_form.text)
    viewer = client_for(add_user(dashboard, project.project_id, "viewer"))
    base = f"/projects/{project.project_id}/annotation"
    page = viewer.get(f"{base}/{queue['id']}")
    assert page.status_code == 200 and 'data-progress="items">0 / 3 items done' in page.text
    assert "Review items" not in page.text and 'method="post"' not in page.text.split("<main")[1]
    review = viewer.get(review_url(project, queue["id"]))
    assert review.status_code == 200 and "label-form" not in review.text
    assert "only owners and members annotate" in review.text
    assert viewer.get(f"{base}/new").status_code == 403
    token = csrf_token_in(review.text)  # the sign-out form's: a valid token of the session
    values = {"csrf_token": token, "value_0": "true", "value_1": "polite"}
    for path, data in (
        (action, values),
        (action.replace("/label", "/skip"), {"csrf_token": token}),
        (base, {"csrf_token": token, "name": "v", "score_names": "correct", "source": "filter"}),
        (f"{base}/{queue['id']}/dataset", {"csrf_token": token, "dataset": "golden"}),
        (f"{base}/{queue['id']}/delete", {"csrf_token": token}),
    ):
        assert viewer.post(path, data=data).status_code == 403, path
    # A member reviews; a non-member gets 404 everywhere.
    member = client_for(add_user(dashboard, project.project_id, "member"))
    assert "label-form" in member.get(review_url(project, queue["id"])).text
    outsider_email, _ = create_member(dashboard.sessionmaker, ["elsewhere"])
    outsider = client_for(outsider_email)
    assert outsider.get(f"{base}/{queue['id']}").status_code == 404
    assert outsider.get(review_url(project, queue["id"])).status_code == 404
    progress = owner.get(f"{base}/{queue['id']}")
    assert 'data-progress="items">0 / 3 items done' in progress.text


def test_a_queue_of_another_project_is_not_found(
    dashboard: LiveDashboard, client_for: Client
) -> None:
    email, (project, other) = create_member(dashboard.sessionmaker, ["mine", "theirs"])
    queue, _ = seed_queue(dashboard, other)
    client = client_for(email)
    path = f"/projects/{project.project_id}/annotation/{queue['id']}"
    assert client.get(path).status_code == 404
    assert client.get(f"{path}/review").status_code == 404
    token = csrf_token_in(client.get(f"/projects/{project.project_id}/annotation").text)
    assert client.post(f"{path}/delete", data={"csrf_token": token}).status_code == 404
