"""The dashboard pages over real HTTP, with data sent through the real ingest API."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest

from tests.web.conftest import LiveDashboard
from tests.web.seed import (
    EVIDENCE,
    JUDGE_REASON,
    SeededProject,
    create_member,
    rag_trace,
    seed_support_bot,
    send_traces,
)


@pytest.fixture(scope="module")
def seeded(dashboard: LiveDashboard) -> tuple[str, SeededProject, dict[str, str]]:
    """A user owning one project with the support-bot traces and scores."""
    email, (project,) = create_member(dashboard.sessionmaker, ["pages"])
    ids = seed_support_bot(dashboard.base_url, dashboard.store, project, dashboard.flush)
    return email, project, ids


def _trace_links(html: str, project: SeededProject) -> list[str]:
    return re.findall(rf'href="/projects/{project.project_id}/traces/([0-9a-f]{{32}})"', html)


def test_overview_shows_the_project_totals_and_score_trends(
    seeded: tuple[str, SeededProject, dict[str, str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, _ = seeded
    page = client_for(email).get(f"/projects/{project.project_id}/overview?range=24h")
    assert page.status_code == 200
    assert re.search(r'data-kpi="traces">3<', page.text)
    assert re.search(r'data-kpi="spans">12<', page.text)
    # 2 failing spans (the LLM span and the root of the failed trace) out of 12.
    assert 'data-kpi="error-rate">16.7%<' in page.text
    assert "gpt-4o-mini" in page.text
    assert "hallucination rate 100.0% of 1 judged" in page.text
    assert "mean faithfulness 80.0% over 1 scores" in page.text
    assert page.text.count("<svg") >= 6


def test_overview_without_scores_says_so(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["unscored"])
    send_traces(
        dashboard.base_url, project, [rag_trace(int(time.time() * 1_000_000) - 60_000_000, "Hi")]
    )
    dashboard.flush()
    page = client_for(email).get(f"/projects/{project.project_id}/overview")
    assert 'data-kpi="traces">1<' in page.text
    assert 'data-empty="scores"' in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"hallucinated", "faithful", "failed"}),
        ({"status": "error"}, {"failed"}),
        ({"status": "ok"}, {"hallucinated", "faithful"}),
        ({"user": "user-2"}, {"faithful"}),
        ({"q": "paypal"}, {"failed"}),
        ({"kind": "llm", "model": "gpt-4o-mini"}, {"hallucinated", "faithful", "failed"}),
        # Span filters must hold on one span: no tool span runs a model.
        ({"kind": "tool", "model": "gpt-4o-mini"}, set()),
        ({"tags": "prod,rag", "release": "v2.0.0"}, {"hallucinated", "faithful", "failed"}),
        ({"score": "hallucination.rag", "score_min": "0.5"}, {"hallucinated"}),
        ({"score": "hallucination.rag", "score_max": "0.5"}, set()),
        ({"score": "faithfulness", "score_max": "0.9"}, {"faithful"}),
        ({"model": "claude-3-5-haiku"}, set()),
    ],
)
def test_trace_list_filters(
    seeded: tuple[str, SeededProject, dict[str, str]],
    client_for: Callable[[str], httpx.Client],
    query: dict[str, str],
    expected: set[str],
) -> None:
    email, project, ids = seeded
    page = client_for(email).get(f"/projects/{project.project_id}/traces", params=query)
    assert page.status_code == 200
    assert set(_trace_links(page.text, project)) == {ids[role] for role in expected}


def test_trace_list_rejects_bad_filters_with_a_reason(
    seeded: tuple[str, SeededProject, dict[str, str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, _ = seeded
    client = client_for(email)
    url = f"/projects/{project.project_id}/traces"
    assert "must be a number" in client.get(url, params={"score": "x", "score_min": "hi"}).text
    assert client.get(url, params={"kind": "banana"}).status_code == 400
    assert client.get(url, params={"score_min": "0.2"}).status_code == 400
    assert client.get(url, params={"cursor": "garbage"}).status_code == 400
    assert client.get(url, params={"range": "3y"}).status_code == 400


def test_trace_list_pages_with_the_store_cursor(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["paging"])
    t0 = int(time.time() * 1_000_000) - 600_000_000
    send_traces(
        dashboard.base_url, project, [rag_trace(t0 + i * 1_000_000, "q") for i in range(53)]
    )
    dashboard.flush()
    client = client_for(email)
    first = client.get(f"/projects/{project.project_id}/traces")
    next_link = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', first.text)
    assert next_link
    second = client.get(
        f"/projects/{project.project_id}/traces" + next_link.group(1).replace("&amp;", "&")
    )
    page_one, page_two = _trace_links(first.text, project), _trace_links(second.text, project)
    assert (len(page_one), len(page_two)) == (50, 3)
    assert set(page_one) | set(page_two) == set(project.traces)
    assert 'rel="next"' not in second.text


def test_trace_detail_shows_tree_waterfall_and_span_panel(
    seeded: tuple[str, SeededProject, dict[str, str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, ids = seeded
    trace = project.traces[ids["hallucinated"]]
    client = client_for(email)
    url = f"/projects/{project.project_id}/traces/{ids['hallucinated']}"
    page = client.get(url)
    assert page.status_code == 200
    order = re.findall(r'data-span-id="([0-9a-f]{16})"', page.text)
    # Root first, then its children by start time: retrieval, tool, LLM.
    assert order == [
        trace[0]["span_id"],
        trace[1]["span_id"],
        trace[2]["span_id"],
        trace[3]["span_id"],
    ]
    assert page.text.count('class="waterfall"') == 4
    assert "What is the refund window?" in page.text

    retrieval = client.get(url, params={"span": trace[1]["span_id"]}).text
    assert "kb-refunds" in retrieval and "0.910" in retrieval
    tool = client.get(url, params={"span": trace[2]["span_id"]}).text
    assert "Tool call" in tool and "A-1001" in tool
    llm = client.get(url, params={"span": trace[3]["span_id"]}).text
    assert "role-system" in llm and "Answer from the context only." in llm
    assert "420 prompt + 24 completion = 444" in llm
    assert JUDGE_REASON in llm
    for item in EVIDENCE:
        assert item["claim"] in llm
    assert "hallucinated" in llm


def test_unknown_trace_is_404(
    seeded: tuple[str, SeededProject, dict[str, str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, _ = seeded
    response = client_for(email).get(f"/projects/{project.project_id}/traces/{'ab' * 16}")
    assert response.status_code == 404


def test_evaluations_page_shows_score_distributions(
    seeded: tuple[str, SeededProject, dict[str, str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    email, project, _ = seeded
    evaluations = (
        client_for(email)
        .get(f"/projects/{project.project_id}/evaluations", params={"range": "24h"})
        .text
    )
    assert "Distribution of hallucination.rag scores" in evaluations
    assert "Distribution of faithfulness scores" in evaluations


def test_evaluations_page_shows_the_measured_quality_of_the_detectors(
    seeded: tuple[str, SeededProject, dict[str, str]],
    client_for: Callable[[str], httpx.Client],
) -> None:
    from haloscope.evaluators.quality import load_card

    email, project, _ = seeded
    page = client_for(email).get(f"/projects/{project.project_id}/evaluations").text
    card = load_card("hallucination.rag", "2")
    assert card is not None and card.reliable
    section = page[page.index('id="quality-heading"') :]
    for slice_name, slice_card in card.slices.items():
        marker = f'data-evaluator="hallucination.rag@2" data-slice="{slice_name}"'
        row = section[section.index(marker) :]
        row = row[: row.index("</tr>")]
        assert f"{slice_card.figures.pairwise * 100:.1f}%" in row
        assert f"{slice_card.figures.auroc:.3f}" in row
        overlap = slice_card.baselines["word_overlap"].pairwise
        assert f"{overlap * 100:.1f}%" in row
    head = section[section.index('data-evaluator="hallucination.rag@2"') :]
    assert "default" in head[: head.index("</th>")]
    old = section[section.index('data-evaluator="hallucination.rag@1"') :]
    assert "unreliable" in old[: old.index("</th>")]
