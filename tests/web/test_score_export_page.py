"""The dashboard's score download and the Evaluations page's score summaries over real HTTP: a
member downloads the bytes the API export gives; no session is sent to the login page; a
member of another project gets a 404 and none of the data; the pages link the download with
their range and score filter; categorical scores are counted per category, booleans shown as a
share of true, and deleted scores left out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import orjson
import pytest

from tests.api.spans import new_trace_id
from tests.scores.exports import api_export
from tests.web.conftest import LiveDashboard
from tests.web.seed import SeededProject, create_member

DAY_US = 86_400_000_000


@pytest.fixture(scope="module")
def scored(dashboard: LiveDashboard) -> tuple[str, SeededProject, list[str]]:
    """A member's project with a mix of recent scores, one deleted, and one old score."""
    email, (project,) = create_member(dashboard.sessionmaker, ["exports"])
    now, trace_id = int(time.time() * 1_000_000), new_trace_id()
    recent = now - 3_600_000_000
    scores = [
        {"trace_id": trace_id, "name": "stars", "value": 0.25, "timestamp": recent + 9},
        {"trace_id": trace_id, "name": "stars", "value": 0.75, "timestamp": recent + 8},
        {"trace_id": trace_id, "name": "helpful", "value": True, "timestamp": recent + 7},
        {
            "trace_id": trace_id,
            "name": "helpful",
            "value": True,
            "author": "b",  # not the same score as the one above
            "timestamp": recent + 6,
        },
        {"trace_id": trace_id, "name": "helpful", "value": False, "timestamp": recent + 5},
        {
            "trace_id": trace_id,
            "name": "tone",
            "value": "polite",
            "source": "annotation",
            "comment": "=1+1",
            "timestamp": recent + 4,
        },
        {"trace_id": trace_id, "name": "tone", "value": "polite", "timestamp": recent + 3},
        {"trace_id": trace_id, "name": "tone", "value": "rude", "timestamp": recent + 2},
        {"trace_id": trace_id, "name": "tone", "value": "curt", "timestamp": recent + 1},
        {"trace_id": trace_id, "name": "stars", "value": 0.5, "timestamp": now - 3 * DAY_US},
    ]
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=60) as api:
        posted = api.post("/api/v1/scores", json={"scores": scores})
        assert posted.status_code == 200, posted.text
        ids = [s["id"] for s in posted.json()["scores"]]
        assert api.delete(f"/api/v1/scores/{ids[8]}").status_code == 200  # the "curt" one
    return email, project, ids


def test_a_member_downloads_what_the_api_exports(
    dashboard: LiveDashboard,
    scored: tuple[str, SeededProject, list[str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, _ = scored
    browser = client_for(email)
    url = f"/projects/{project.project_id}/scores/export"
    for params in (
        {"format": "csv"},
        {"format": "jsonl"},
        {"format": "csv", "name": ["tone", "helpful"], "source": "annotation"},
        {"format": "jsonl", "deleted": "true"},
        {"format": "jsonl", "min_value": "0.5", "max_value": "1"},
    ):
        response = browser.get(url, params=params)
        assert response.status_code == 200, response.text
        assert response.content == api_export(dashboard.base_url, project.auth, **params)
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        assert response.headers["cache-control"] == "no-store"
    # The range preset bounds the score timestamps: the three-day-old score is outside 24 h.
    day = browser.get(url, params={"format": "jsonl", "range": "24h"}).content.splitlines()
    week = browser.get(url, params={"format": "jsonl", "range": "7d"}).content.splitlines()
    assert len(day) == 8 and len(week) == 9
    assert "'=1+1" in browser.get(url).text  # CSV is the default, its cells escaped


def test_without_a_session_the_download_sends_to_the_login_page(
    dashboard: LiveDashboard, scored: tuple[str, SeededProject, list[str]]
) -> None:
    _, project, _ = scored
    with httpx.Client(base_url=dashboard.base_url, timeout=30, auth=project.auth) as keyed:
        response = keyed.get(f"/projects/{project.project_id}/scores/export?format=jsonl")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert "polite" not in response.text


def test_a_member_of_another_project_gets_none_of_its_scores(
    dashboard: LiveDashboard,
    scored: tuple[str, SeededProject, list[str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    _, project, ids = scored
    outsider, (own,) = create_member(dashboard.sessionmaker, ["elsewhere"])
    browser = client_for(outsider)
    response = browser.get(f"/projects/{project.project_id}/scores/export?format=jsonl")
    assert response.status_code == 404
    assert not any(score_id in response.text for score_id in ids)
    mine = browser.get(f"/projects/{own.project_id}/scores/export?format=jsonl")
    assert mine.status_code == 200 and mine.content == b""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("format=xlsx", "Format &#39;xlsx&#39; is not one of"),
        ("source=robot", "Unknown score source(s) [&#39;robot&#39;]"),
        ("min_value=high", "Min value must be a number"),
        ("min_value=2&max_value=1", "Min_value must not exceed max_value"),
        ("range=2y", "Unknown time range"),
    ],
)
def test_a_bad_request_gets_an_html_error_with_the_reason(
    scored: tuple[str, SeededProject, list[str]],
    client_for: Callable[[str], httpx.Client],
    query: str,
    message: str,
) -> None:
    email, project, _ = scored
    response = client_for(email).get(f"/projects/{project.project_id}/scores/export?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text


def _export_links(html: str) -> list[str]:
    return [
        link.replace("&amp;", "&")
        for link in re.findall(r'href="([^"]*/scores/export\?[^"]*)"', html)
    ]


def test_the_pages_link_the_download_with_their_range_and_score_filter(
    scored: tuple[str, SeededProject, list[str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, _ = scored
    browser = client_for(email)
    base = f"/projects/{project.project_id}"
    evaluations = browser.get(f"{base}/evaluations", params={"range": "24h"}).text
    assert _export_links(evaluations) == [
        f"{base}/scores/export?format=csv&range=24h",
        f"{base}/scores/export?format=jsonl&range=24h",
    ]
    traces = browser.get(
        f"{base}/traces", params={"range": "7d", "score": "stars", "score_min": "0.5"}
    ).text
    links = _export_links(traces)
    assert links == [
        f"{base}/scores/export?format=csv&range=7d&name=stars&min_value=0.5",
        f"{base}/scores/export?format=jsonl&range=7d&name=stars&min_value=0.5",
    ]
    lines = browser.get(links[1]).content.splitlines()
    assert sorted(orjson.loads(line)["value"] for line in lines) == [0.5, 0.75]


def test_evaluations_summarise_each_score_by_its_kind(
    scored: tuple[str, SeededProject, list[str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, _ = scored
    page = client_for(email).get(f"/projects/{project.project_id}/evaluations?range=24h").text
    stars = re.search(r'data-summary="stars">(.*?)</p>', page, re.S).group(1)
    assert "2 scores" in stars and "mean 0.500" in stars and "min 0.250" in stars
    helpful = re.search(r'data-summary="helpful">(.*?)</p>', page, re.S).group(1)
    assert "3 scores" in helpful and "66.7% true" in helpful and "mean" not in helpful
    tone = re.search(r'data-summary="tone">(.*?)</p>', page, re.S).group(1)
    assert "3 scores" in tone and "in 2 categories" in tone and "mean" not in tone
    assert "Distribution of stars scores" in page
    assert "Distribution of tone scores" not in page and "Categories of tone scores" in page
    assert "Distribution of helpful scores" not in page and "helpful: true and false" in page
    assert re.search(r'data-category="polite"><th scope="row">polite</th><td class="num">2<', page)
    assert 'data-category="rude"' in page and 'data-category="curt"' not in page
