"""Seeding the dashboard tests: a user with projects, traces sent through the real ingest
API (llm, retrieval and tool spans, one failing trace) and judge scores in the scores table."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import orjson
from haloscope.evaluators.embeddings import Embedder
from haloscope.platform.auth.api_keys import create_api_key, create_project
from haloscope.platform.auth.users import add_member, create_user
from haloscope.platform.jobs.drift_job import DriftWindows, run_drift_job
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

from tests.api.spans import new_span_id, new_trace_id

PASSWORD = "correct horse battery"
JUDGE_REASON = "The answer claims a 60-day refund window; the context says 30 days."
EVIDENCE = [
    {"claim": "Refunds are accepted within 60 days.", "label": "unsupported", "quote": ""},
    {
        "claim": "Refunds go back to the original card.",
        "label": "supported",
        "quote": "Refunds are paid to the original payment method.",
    },
]


@dataclass
class SeededProject:
    """A project, its key pair and what was sent to it."""

    project_id: str
    name: str
    public_key: str
    secret_key: str
    traces: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def auth(self) -> tuple[str, str]:
        """The key pair for httpx's ``auth=``."""
        return (self.public_key, self.secret_key)


def create_member(
    sessions: sessionmaker[Session], project_names: list[str], role: str = "owner"
) -> tuple[str, list[SeededProject]]:
    """A fresh user (password PASSWORD) owning new projects; returns the email and projects."""
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    projects = []
    with sessions.begin() as db:
        user = create_user(db, email, PASSWORD)
        for name in project_names:
            project = create_project(db, f"{name}-{uuid.uuid4().hex[:8]}")
            issued = create_api_key(db, project.id, note="tests")
            add_member(db, user.id, project.id, role)
            projects.append(
                SeededProject(project.id, project.name, issued.public_key, issued.secret_key)
            )
    return email, projects


def rag_trace(t0: int, question: str, *, fail: bool = False, user: str = "user-1") -> list[dict]:
    """A support-bot request: chain root, retrieval, a tool call and an LLM answer."""
    trace_id = new_trace_id()
    root, retrieve, tool, llm = (new_span_id() for _ in range(4))
    common = {"trace_id": trace_id, "user_id": user, "session_id": f"sess-{user}"}
    answer = "Refunds are accepted within 60 days."
    llm_span: dict[str, Any] = {
        **common,
        "span_id": llm,
        "parent_span_id": root,
        "name": "chat gpt-4o-mini",
        "kind": "llm",
        "start_time": t0 + 120_000,
        "end_time": t0 + 900_000,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "messages": [
            {"role": "system", "content": "Answer from the context only."},
            {"role": "user", "content": question},
        ],
        "output": {"role": "assistant", "content": answer},
        "usage": {"prompt_tokens": 420, "completion_tokens": 24},
        "cost": 0.00021,
    }
    if fail:
        llm_span.update(status="error", status_message="RateLimitError: slow down", output=None)
    return [
        {
            **common,
            "span_id": root,
            "parent_span_id": None,
            "name": "answer_question",
            "kind": "chain",
            "start_time": t0,
            "end_time": t0 + 950_000,
            "input": {"question": question},
            "output": None if fail else answer,
            "release": "v2.0.0",
            "tags": ["prod", "rag"],
            **({"status": "error", "status_message": "RateLimitError"} if fail else {}),
        },
        {
            **common,
            "span_id": retrieve,
            "parent_span_id": root,
            "name": "retrieve",
            "kind": "retrieval",
            "start_time": t0 + 10_000,
            "end_time": t0 + 60_000,
            "input": question,
            "documents": [
                {"id": "kb-refunds", "score": 0.91, "content": "Refunds within 30 days."},
                {"id": "kb-shipping", "score": 0.37, "content": "Shipping takes 5 days."},
            ],
        },
        {
            **common,
            "span_id": tool,
            "parent_span_id": root,
            "name": "lookup_order",
            "kind": "tool",
            "start_time": t0 + 65_000,
            "end_time": t0 + 110_000,
            "tool": {"name": "lookup_order", "arguments": {"order_id": "A-1001"}},
            "output": {"status": "delivered"},
        },
        llm_span,
    ]


def send_traces(base_url: str, project: SeededProject, traces: list[list[dict]]) -> None:
    """POST the traces through the SDK ingest route; every span must be accepted."""
    spans = [span for trace in traces for span in trace]
    response = httpx.post(
        f"{base_url}/api/v1/ingest",
        content=orjson.dumps({"sdk": {"name": "tests"}, "spans": spans}),
        headers={"Content-Type": "application/json"},
        auth=project.auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    for trace in traces:
        project.traces[trace[0]["trace_id"]] = trace


def judge_score(project: SeededProject, trace: list[dict], value: float, label: str) -> dict:
    """A hallucination score of the trace's LLM span with a reason and per-claim evidence."""
    llm = next(s for s in trace if s["kind"] == "llm")
    return {
        "project_id": project.project_id,
        "trace_id": llm["trace_id"],
        "span_id": llm["span_id"],
        "timestamp": llm["start_time"],
        "name": "hallucination.rag",
        "evaluator_version": "v1",
        "value": value,
        "label": label,
        "reason": JUDGE_REASON,
        "evidence": orjson.dumps(EVIDENCE).decode(),
        "source": "judge",
    }


def seed_support_bot(
    base_url: str, store: TraceStore, project: SeededProject, flush: Any
) -> dict[str, str]:
    """Three traces (one failing), a hallucination score on the first and a faithfulness
    score on the second; returns trace ids by role."""
    now = int(time.time() * 1_000_000)
    traces = [
        rag_trace(now - 3_600_000_000, "What is the refund window?"),
        rag_trace(now - 2_400_000_000, "Where is my order A-1001?", user="user-2"),
        rag_trace(now - 1_200_000_000, "Can I pay with PayPal?", fail=True, user="user-3"),
    ]
    send_traces(base_url, project, traces)
    flush()
    hallucinated, faithful, failed = (t[0]["trace_id"] for t in traces)
    second_llm = next(s for s in traces[1] if s["kind"] == "llm")
    store.insert_scores(
        [
            judge_score(project, traces[0], 0.93, "hallucinated"),
            {
                "project_id": project.project_id,
                "trace_id": faithful,
                "span_id": second_llm["span_id"],
                "timestamp": second_llm["start_time"],
                "name": "faithfulness",
                "evaluator_version": "v1",
                "value": 0.8,
                "reason": "4 of 5 claims are supported by the context.",
                "source": "judge",
            },
        ]
    )
    return {"hallucinated": hallucinated, "faithful": faithful, "failed": failed}


# --- Drift reports (the Drift page) --------------------------------------------------------

DRIFT_SPANS_PER_WINDOW = 120
DRIFT_QUESTIONS = ("How do I reset my password?", "Where is my parcel?", "Can I get a refund?")


def _drift_window_spans(
    project_id: str, start: datetime, rng: np.random.Generator, latency_ms: float, tokens: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """LLM spans spread over the hour after ``start`` with a faithfulness score each."""
    spans, scores = [], []
    base_us = int(start.timestamp() * 1_000_000)
    for offset in rng.integers(0, 3_500_000_000, DRIFT_SPANS_PER_WINDOW):
        start_us, span_id = base_us + int(offset), new_span_id()
        total = int(rng.normal(tokens, tokens * 0.1))
        span = {
            "project_id": project_id,
            "trace_id": new_trace_id(),
            "span_id": span_id,
            "name": "generate",
            "kind": "llm",
            "start_time": start_us,
            "end_time": start_us + int(rng.normal(latency_ms, latency_ms * 0.1) * 1000),
            "input": orjson.dumps({"question": str(rng.choice(DRIFT_QUESTIONS))}).decode(),
            "output": "a" * int(rng.integers(200, 260)),
            "total_tokens": total,
            "cost": total * 1e-6,
        }
        spans.append(span)
        scores.append(
            {
                "project_id": project_id,
                "trace_id": span["trace_id"],
                "span_id": span_id,
                "timestamp": start_us,
                "name": "faithfulness",
                "value": float(rng.beta(8, 2)),
                "source": "sampling",
            }
        )
    return spans, scores


def seed_drift_report(
    store: TraceStore,
    sessions: sessionmaker[Session],
    project_id: str,
    end: datetime,
    *,
    shifted: bool = True,
    embedder: Embedder | None = None,
) -> str:
    """Spans and scores in two one-hour windows before ``end`` (latency and tokens doubled in
    the current one when ``shifted``), then a report from the drift job itself
    (``run_drift_job``; with ``embedder``, the ``input_embedding`` feature too). Returns the
    report's id."""
    windows = DriftWindows.previous(end, hours=1)
    rng = np.random.default_rng(11)
    baseline = _drift_window_spans(project_id, windows.baseline_start, rng, 800, 500)
    factor = 2 if shifted else 1
    current = _drift_window_spans(
        project_id, windows.current_start, rng, 800 * factor, 500 * factor
    )
    store.insert_spans(baseline[0] + current[0])
    store.insert_scores(baseline[1] + current[1])
    with sessions.begin() as session:
        record = run_drift_job(
            session, store, project_id, windows, embedder=embedder, embedding_sample_size=24
        )
        return record.id
