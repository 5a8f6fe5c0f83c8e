"""Seeding the annotation tests: a project with score configs in the metadata DB, RAG traces
and judge scores in the trace store, a sampling rule with runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from haloscope.platform.auth.api_keys import create_project
from haloscope.platform.db.models import SamplingRule, SamplingRun, utcnow
from haloscope.platform.scores.configs import create_score_config
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

from tests.api.spans import new_span_id, new_trace_id
from tests.store.spans import BASE_US, span_row

CONFIGS = (
    {"name": "correct", "value_type": "boolean"},
    {"name": "tone", "value_type": "categorical", "categories": ["polite", "rude"]},
    {"name": "stars", "value_type": "numeric", "min_value": 1, "max_value": 5},
)


@dataclass(frozen=True)
class StoredTrace:
    """A stored RAG trace: its ids and texts."""

    trace_id: str
    root_id: str
    llm_id: str
    question: str
    answer: str
    passage: str
    start_us: int


def new_project(sessions: sessionmaker[Session]) -> str:
    """A project with the CONFIGS score configs; its id."""
    with sessions.begin() as session:
        project = create_project(session, f"annotate-{uuid.uuid4().hex[:10]}")
        for config in CONFIGS:
            create_score_config(session, project.id, config)
        return project.id


def store_trace(
    store: TraceStore, project_id: str, index: int, *, release: str = "v1"
) -> StoredTrace:
    """A chain root, a retrieval and an LLM span; later ``index`` starts later."""
    trace_id, root, retrieve, llm = new_trace_id(), *(new_span_id() for _ in range(3))
    start = BASE_US + index * 60_000_000
    question, answer = f"What is the refund window? #{index}", f"{30 + index} days."
    passage = f"Refunds are accepted within {30 + index} days."
    common: dict[str, Any] = {"release": release}
    store.insert_spans(
        [
            span_row(
                project_id,
                trace_id,
                root,
                name="answer_question",
                kind="chain",
                start_time=start,
                end_time=start + 900_000,
                input=orjson.dumps({"question": question}).decode(),
                output=orjson.dumps(answer).decode(),
                **common,
            ),
            span_row(
                project_id,
                trace_id,
                retrieve,
                parent_span_id=root,
                name="retrieve",
                kind="retrieval",
                start_time=start + 10_000,
                end_time=start + 50_000,
                input=orjson.dumps(question).decode(),
                documents=orjson.dumps([{"id": "kb", "content": passage}]).decode(),
                **common,
            ),
            span_row(
                project_id,
                trace_id,
                llm,
                parent_span_id=root,
                name="generate",
                kind="llm",
                start_time=start + 60_000,
                end_time=start + 800_000,
                input=orjson.dumps({"prompt": question}).decode(),
                output=orjson.dumps(answer).decode(),
                **common,
            ),
        ]
    )
    return StoredTrace(trace_id, root, llm, question, answer, passage, start)


def judge(store: TraceStore, project_id: str, trace: StoredTrace, run_id: str, reason: str) -> None:
    """A hallucination score of the trace's LLM span written by sampling run ``run_id``."""
    store.insert_scores(
        [
            {
                "project_id": project_id,
                "trace_id": trace.trace_id,
                "span_id": trace.llm_id,
                "timestamp": trace.start_us + 60_000,
                "name": "hallucination.rag",
                "evaluator_version": "2",
                "value": 0.9,
                "label": "hallucinated",
                "reason": reason,
                "source": "sampling",
                "sampling_run_id": run_id,
            }
        ]
    )


def sampling_rule(
    sessions: sessionmaker[Session], project_id: str, runs: int
) -> tuple[str, list[str]]:
    """A sampling rule with ``runs`` completed runs: (rule id, run ids)."""
    with sessions.begin() as session:
        rule = SamplingRule(
            project_id=project_id,
            name=f"rule-{uuid.uuid4().hex[:6]}",
            filters={},
            sample_rate=1.0,
            per_day=None,
            evaluators=[{"name": "hallucination.rag", "version": None, "config": {}}],
        )
        session.add(rule)
        session.flush()
        now = utcnow()
        made = []
        for _ in range(runs):
            run = SamplingRun(
                rule_id=rule.id,
                project_id=project_id,
                trigger="api",
                status="completed",
                window_start=now,
                window_end=now,
            )
            session.add(run)
            session.flush()
            made.append(run.id)
        return rule.id, made
