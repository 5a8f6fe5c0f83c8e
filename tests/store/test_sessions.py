"""Sessions and users, the trace list's metadata/duration/cost filters and metrics by release
and prompt, on both drivers, against figures judged in Python from the final rows: re-sent
spans count once, a trace belongs to the session and user of its earliest span naming one,
and a range takes the traces starting in it (all their spans, even those after its end)."""

from __future__ import annotations

import datetime as dt

import pytest
from haloscope.platform.store import TraceFilter, TraceStore
from haloscope.platform.store.sessions import SessionStore

from tests.store.spans import BASE_US, DAY_US, span_row

HOUR = 3600 * 1_000_000
RANGE = (BASE_US, BASE_US + DAY_US)
ODD_KEY, ODD_VALUE = "we'ird\\key {x:String}", "a\"b'c\\n\t"


def trace(project_id: str, name: str, start: int, **root: object) -> list[dict]:
    """A root span (``root`` fields) and an LLM child 10 ms later."""
    llm = {k: root.pop(k) for k in ("cost", "prompt_tokens", "status", "child") if k in root}
    child = llm.pop("child", {})
    tokens = llm.get("prompt_tokens", 0)
    root_id, child_id = name + "0" * 15, name + "0" * 14 + "1"
    return [
        span_row(project_id, name * 8, root_id, name=f"root {name}",
                 kind="chain", start_time=start, end_time=start + 2_000_000, **root),
        span_row(project_id, name * 8, child_id, **{
            "parent_span_id": root_id, "kind": "llm", "name": "chat", "start_time": start + 10_000,
            "end_time": start + 1_000_000, "total_tokens": tokens, **llm, **child}),
    ]  # fmt: skip


@pytest.fixture
def stored(trace_store: TraceStore, project_id: str) -> dict[str, list[dict]]:
    """Five traces: A and B (session s1 of u1; B re-sent with other tokens and an error), C
    (s2 of u2, begun before the range), D (s2 of u2, its child after the range's end), E (the
    user and session on the child only)."""
    traces = {
        "a": trace(project_id, "a", BASE_US + HOUR, session_id="s1", user_id="u1",
                   cost=0.25, prompt_tokens=10, release="v1",
                   child={"metadata": {"prompt.name": "qa", "prompt.version": "1"}}),
        "b": trace(project_id, "b", BASE_US + 2 * HOUR, session_id="s1", user_id="u1",
                   cost=0.5, prompt_tokens=5, status="error", release="v1",
                   metadata={ODD_KEY: ODD_VALUE}),
        "c": trace(project_id, "c", BASE_US - HOUR // 2, session_id="s2", user_id="u2",
                   cost=1.0, prompt_tokens=100, release="v2"),
        "d": trace(project_id, "d", BASE_US + DAY_US - 60_000_000, session_id="s2",
                   user_id="u2", cost=0.00001, prompt_tokens=3, release="v2",
                   child={"start_time": BASE_US + DAY_US + 300_000_000,
                          "end_time": BASE_US + DAY_US + 400_000_000,
                          "metadata": {"prompt.name": "qa", "prompt.version": "2"}}),
        "e": trace(project_id, "e", BASE_US + 3 * HOUR, cost=0.125, prompt_tokens=1,
                   child={"session_id": "s3", "user_id": "u1"}),
    }  # fmt: skip
    # C also has a span inside the range, so a span-time scan alone would take it.
    traces["c"][1].update(start_time=BASE_US + 10 * 60_000_000, end_time=BASE_US + 11 * 60_000_000)
    rows = [span for spans in traces.values() for span in spans]
    trace_store.insert_spans(rows)
    trace_store.insert_spans(rows[:2])  # A re-sent as it was: counted once
    trace_store.insert_spans([{**traces["b"][1], "prompt_tokens": 7, "total_tokens": 7}])
    return traces


def test_sessions_and_users_of_a_range(
    trace_store: TraceStore, project_id: str, stored: dict[str, list[dict]]
) -> None:
    sessions = SessionStore(trace_store.driver)
    page = sessions.list_sessions(project_id, *RANGE, sort="session_id_asc")
    rows = {row["session_id"]: row for row in page.items}
    assert list(rows) == ["s1", "s2", "s3"]
    assert (rows["s1"]["traces"], rows["s1"]["errors"], rows["s1"]["total_tokens"]) == (2, 1, 17)
    assert rows["s1"]["cost"] == pytest.approx(0.75)
    assert rows["s1"]["first_seen"] == BASE_US + HOUR
    assert rows["s1"]["last_seen"] == BASE_US + 2 * HOUR + 2_000_000
    # C began before the range: only D counts, with its child after the range's end.
    assert (rows["s2"]["traces"], rows["s2"]["total_tokens"]) == (1, 3)
    assert rows["s2"]["last_seen"] == BASE_US + DAY_US + 400_000_000
    assert (rows["s3"]["user_id"], rows["s3"]["traces"], rows["s3"]["cost"]) == ("u1", 1, 0.125)
    users = {row["user_id"]: row for row in sessions.list_users(project_id, *RANGE).items}
    assert (users["u1"]["traces"], users["u1"]["sessions"], users["u1"]["errors"]) == (3, 2, 1)
    assert users["u1"]["error_rate"] == pytest.approx(1 / 3)
    assert users["u1"]["cost"] == pytest.approx(0.875)
    assert (users["u2"]["traces"], users["u2"]["sessions"]) == (1, 1)
    assert sessions.get_user(project_id, "u2", *RANGE)["total_tokens"] == 3
    assert sessions.get_user(project_id, "u3", *RANGE) is None
    only_u1 = sessions.list_sessions(project_id, *RANGE, user_id="u1", sort="session_id_asc")
    assert [row["session_id"] for row in only_u1.items] == ["s1", "s3"]


def test_a_session_over_all_time_and_its_pages(
    trace_store: TraceStore, project_id: str, stored: dict[str, list[dict]]
) -> None:
    sessions = SessionStore(trace_store.driver)
    detail = sessions.get_session(project_id, "s2")
    assert [turn["trace_id"] for turn in detail.turns] == ["c" * 8, "d" * 8]
    assert detail.totals["traces"] == 2 and detail.totals["spans"] == 4
    assert detail.totals["total_tokens"] == 103
    bounded = sessions.get_session(project_id, "s2", start_us=RANGE[0], end_us=RANGE[1])
    assert [turn["trace_id"] for turn in bounded.turns] == ["d" * 8]
    first = sessions.get_session(project_id, "s1", limit=1)
    assert [turn["trace_id"] for turn in first.turns] == ["a" * 8]
    assert first.next_offset == 1 and first.totals["traces"] == 2
    second = sessions.get_session(project_id, "s1", limit=1, offset=1)
    assert [t["trace_id"] for t in second.turns] == ["b" * 8] and second.next_offset is None
    assert second.turns[0]["total_tokens"] == 7
    assert sessions.get_session(project_id, "s9") is None
    assert sessions.get_session(project_id, "") is None


def test_group_pages_walk_every_row_once(
    trace_store: TraceStore, project_id: str, stored: dict[str, list[dict]]
) -> None:
    sessions = SessionStore(trace_store.driver)
    for sort in ("cost_desc", "cost_asc", "traces_desc", "last_seen_asc"):
        whole = [
            r["session_id"] for r in sessions.list_sessions(project_id, *RANGE, sort=sort).items
        ]
        walked, offset = [], 0
        while offset is not None:
            page = sessions.list_sessions(project_id, *RANGE, sort=sort, limit=1, offset=offset)
            walked.extend(row["session_id"] for row in page.items)
            offset = page.next_offset
        assert walked == whole and sorted(whole) == ["s1", "s2", "s3"]
    with pytest.raises(ValueError, match="unknown sort"):
        sessions.list_users(project_id, *RANGE, sort="cost; DROP TABLE spans_desc")
    with pytest.raises(ValueError, match="limit"):
        sessions.list_users(project_id, *RANGE, limit=0)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (TraceFilter(metadata=(("prompt.name", "qa"),)), "ad"),
        (TraceFilter(metadata=(("prompt.name", "qa"), ("prompt.version", "2"))), "d"),
        (TraceFilter(metadata=((ODD_KEY, ODD_VALUE),)), "b"),
        (TraceFilter(metadata=((ODD_KEY, "a"),)), ""),
        (TraceFilter(metadata_exists=(ODD_KEY,)), "b"),
        (TraceFilter(metadata_exists=("prompt.version", "prompt.name")), "ad"),
        # Durations: A, B, E 2 s; C's child moved into the range; D's child ends 400 s on.
        (TraceFilter(min_duration_us=2_000_000, max_duration_us=2_000_000), "abe"),
        (TraceFilter(min_duration_us=2_000_001), "cd"),
        (TraceFilter(min_cost=0.5), "bc"),
        (TraceFilter(max_cost=0.00001), "d"),  # bound as 1e-05
        (TraceFilter(min_cost=0.125, max_cost=0.25), "ae"),
        (TraceFilter(start_us=RANGE[0], end_us=RANGE[1], min_cost=0.2, user_id="u1"), "ab"),
    ],
)
def test_metadata_duration_and_cost_filters(
    trace_store: TraceStore,
    project_id: str,
    stored: dict[str, list[dict]],
    flt: TraceFilter,
    expected: str,
) -> None:
    page = trace_store.list_traces(project_id, flt, limit=50)
    assert {item["trace_id"][0] for item in page.items} == set(expected)


def test_metrics_by_release_and_prompt(
    trace_store: TraceStore, project_id: str, stored: dict[str, list[dict]]
) -> None:
    window = (BASE_US - DAY_US, BASE_US + 2 * DAY_US)
    by_release = {r["release"]: r for r in trace_store.metrics(project_id, *window, ["release"])}
    # Only roots carry a release here: their children are in the '' group.
    assert {k: r["count"] for k, r in by_release.items()} == {"": 6, "v1": 2, "v2": 2}
    assert by_release[""]["total_tokens"] == 10 + 7 + 100 + 3 + 1
    prompts = trace_store.metrics(project_id, *window, ["prompt_name", "prompt_version"])
    assert [(r["prompt_name"], r["prompt_version"], r["count"]) for r in prompts] == [
        ("qa", "1", 1),
        ("qa", "2", 1),
    ]
    by_day = trace_store.metrics(project_id, *window, ["day", "prompt_name"])
    first_day = dt.datetime.fromtimestamp(BASE_US / 1e6, dt.UTC).date()
    assert [(r["day"], r["prompt_name"], r["count"]) for r in by_day] == [
        (first_day.isoformat(), "qa", 1),
        ((first_day + dt.timedelta(days=1)).isoformat(), "qa", 1),
    ]
