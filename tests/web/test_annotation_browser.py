"""Annotation in headless Chromium: reviewer A labels two items with the keyboard only (digits
pick the choices, c and Escape for a comment, Enter saves), the judge's verdict absent from the
page until the item is labelled; reviewer B, another user in another browser context, sees the
progress 2/3, and the label on the trace page. No console errors."""

from __future__ import annotations

from typing import Any

from tests.web.annotation_seed import FAITHFUL_REASON, add_user, seed_queue
from tests.web.conftest import LiveDashboard
from tests.web.seed import JUDGE_REASON, PASSWORD, create_member
from tests.web.test_browser import SCREENSHOTS, browser  # noqa: F401 - the Chromium fixture


def signed_in(dashboard: LiveDashboard, chromium: Any, email: str, path: str) -> tuple[Any, Any]:
    """A new browser context signed in as ``email`` on ``path``; its page and problems list."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{dashboard.base_url}{path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")
    return page, problems


def test_two_reviewers_label_with_the_keyboard_and_follow_progress(
    dashboard: LiveDashboard,
    browser: Any,  # noqa: F811 - the fixture imported above
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["annotate-browser"])
    queue, ids = seed_queue(dashboard, project)
    viewer_email = add_user(dashboard, project.project_id, "viewer")
    base = f"/projects/{project.project_id}/annotation/{queue['id']}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page, problems = signed_in(dashboard, browser, email, f"{base}/review")
    item = page.locator("section.review-item")
    assert "Can I pay with PayPal?" in item.inner_text()
    assert page.get_by_text("Keyboard:").is_visible()
    # Item 1: No (2), curt (4), a comment typed after c, Escape, then Enter saves.
    page.keyboard.press("2")
    page.keyboard.press("4")
    assert page.get_by_label("No").is_checked() and page.get_by_label("curt").is_checked()
    page.keyboard.press("c")
    page.keyboard.type("No answer was recorded.")
    page.keyboard.press("Escape")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Labelled item 1" in page.locator("section.previous").inner_text()

    # Item 2: the faithful trace; its judge's reason is not on the page before the label.
    assert "Where is my order A-1001?" in item.inner_text()
    assert FAITHFUL_REASON not in page.content() and JUDGE_REASON not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "annotation-review.png"), full_page=True)
    page.keyboard.press("1")
    page.keyboard.press("3")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    previous = page.locator("section.previous")
    assert "Labelled item 2" in previous.inner_text()
    assert FAITHFUL_REASON in previous.inner_text()
    assert JUDGE_REASON not in page.content()  # item 3's verdict stays hidden
    page.screenshot(path=str(SCREENSHOTS / "annotation-verdict.png"), full_page=True)

    # Reviewer B, a viewer in another context: the progress, no controls, the label on the trace.
    other, other_problems = signed_in(dashboard, browser, viewer_email, base)
    assert other.locator('[data-progress="items"]').inner_text() == "2 / 3 items done"
    assert other.locator(f'tr[data-reviewer="{email}"] td').first.inner_text() == "2"
    assert other.get_by_role("link", name="Review items").count() == 0
    other.screenshot(path=str(SCREENSHOTS / "annotation-progress.png"), full_page=True)
    other.goto(f"{dashboard.base_url}/projects/{project.project_id}/traces/{ids['faithful']}")
    label = other.locator('li[data-score="correct"][data-source="annotation"]')
    assert "yes" in label.inner_text() and f"by {email}" in label.inner_text()
    tone = other.locator('li[data-score="tone"][data-source="annotation"]')
    assert "polite" in tone.inner_text()
    other.screenshot(path=str(SCREENSHOTS / "annotation-trace-label.png"), full_page=True)
    other.context.close()
    page.context.close()
    assert problems == [] and other_problems == []
