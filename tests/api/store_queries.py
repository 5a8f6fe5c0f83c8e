"""Direct reads of the trace store used by the API tests to check what was stored."""

from __future__ import annotations

import time
from collections.abc import Callable

from haloscope.platform.store import TraceStore


def stored_span_count(store: TraceStore, project_id: str) -> int:
    """Spans of a project as queries see them (re-sent spans counted once)."""
    rows = store.driver.query(
        "SELECT count() AS n FROM spans FINAL WHERE project_id = {project_id:String}",
        {"project_id": project_id},
    )
    return int(rows[0]["n"])


def wait_for_count(read: Callable[[], int], expected: int, timeout_s: float) -> int:
    """Poll ``read`` until it returns ``expected`` (or the timeout); return the last count."""
    deadline = time.monotonic() + timeout_s
    count = read()
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        count = read()
    return count


def wait_for_span_count(
    store: TraceStore, project_id: str, expected: int, timeout_s: float = 20.0
) -> int:
    """Poll until the project has ``expected`` spans (or the timeout); return the last count."""
    return wait_for_count(lambda: stored_span_count(store, project_id), expected, timeout_s)
