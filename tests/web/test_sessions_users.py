"""Sessions, users, the trace list's metadata/latency/cost filters and metrics by release and
prompt, on the API and on the dashboard pages, against the hand-written figures of
``tests/web/conversations.py`` (six traces of two users in three sessions)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from tests.web.conftest import LiveDashboard
from tests.web.conversations import (
    BY_PROMPT,
    BY_RELEASE,
    SESSIONS,
    TURNS,
    USERS,
    Conversations,
    seed_conversations,
    turn_spans,
)
from tests.web.seed import create_member, send_traces

TIMES = ("first_seen", "last_seen")


@pytest.fixture(scope="module")
def seeded(dashboard: LiveDashboard) -> tuple[str, Conversations]:
    email, (project,) = create_member(dashboard.sessionmaker, ["conversations"])
    return email, seed_conversations(dashboard, project)


@pytest.fixture
def api(dashboard: LiveDashboard, seeded: tuple[str, Conversations]) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=dashboard.base_url, auth=seeded[1].project.auth, timeout=60
    ) as client:
        yield client


def expected_row(figures: dict, t0: int) -> dict:
    """The hand-written figures with the times made absolute."""
    return {k: (t0 + v if k in TIMES else v) for k, v in figures.items()}


def assert_figures(row: dict, expected: dict) -> None:
    for name, value in expected.items():
        if isinstance(value, float):
            assert row[name] == pytest.approx(value, rel=1e-12), name
        else:
            assert row[name] == value, name


# --- API: sessions and users ---------------------------------------------------------------


def test_the_sessions_list_has_every_figure(
    api: httpx.Client, seeded: tuple[str, Conversations]
) -> None:
    conversations = seeded[1]
    body = api.get("/api/v1/sessions").json()
    assert [row["session_id"] for row in body["data"]] == ["sess-b1", "sess-a2", "sess-a1"]
    assert body["next_offset"] is None
    for row in body["data"]:
        assert_figures(row, expected_row(SESSIONS[row["session_id"]], conversations.t0))
    # The anonymous trace T6 has no session, so it is in no row.
    assert sum(row["traces"] for row in body["data"]) == 5


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("last_seen_desc", ["sess-b1", "sess-a2", "sess-a1"]),
        ("first_seen_asc", ["sess-a1", "sess-a2", "sess-b1"]),
        ("cost_desc", ["sess-b1", "sess-a1", "sess-a2"]),
        ("tokens_asc", ["sess-a2", "sess-a1", "sess-b1"]),
        ("traces_desc", ["sess-a1", "sess-b1", "sess-a2"]),  # ties by session id
        ("errors_desc", ["sess-a2", "sess-b1", "sess-a1"]),
        ("session_id_asc", ["sess-a1", "sess-a2", "sess-b1"]),
    ],
)
def test_the_sessions_list_sorts(api: httpx.Client, sort: str, order: list[str]) -> None:
    body = api.get("/api/v1/sessions", params={"sort": sort}).json()
    assert [row["session_id"] for row in body["data"]] == order


def test_the_sessions_list_pages_and_filters_by_user(api: httpx.Client) -> None:
    seen, offset = [], 0
    while offset is not None:
        body = api.get("/api/v1/sessions", params={"limit": 1, "offset": offset}).json()
        seen.extend(row["session_id"] for row in body["data"])
        offset = body["next_offset"]
    assert seen == ["sess-b1", "sess-a2", "sess-a1"]
    alice = api.get("/api/v1/sessions", params={"user_id": "alice"}).json()["data"]
    assert [row["session_id"] for row in alice] == ["sess-a2", "sess-a1"]
    assert api.get("/api/v1/sessions", params={"user_id": "carol"}).json()["data"] == []


def test_a_session_reads_as_a_conversation_with_its_totals_and_scores(
    api: httpx.Client, seeded: tuple[str, Conversations]
) -> None:
    conversations = seeded[1]
    body = api.get("/api/v1/sessions/sess-a1").json()
    assert body["session_id"] == "sess-a1"
    totals = body["totals"]
    assert_figures(totals, expected_row(SESSIONS["sess-a1"], conversations.t0) | {"spans": 4})
    assert totals["user_ids"] == ["alice"]
    assert body["scores"] == [
        {"name": "hallucination.rag", "scores": 1, "mean": pytest.approx(0.2)},
        {"name": "helpful", "scores": 2, "mean": pytest.approx(0.5)},
    ]
    turns = body["traces"]
    assert [t["trace_id"] for t in turns] == [conversations.ids["T1"], conversations.ids["T2"]]
    first, second = turns
    assert first["input"] == {"question": TURNS[0].question}
    assert first["output"] == TURNS[0].answer
    assert (first["total_tokens"], first["cost"], first["duration_us"]) == (120, 0.001, 1_000_000)
    assert first["scores"] == [
        {"name": "hallucination.rag", "scores": 1, "mean": pytest.approx(0.2)},
        {"name": "helpful", "scores": 1, "mean": 0.0},
    ]
    assert second["scores"] == [{"name": "helpful", "scores": 1, "mean": 1.0}]
    assert second["start_time"] == conversations.t0 + 60_000_000
    # A page of one turn at a time keeps the totals of the whole session.
    page = api.get("/api/v1/sessions/sess-a1", params={"limit": 1, "offset": 1}).json()
    assert [t["trace_id"] for t in page["traces"]] == [conversations.ids["T2"]]
    assert page["next_offset"] is None and page["totals"]["traces"] == 2


def test_a_failed_turn_carries_its_error_and_categorical_scores_have_no_mean(
    api: httpx.Client,
) -> None:
    body = api.get("/api/v1/sessions/sess-b1").json()
    assert body["totals"]["errors"] == 1
    failed = body["traces"][1]
    assert failed["status"] == "error" and failed["output"] is None
    assert failed["error_message"] == "RateLimitError: slow down"
    # The deleted "helpful" score of T4 does not count.
    assert body["scores"] == [{"name": "tone", "scores": 1, "mean": None}]


def test_an_unknown_session_or_user_is_404(api: httpx.Client) -> None:
    assert api.get("/api/v1/sessions/sess-zz").status_code == 404
    assert api.get("/api/v1/users/carol").status_code == 404
    # A range without the session's traces.
    assert api.get("/api/v1/sessions/sess-a1", params={"end": "2001-01-01"}).status_code == 404


def test_the_users_list_and_a_user_have_every_figure(
    api: httpx.Client, seeded: tuple[str, Conversations]
) -> None:
    t0 = seeded[1].t0
    body = api.get("/api/v1/users").json()
    assert [row["user_id"] for row in body["data"]] == ["bob", "alice"]
    for row in body["data"]:
        assert_figures(row, expected_row(USERS[row["user_id"]], t0))
    alice = api.get("/api/v1/users/alice").json()
    assert_figures(alice, expected_row(USERS["alice"], t0))
    assert alice["user_id"] == "alice"


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("traces_desc", ["alice", "bob"]),
        ("sessions_asc", ["bob", "alice"]),
        ("error_rate_desc", ["bob", "alice"]),
        ("tokens_desc", ["bob", "alice"]),
        ("cost_asc", ["alice", "bob"]),
        ("first_seen_asc", ["alice", "bob"]),
        ("last_seen_asc", ["alice", "bob"]),
        ("user_id_desc", ["bob", "alice"]),
    ],
)
def test_the_users_list_sorts_by_each_column(
    api: httpx.Client, sort: str, order: list[str]
) -> None:
    body = api.get("/api/v1/users", params={"sort": sort}).json()
    assert [row["user_id"] for row in body["data"]] == order


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/api/v1/users", {"sort": "name_desc"}, "unknown sort"),
        ("/api/v1/sessions", {"sort": "cost"}, "unknown sort"),
        ("/api/v1/sessions", {"limit": "0"}, "limit"),
        ("/api/v1/users", {"offset": "-1"}, "offset"),
        ("/api/v1/users", {"start": "yesterday"}, "start"),
        ("/api/v1/sessions/sess-a1", {"start": "2030-01-01", "end": "2029-01-01"}, "end"),
    ],
)
def test_malformed_session_and_user_parameters_are_400_with_a_reason(
    api: httpx.Client, path: str, params: dict[str, str], reason: str
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 400
    assert reason in response.json()["error"]


# --- API: trace-list filters and metrics groups --------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"metadata": "tenant=acme"}, {"T1", "T2", "T3"}),
        ({"metadata": "prompt.name=support"}, {"T1", "T2", "T4"}),
        ({"metadata": "prompt.version=2"}, {"T2", "T4"}),
        # Each condition may be met by another span: tenant on the root, prompt on the LLM.
        ({"metadata": ["prompt.name=support", "tenant=globex"]}, {"T4"}),
        ({"metadata": ["prompt.name=support", "prompt.version=3"]}, set()),
        ({"metadata_exists": "prompt.name"}, {"T1", "T2", "T3", "T4"}),
        ({"metadata_exists": ["prompt.name", "tenant"], "metadata": "tenant=globex"}, {"T4"}),
        ({"metadata": "tenant="}, set()),  # an empty value is a value, not "any"
        ({"min_latency_ms": "1500"}, {"T2", "T4", "T5"}),  # bounds are inclusive (T5: 1.5 s)
        ({"max_latency_ms": "500"}, {"T3", "T6"}),
        ({"min_latency_ms": "900", "max_latency_ms": "2000"}, {"T1", "T2", "T5"}),
        ({"min_cost": "0.003"}, {"T4", "T5"}),
        ({"max_cost": "0.0005"}, {"T3", "T6"}),
        ({"min_cost": "0.001", "max_cost": "0.002"}, {"T1", "T2"}),
        ({"metadata": "tenant=globex", "min_latency_ms": "2000"}, {"T4"}),
        ({"metadata": "tenant=acme", "status": "error", "max_cost": "0.01"}, {"T3"}),
        ({"user_id": "alice", "min_cost": "0.0015"}, {"T2"}),
    ],
)
def test_trace_list_metadata_latency_and_cost_filters(
    api: httpx.Client,
    seeded: tuple[str, Conversations],
    params: dict[str, str | list[str]],
    expected: set[str],
) -> None:
    body = api.get("/api/v1/traces", params=params).json()
    assert seeded[1].keys_of([row["trace_id"] for row in body["data"]]) == expected


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"metadata": "tenant"}, "must be key=value"),
        ({"metadata": "=acme"}, "must be key=value"),
        ({"metadata_exists": ""}, None),  # blank: ignored, not an error
        ({"min_latency_ms": "fast"}, "min_latency_ms must be a number"),
        ({"max_latency_ms": "-5"}, "max_latency_ms must be a finite number >= 0"),
        ({"min_cost": "nan"}, "min_cost must be a finite number >= 0"),
        ({"max_cost": "1e309"}, "max_cost must be a finite number >= 0"),
        ({"min_cost": "2", "max_cost": "1"}, "minimum cost must not exceed the maximum"),
        ({"min_latency_ms": "9", "max_latency_ms": "1"}, "minimum latency must not exceed"),
        ({"metadata": [f"k{i}=v" for i in range(21)]}, "at most 20 metadata conditions"),
    ],
)
def test_malformed_trace_filters_are_400_with_a_clear_reason(
    api: httpx.Client, params: dict[str, str | list[str]], reason: str | None
) -> None:
    response = api.get("/api/v1/traces", params=params)
    if reason is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert reason in response.json()["error"]


def _metrics(api: httpx.Client, t0: int, group_by: str) -> list[dict]:
    params = {"group_by": group_by, "start": t0 - 3_600_000_000}
    response = api.get("/api/v1/metrics", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["group_by"] == group_by.split(",")
    return response.json()["data"]


def test_metrics_group_by_release_and_prompt(
    api: httpx.Client, seeded: tuple[str, Conversations]
) -> None:
    t0 = seeded[1].t0
    by_release = _metrics(api, t0, "release")
    assert [row["release"] for row in by_release] == ["v1", "v2"]
    for row in by_release:
        assert_figures(row, BY_RELEASE[row["release"]])
    by_prompt = _metrics(api, t0, "prompt_name,prompt_version")
    assert [(r["prompt_name"], r["prompt_version"]) for r in by_prompt] == sorted(BY_PROMPT)
    for row in by_prompt:
        assert_figures(row, BY_PROMPT[row["prompt_name"], row["prompt_version"]])
    names = {row["prompt_name"]: row for row in _metrics(api, t0, "prompt_name")}
    assert names["support"]["count"] == 3 and names["support"]["total_tokens"] == 720
    assert names["support"]["cost"] == pytest.approx(0.006)
    assert names["faq"]["error_rate"] == 1.0
    versions = _metrics(api, t0, "prompt_version")
    assert {r["prompt_version"]: r["count"] for r in versions} == {"1": 2, "2": 2}


def test_metrics_groups_combine_with_day_model_and_each_other(
    api: httpx.Client, seeded: tuple[str, Conversations]
) -> None:
    t0 = seeded[1].t0
    rows = _metrics(api, t0, "release,prompt_name")
    assert {(r["release"], r["prompt_name"]): r["total_tokens"] for r in rows} == {
        ("v1", "support"): 360,
        ("v2", "faq"): 60,
        ("v2", "support"): 360,
    }
    by_model = _metrics(api, t0, "model,release")
    assert {(r["model"], r["release"]): r["count"] for r in by_model} == {
        ("gpt-4o-mini", "v1"): 3,
        ("gpt-4o-mini", "v2"): 3,
    }
    by_day = _metrics(api, t0, "day,prompt_name")
    assert sum(r["total_tokens"] for r in by_day) == 780
    assert {r["prompt_name"] for r in by_day} == {"faq", "support"}
    assert api.get("/api/v1/metrics", params={"group_by": "tenant"}).status_code == 400


# --- Pages ---------------------------------------------------------------------------------


@dataclass
class Pages:
    """A signed-in member of the seeded project reading its pages."""

    client: httpx.Client
    conversations: Conversations

    @property
    def base(self) -> str:
        return f"/projects/{self.conversations.project.project_id}"

    def get(self, path: str, params: dict[str, str] | None = None, status: int = 200) -> str:
        """The HTML of the project page ``path``, which must answer ``status``."""
        response = self.client.get(f"{self.base}/{path}", params=params)
        assert response.status_code == status, (path, params, response.status_code)
        return response.text

    def listed(self, html: str) -> set[str]:
        """The turn keys of the traces a page links to."""
        ids = re.findall(rf'href="{self.base}/traces/([0-9a-f]{{32}})"', html)
        return self.conversations.keys_of(ids)


@pytest.fixture
def pages(seeded: tuple[str, Conversations], client_for: Callable[[str], httpx.Client]) -> Pages:
    return Pages(client_for(seeded[0]), seeded[1])


def _row(html: str, attributes: str) -> str:
    """The cells of the table row ``<tr {attributes}>``."""
    match = re.search(rf"<tr {re.escape(attributes)}>(.*?)</tr>", html, re.S)
    assert match, f"no row {attributes}"
    return match.group(1)


def _figures(row: str, *names: str) -> tuple[str, ...]:
    found = []
    for name in names:
        match = re.search(rf'data-figure="{name}">(?:<a [^>]*>)?([^<]*)<', row)
        assert match, name
        found.append(match.group(1))
    return tuple(found)


def test_the_sessions_page_shows_every_figure_and_links(pages: Pages) -> None:
    html = pages.get("sessions")
    shown = {
        "sess-a1": ("2", "0", "360", "$0.003"),
        "sess-a2": ("1", "1", "60", "$0.0005"),
        "sess-b1": ("2", "1", "840", "$0.007"),
    }
    for session, figures in shown.items():
        row = _row(html, f'data-session="{session}"')
        assert _figures(row, "traces", "errors", "tokens", "cost") == figures
        assert f'href="{pages.base}/sessions/{session}"' in row
        assert f"traces?range=7d&amp;session={session}" in row
        assert f"traces?range=7d&amp;user={SESSIONS[session]['user_id']}" in row
    assert html.index("sess-b1") < html.index("sess-a2") < html.index("sess-a1")
    bob = pages.get("sessions", {"user": "bob"})
    assert "sess-b1" in bob and "sess-a1" not in bob
    by_cost = pages.get("sessions", {"sort": "cost_asc"})
    assert by_cost.index('"sess-a2"') < by_cost.index('"sess-a1"')
    assert 'aria-sort="ascending"><a href="?range=7d&amp;sort=cost_desc">Cost ↑' in by_cost


def test_the_session_page_reads_as_a_conversation(pages: Pages) -> None:
    html = pages.get("sessions/sess-a1")
    assert 'data-kpi="traces">2<' in html and 'data-kpi="errors">0<' in html
    assert 'data-kpi="tokens">360<' in html and 'data-kpi="cost">$0.003<' in html
    assert 'data-kpi="token-split">300 / 60<' in html
    # Question, answer, question, answer, in time order, each turn linking to its trace.
    said = [TURNS[0].question, TURNS[0].answer, TURNS[1].question, TURNS[1].answer]
    positions = [html.index(text) for text in said]
    assert positions == sorted(positions)
    assert pages.listed(html) == {"T1", "T2"}
    assert re.search(r'data-score="helpful"><th scope="row">helpful</th><td class="num">2<', html)
    assert "0.500" in html and "0.200" in html
    assert "traces?range=90d&amp;user=alice" in html
    failed = pages.get("sessions/sess-b1")
    assert "RateLimitError: slow down" in failed and TURNS[4].question in failed
    pages.get("sessions/nope", status=404)


def test_the_users_page_shows_every_figure_and_links_to_traces_and_sessions(
    pages: Pages,
) -> None:
    html = pages.get("users")
    shown = {
        "alice": ("3", "2", "33.3%", "420", "$0.0035"),
        "bob": ("2", "1", "50.0%", "840", "$0.007"),
    }
    for user, figures in shown.items():
        row = _row(html, f'data-user="{user}"')
        assert _figures(row, "traces", "sessions", "error-rate", "tokens", "cost") == figures
        assert f'href="{pages.base}/traces?range=7d&amp;user={user}"' in row
        assert f'href="{pages.base}/sessions?range=7d&amp;user={user}"' in row
    by_traces = pages.get("users", {"sort": "traces_desc"})
    assert by_traces.index('data-user="alice"') < by_traces.index('data-user="bob"')
    # The user link opens the trace list filtered on that user.
    assert pages.listed(pages.get("traces", {"range": "7d", "user": "alice"})) == {"T1", "T2", "T3"}
    pages.get("users", {"sort": "bogus_desc"}, status=400)
    pages.get("users", {"offset": "x"}, status=400)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"metadata": "prompt.name=support, tenant=globex"}, {"T4"}),
        ({"metadata_exists": "prompt.name"}, {"T1", "T2", "T3", "T4"}),
        ({"min_latency_ms": "1500"}, {"T2", "T4", "T5"}),
        ({"max_latency_ms": "500"}, {"T3", "T6"}),
        ({"min_cost": "0.001", "max_cost": "0.002"}, {"T1", "T2"}),
    ],
)
def test_the_trace_list_page_filters_on_metadata_latency_and_cost(
    pages: Pages, params: dict[str, str], expected: set[str]
) -> None:
    html = pages.get("traces", params)
    assert pages.listed(html) == expected
    for name, value in params.items():  # the form keeps what was typed
        assert re.search(rf'name="{name}"[^>]* value="{re.escape(value)}"', html), name


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"metadata": "tenant"}, "must be key=value"),
        ({"min_cost": "lots"}, "Cost ≥ (USD) must be a number"),
        ({"min_latency_ms": "5", "max_latency_ms": "1"}, "minimum latency must not exceed"),
    ],
)
def test_the_trace_list_page_refuses_malformed_filters_with_a_reason(
    pages: Pages, params: dict[str, str], reason: str
) -> None:
    assert reason in pages.get("traces", params, status=400)


def test_the_releases_page_groups_by_release_and_prompt(pages: Pages) -> None:
    html = pages.get("releases")
    for release, cost, error_rate in (("v1", "$0.0031", "0.0%"), ("v2", "$0.0075", "66.7%")):
        figures = BY_RELEASE[release]
        expected = (str(figures["count"]), str(figures["total_tokens"]), cost, error_rate)
        row = _row(html, f'data-release="{release}"')
        assert _figures(row, "spans", "tokens", "cost", "error-rate") == expected
    for version, figures in (("1", ("120", "$0.001")), ("2", ("600", "$0.005"))):
        row = _row(html, f'data-prompt="support" data-version="{version}"')
        assert _figures(row, "tokens", "cost") == figures
        link = quote(f"prompt.name=support, prompt.version={version}")
        assert f"metadata={link}" in row
    assert f'href="{pages.base}/releases?range=7d"' in pages.get("overview")


def test_session_and_user_ids_with_slashes_and_line_breaks_reach_their_routes(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["odd-ids"])
    session, user = "org/7 ü?#", "team/ann\nsmith"
    trace = turn_spans(TURNS[0], int(time.time() * 1_000_000) - 60_000_000)
    trace[0].update(session_id=session, user_id=user)
    send_traces(dashboard.base_url, project, [trace])
    dashboard.flush()
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=30) as api:
        detail = api.get(f"/api/v1/sessions/{quote(session, safe='/')}")
        assert detail.status_code == 200 and detail.json()["session_id"] == session
        assert api.get(f"/api/v1/users/{quote(user, safe='/')}").json()["traces"] == 1
    page = client_for(email).get(f"/projects/{project.project_id}/sessions/{quote(session)}")
    assert page.status_code == 200 and TURNS[0].question in page.text
    listed = client_for(email).get(f"/projects/{project.project_id}/sessions").text
    assert f'/sessions/{quote(session)}"' in listed  # the list links to it, encoded
