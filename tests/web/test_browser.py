"""The dashboard in headless Chromium (Debian's, driven by Playwright): sign in, read the
overview, filter traces, open a trace tree and a judged span, open the drift page; open a
session read as a conversation and follow its user to the filtered trace list. No console
errors; screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.web.conftest import LiveDashboard
from tests.web.conversations import TURNS, seed_conversations
from tests.web.seed import JUDGE_REASON, create_member, seed_drift_report, seed_support_bot

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (installs Debian chromium)")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def open_page(browser: object) -> tuple[object, object, list[str]]:
    """A fresh laptop-sized browser context, its page, and the console and page errors the
    page reports (collected as they happen)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems


def fill_sign_in(page: object, email: str) -> None:
    """Fill the login form the page shows and submit it."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()


def test_dashboard_journey_in_chromium(dashboard: LiveDashboard, browser: object) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["browser"])
    ids = seed_support_bot(dashboard.base_url, dashboard.store, project, dashboard.flush)
    # Older than the 7-day default range, so the overview and trace list show only the bot.
    drift_end = datetime.now(UTC) - timedelta(days=10)
    seed_drift_report(dashboard.store, dashboard.sessionmaker, project.project_id, drift_end)
    context, page, problems = open_page(browser)

    page.goto(f"{dashboard.base_url}/projects/{project.project_id}/overview")
    assert page.url.startswith(f"{dashboard.base_url}/login")
    fill_sign_in(page, email)
    page.wait_for_url(f"**/projects/{project.project_id}/overview")

    page.get_by_label("Time range").select_option("24h")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**range=24h")
    assert page.locator('[data-kpi="traces"]').inner_text() == "3"
    assert page.get_by_role("img", name="Traces per day").is_visible()
    assert page.get_by_role("img", name="Hallucination rate and mean faithfulness per day").count()
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

    page.get_by_role("link", name="Traces", exact=True).click()
    page.get_by_label("Status").select_option("error")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**status=error**")
    rows = page.locator("table.traces tbody tr")
    assert rows.count() == 1
    page.get_by_label("Status").select_option("")
    page.get_by_label("Score", exact=True).select_option("hallucination.rag")
    page.get_by_label("Score ≥").fill("0.5")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**score_min=0.5**")
    assert rows.count() == 1
    page.screenshot(path=str(SCREENSHOTS / "traces-filtered.png"), full_page=True)

    rows.first.get_by_role("link").first.click()
    page.wait_for_url(f"**/traces/{ids['hallucinated']}")
    tree = page.locator("table.waterfall-table tbody tr")
    assert tree.count() == 4
    assert page.locator("svg.waterfall").count() == 4

    # Keyboard: tab to the LLM span's link and open it with Enter.
    llm_link = page.locator("a[data-span-id]", has_text="chat gpt-4o-mini")
    llm_link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**?span=**")
    panel = page.locator("#span-panel")
    assert JUDGE_REASON in panel.inner_text()
    assert (
        panel.get_by_role("table").filter(has_text="Refunds are accepted within 60 days.").count()
    )
    page.screenshot(path=str(SCREENSHOTS / "trace-judged-span.png"), full_page=True)

    page.get_by_role("link", name="Drift").click()
    page.wait_for_url("**/drift")
    latency = page.locator('tr[data-feature="latency_ms"]')
    assert latency.get_by_text("drifted", exact=True).is_visible()
    latency.get_by_role("link", name="latency_ms").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/drift#feature-*")
    chart = page.get_by_role("img", name="latency_ms: share of the baseline and current windows")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    assert chart.locator("rect.bar").count() > 10
    assert page.get_by_label("Report").locator("option").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "drift.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(f"{dashboard.base_url}/projects/{project.project_id}/traces")
    assert "/login" in page.url
    context.close()
    assert problems == []


def test_a_session_conversation_and_a_user_link_in_chromium(
    dashboard: LiveDashboard, browser: object
) -> None:
    """Sessions -> one session read as a conversation -> its user's traces; Users -> a user's
    sessions. No console errors."""
    email, (project,) = create_member(dashboard.sessionmaker, ["browser-sessions"])
    conversations = seed_conversations(dashboard, project)
    context, page, problems = open_page(browser)
    page.goto(f"{dashboard.base_url}/login")
    fill_sign_in(page, email)
    page.wait_for_url("**/projects/**")

    page.get_by_role("link", name="Sessions", exact=True).click()
    page.wait_for_url("**/sessions")
    assert page.locator("table.sessions tbody tr").count() == 3
    page.get_by_role("link", name="sess-a1", exact=True).click()
    page.wait_for_url("**/sessions/sess-a1")
    turns = page.locator("li.turn")
    assert turns.count() == 2
    assert TURNS[0].question in turns.nth(0).inner_text()
    assert TURNS[1].answer in turns.nth(1).inner_text()
    assert page.locator('[data-kpi="cost"]').inner_text() == "$0.003"
    page.screenshot(path=str(SCREENSHOTS / "session-conversation.png"), full_page=True)

    turns.nth(1).get_by_role("link", name="answer T2").click()
    page.wait_for_url(f"**/traces/{conversations.ids['T2']}")
    page.go_back()
    page.get_by_role("link", name="alice", exact=True).click()
    page.wait_for_url("**/traces?range=90d&user=alice")
    rows = page.locator("table.traces tbody tr")
    assert rows.count() == 3
    assert page.get_by_label("User id").input_value() == "alice"

    page.get_by_role("link", name="Users", exact=True).click()
    page.wait_for_url("**/users")
    page.get_by_role("link", name="Cost").click()
    page.wait_for_url("**sort=cost_desc")
    assert page.locator("table.users tbody tr").first.get_attribute("data-user") == "bob"
    page.get_by_role("link", name="1 sessions of bob").click()
    page.wait_for_url("**/sessions?range=7d&user=bob")
    assert page.locator("table.sessions tbody tr").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "user-sessions.png"), full_page=True)
    context.close()
    assert problems == []
