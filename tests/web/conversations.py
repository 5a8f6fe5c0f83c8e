"""Known conversations for the sessions, users, trace-filter and release/prompt tests: six
traces of two users in three sessions (and one anonymous trace), sent through the real ingest
API, with scores; every figure the API and the pages should show is written out here by hand.

The user and session ids sit on the root span only (as OTel instrumentations send them), so
the LLM child's tokens and cost count for the session through its trace. Each LLM span names
its prompt in metadata (``prompt.name``/``prompt.version``) and every span carries a release.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.spans import new_span_id, new_trace_id
from tests.web.conftest import LiveDashboard
from tests.web.seed import SeededProject, send_traces

SECOND = 1_000_000


@dataclass(frozen=True)
class Turn:
    """One trace: who asked what in which session, and what it cost."""

    key: str
    user: str
    session: str
    offset_s: int
    duration_ms: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    release: str
    prompt: tuple[str, str] | None
    question: str
    answer: str
    fail: bool = False


TURNS = (
    Turn("T1", "alice", "sess-a1", 0, 1000, 100, 20, 0.001, "v1", ("support", "1"),
         "What is the refund window?", "Refunds are accepted within 30 days."),
    Turn("T2", "alice", "sess-a1", 60, 2000, 200, 40, 0.002, "v1", ("support", "2"),
         "And for sale items?", "Sale items can be refunded within 14 days."),
    Turn("T3", "alice", "sess-a2", 120, 500, 50, 10, 0.0005, "v2", ("faq", "1"),
         "Do you ship to Norway?", "", fail=True),
    Turn("T4", "bob", "sess-b1", 180, 3000, 300, 60, 0.003, "v2", ("support", "2"),
         "Where is my order A-1001?", "It was delivered yesterday."),
    Turn("T5", "bob", "sess-b1", 240, 1500, 400, 80, 0.004, "v2", None,
         "Can I pay with PayPal?", "", fail=True),
    Turn("T6", "", "", 300, 200, 10, 2, 0.0001, "v1", None, "ping", "pong"),
)  # fmt: skip
TENANTS = {"alice": "acme", "bob": "globex"}

# What the sessions list shows (first_seen/last_seen as offsets from t0, in µs).
SESSIONS = {
    "sess-a1": {"user_id": "alice", "traces": 2, "errors": 0, "prompt_tokens": 300,
                "completion_tokens": 60, "total_tokens": 360, "cost": 0.003,
                "first_seen": 0, "last_seen": 62 * SECOND},
    "sess-a2": {"user_id": "alice", "traces": 1, "errors": 1, "prompt_tokens": 50,
                "completion_tokens": 10, "total_tokens": 60, "cost": 0.0005,
                "first_seen": 120 * SECOND, "last_seen": 120 * SECOND + 500_000},
    "sess-b1": {"user_id": "bob", "traces": 2, "errors": 1, "prompt_tokens": 700,
                "completion_tokens": 140, "total_tokens": 840, "cost": 0.007,
                "first_seen": 180 * SECOND, "last_seen": 241 * SECOND + 500_000},
}  # fmt: skip
USERS = {
    "alice": {"traces": 3, "sessions": 2, "errors": 1, "error_rate": 1 / 3, "prompt_tokens": 350,
              "completion_tokens": 70, "total_tokens": 420, "cost": 0.0035,
              "first_seen": 0, "last_seen": 120 * SECOND + 500_000},
    "bob": {"traces": 2, "sessions": 1, "errors": 1, "error_rate": 0.5, "prompt_tokens": 700,
            "completion_tokens": 140, "total_tokens": 840, "cost": 0.007,
            "first_seen": 180 * SECOND, "last_seen": 241 * SECOND + 500_000},
}  # fmt: skip
# Per release (span metrics: two spans per trace; a failed trace has two failed spans).
BY_RELEASE = {
    "v1": {"count": 6, "traces": 3, "error_rate": 0.0, "total_tokens": 372, "cost": 0.0031},
    "v2": {"count": 6, "traces": 3, "error_rate": 4 / 6, "total_tokens": 900, "cost": 0.0075},
}
# Per prompt (the LLM spans naming one).
BY_PROMPT = {
    ("faq", "1"): {"count": 1, "traces": 1, "error_rate": 1.0, "total_tokens": 60, "cost": 0.0005},
    ("support", "1"): {"count": 1, "traces": 1, "error_rate": 0.0, "total_tokens": 120,
                       "cost": 0.001},
    ("support", "2"): {"count": 2, "traces": 2, "error_rate": 0.0, "total_tokens": 600,
                       "cost": 0.005},
}  # fmt: skip


@dataclass
class Conversations:
    """The seeded project, the start of the first trace (µs) and trace ids by turn key."""

    project: SeededProject
    t0: int
    ids: dict[str, str]

    def keys_of(self, trace_ids: list[str]) -> set[str]:
        """Turn keys of listed trace ids."""
        by_id = {trace_id: key for key, trace_id in self.ids.items()}
        return {by_id[trace_id] for trace_id in trace_ids}


def turn_spans(turn: Turn, t0: int) -> list[dict[str, Any]]:
    """The root (chain) span with the question, answer, user and session, and its LLM child
    with the tokens, cost and prompt metadata."""
    trace_id, root, llm = new_trace_id(), new_span_id(), new_span_id()
    start = t0 + turn.offset_s * SECOND
    end = start + turn.duration_ms * 1000
    identity = {k: v for k, v in (("user_id", turn.user), ("session_id", turn.session)) if v}
    failed = {"status": "error", "status_message": "RateLimitError: slow down"} if turn.fail else {}
    root_span = {
        "trace_id": trace_id,
        "span_id": root,
        "name": f"answer {turn.key}",
        "kind": "chain",
        "start_time": start,
        "end_time": end,
        "input": {"question": turn.question},
        "output": turn.answer or None,
        "release": turn.release,
        "metadata": {"tenant": TENANTS[turn.user]} if turn.user else {},
        **identity,
        **failed,
    }
    llm_span = {
        "trace_id": trace_id,
        "span_id": llm,
        "parent_span_id": root,
        "name": "chat gpt-4o-mini",
        "kind": "llm",
        "start_time": start + 10_000,
        "end_time": end - 10_000,
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Answer from the policy."},
            {"role": "user", "content": turn.question},
        ],
        "output": {"role": "assistant", "content": turn.answer} if turn.answer else None,
        "usage": {"prompt_tokens": turn.prompt_tokens, "completion_tokens": turn.completion_tokens},
        "cost": turn.cost,
        "release": turn.release,
        "metadata": (
            {"prompt.name": turn.prompt[0], "prompt.version": turn.prompt[1]} if turn.prompt else {}
        ),
        **failed,
    }
    return [root_span, llm_span]


def seed_conversations(dashboard: LiveDashboard, project: SeededProject) -> Conversations:
    """Send the six turns (starting two hours ago), then their scores: a judge score and two
    human ``helpful`` booleans in sess-a1, a categorical ``tone`` in sess-b1, and a deleted
    ``helpful`` on T4 that must not count."""
    t0 = int(time.time() * 1_000_000) - 2 * 3600 * SECOND
    traces = [turn_spans(turn, t0) for turn in TURNS]
    send_traces(dashboard.base_url, project, traces)
    dashboard.flush()
    ids = {turn.key: trace[0]["trace_id"] for turn, trace in zip(TURNS, traces, strict=True)}
    llm_t1 = traces[0][1]
    dashboard.store.insert_scores(
        [
            {
                "project_id": project.project_id,
                "trace_id": ids["T1"],
                "span_id": llm_t1["span_id"],
                "timestamp": llm_t1["start_time"],
                "name": "hallucination.rag",
                "evaluator_version": "v1",
                "value": 0.2,
                "source": "judge",
            }
        ]
    )
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=30) as api:
        for trace, name, value in (
            ("T1", "helpful", False),
            ("T2", "helpful", True),
            ("T4", "tone", "polite"),
            ("T4", "helpful", True),
        ):
            posted = api.post(
                "/api/v1/scores", json={"trace_id": ids[trace], "name": name, "value": value}
            )
            assert posted.status_code == 200, posted.text
        deleted = api.delete(f"/api/v1/scores/{posted.json()['scores'][0]['id']}")
        assert deleted.status_code == 200, deleted.text
    return Conversations(project, t0, ids)
