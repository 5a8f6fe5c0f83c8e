"""Judge scores and human labels for the feedback tests: judge rows written as a sampling run
writes them, labels posted through the score API."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from haloscope.platform.store import TraceStore

from tests.api.spans import new_span_id, new_trace_id

EVALUATOR, VERSION = "hallucination.rag", "2"
LABEL = "is_hallucinated"


@dataclass
class Target:
    """A judged span."""

    trace_id: str = field(default_factory=new_trace_id)
    span_id: str = field(default_factory=new_span_id)
    timestamp: int = field(default_factory=lambda: time.time_ns() // 1000 - 3_600_000_000)


def judge(
    store: TraceStore,
    project_id: str,
    target: Target,
    value: float,
    label: str | None = None,
    *,
    version: str = VERSION,
    evidence: str = "",
) -> None:
    """Store a judge score of ``hallucination.rag@version`` on ``target`` (label: from 0.5)."""
    if label is None:
        label = "hallucinated" if value >= 0.5 else "faithful"
    store.insert_scores(
        [
            {
                "project_id": project_id,
                "trace_id": target.trace_id,
                "span_id": target.span_id,
                "timestamp": target.timestamp,
                "name": EVALUATOR,
                "evaluator_version": version,
                "value": value,
                "label": label,
                "reason": "",
                "evidence": evidence,
                "source": "sampling",
                "sampling_run_id": "run-test",
            }
        ]
    )


def label(
    client: httpx.Client,
    target: Target,
    value: Any,
    *,
    author: str = "ann",
    name: str = LABEL,
    key: str | None = None,
    span: bool = True,
) -> str:
    """Post a human label on ``target`` (its span, or its trace); the score's id."""
    body = {
        "trace_id": target.trace_id,
        "name": name,
        "value": value,
        "author": author,
        "source": "annotation",
        "timestamp": target.timestamp,
    }
    if span:
        body["span_id"] = target.span_id
    if key is not None:
        body["idempotency_key"] = key
    response = client.post("/api/v1/scores", json=body)
    assert response.status_code == 200, response.text
    return response.json()["scores"][0]["id"]


def labelled(
    store: TraceStore,
    client: httpx.Client,
    project_id: str,
    pairs: list[tuple[float, bool]],
    name: str = LABEL,
) -> list[Target]:
    """One judged and labelled span per ``(judge value, human positive)``."""
    targets = []
    for value, positive in pairs:
        target = Target()
        judge(store, project_id, target, value)
        label(client, target, positive, name=name)
        targets.append(target)
    return targets


def overconfident_pairs(count: int) -> list[tuple[float, bool]]:
    """A judge that says 0.95 or 0.05 and is right on 7 of every 10 items (people: half
    positive)."""
    pairs = []
    for i in range(count):
        positive = i % 2 == 0
        right = i % 10 not in (1, 4, 7)
        says = positive if right else not positive
        pairs.append((0.95 if says else 0.05, positive))
    return pairs
