"""The compare page in headless Chromium: a regressed target's run against the baseline, the
items shown with "Regressed only" are exactly those the gate counted as regressed, each with
its word diff. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import LiveDashboard
from tests.web.eval_seed import cli_environment, eval_gate, eval_run, regressed_items
from tests.web.seed import create_member

playwright_sync = pytest.importorskip("playwright.sync_api")

from tests.web.test_annotation_browser import signed_in  # noqa: E402
from tests.web.test_browser import SCREENSHOTS, browser  # noqa: E402, F401 - the fixture


def test_compare_page_shows_exactly_the_gates_regressed_items(
    dashboard: LiveDashboard,
    browser: object,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["compare-browser"])
    with cli_environment(dashboard.base_url, project, tmp_path):
        eval_run("browser-base", "examples.rag.app:answer")
        eval_run("browser-pr", "examples.rag.app:answer_truncated_index")
        report = eval_gate("browser-pr", "browser-base", tmp_path)
    assert report["verdict"] == "fail"
    link = (tmp_path / "gate.md").read_text()
    assert (
        f"/projects/{project.project_id}/datasets/compare?run=browser-base&run=browser-pr" in link
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, problems = signed_in(
        dashboard, browser, email, f"/projects/{project.project_id}/datasets"
    )
    page.get_by_label("Baseline run").select_option("browser-base")
    page.get_by_label("Candidate run").select_option("browser-pr")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/datasets/compare?**")
    assert page.locator("article.eval-item").count() == 40

    items = page.locator("article.eval-item")
    page.get_by_label("Regressed only").check()
    page.get_by_label("Metric", exact=True).select_option("correct")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**metric=correct**")
    shown = {items.nth(i).get_attribute("data-item") for i in range(items.count())}
    assert shown == regressed_items(report, ["correct"])
    assert len(shown) == 17
    for i in range(items.count()):
        item = items.nth(i)
        row = item.locator('tr[data-metric="correct"] td[data-run="browser-pr"]')
        assert row.get_by_text("regressed", exact=True).is_visible()
        diff = item.locator('tr.outputs td[data-run="browser-pr"] .output')
        assert diff.locator("del, ins").count() > 0, item.get_attribute("data-item")
    items.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "eval-compare-regressed.png"), full_page=False)

    page.get_by_label("Metric", exact=True).select_option("")
    page.get_by_label("Sort").select_option("regressed")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**sort=regressed**")
    shown = {items.nth(i).get_attribute("data-item") for i in range(items.count())}
    assert shown == regressed_items(report)
    assert problems == []
    page.context.close()
