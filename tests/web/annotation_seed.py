"""Seeding the annotation page tests: the support bot's traces, score configs, a queue of
its traces, and more members of the project."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from haloscope.platform.auth.users import add_member, create_user

from tests.web.conftest import LiveDashboard
from tests.web.seed import PASSWORD, SeededProject, seed_support_bot

# The seeded faithfulness score's reason (judge source): what must stay hidden until labelled.
FAITHFUL_REASON = "4 of 5 claims are supported by the context."
CONFIGS = (
    {"name": "correct", "value_type": "boolean", "description": "the answer is right"},
    {"name": "tone", "value_type": "categorical", "categories": ["polite", "curt", "rude"]},
)


def add_user(dashboard: LiveDashboard, project_id: str, role: str) -> str:
    """A new user (password PASSWORD) with ``role`` in the project; their email."""
    email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    with dashboard.sessionmaker.begin() as db:
        add_member(db, create_user(db, email, PASSWORD).id, project_id, role)
    return email


def seed_queue(
    dashboard: LiveDashboard, project: SeededProject, **queue: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """The support bot's three traces with their judge scores, the score configs CONFIGS and
    a queue of every trace (newest first: the failed, the faithful, the hallucinated one)
    through the API; returns the queue and the trace ids by role."""
    ids = seed_support_bot(dashboard.base_url, dashboard.store, project, dashboard.flush)
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=60) as api:
        for config in CONFIGS:
            assert api.post("/api/v1/score-configs", json=config).status_code == 201
        body = {
            "name": "support answers",
            "score_names": ["correct", "tone"],
            "source": {"kind": "filter"},
            "description": "Is the answer right and polite?",
            **queue,
        }
        created = api.post("/api/v1/annotation-queues", json=body)
        assert created.status_code == 201, created.text
    return created.json(), ids
