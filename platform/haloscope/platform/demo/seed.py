"""Seed a platform with two weeks of demo traffic through the real SDK and ingest API."""

from __future__ import annotations

import contextlib
import json
import random
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import haloscope.sdk as sdk
from haloscope.platform.auth import api_keys
from haloscope.platform.auth.hashing import random_token
from haloscope.platform.auth.passwords import hash_password
from haloscope.platform.auth.users import add_member, create_user, normalize_email
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker
from haloscope.platform.db.models import Membership, Role, SamplingRule, User
from haloscope.platform.demo.knowledge import QUESTIONS
from haloscope.platform.demo.rag_app import Release, SimulatedClock, SupportAssistant
from haloscope.platform.jobs.rules import RuleSpec, create_rule, find_rule
from sqlalchemy import select
from sqlalchemy.orm import Session

DEMO_PROJECT = "demo"
DEMO_USER_EMAIL = "demo@haloscope.local"
DAYS = 14
RELEASES = (
    Release(
        "v1.3.0",
        models=(("gpt-4o", 0.7), ("claude-3-5-sonnet", 0.3)),
        hallucination_rate=0.03,
        llm_error_rate=0.02,
    ),
    Release(
        "v1.4.0",
        models=(("gpt-4o-mini", 0.85), ("claude-3-5-haiku", 0.15)),
        hallucination_rate=0.12,
        llm_error_rate=0.04,
        extra_tags=("cheaper-model",),
    ),
)


DEMO_RULE = "every-answer"


@dataclass(frozen=True)
class Simulation:
    """What the simulated app did: traces started, answers given, and how many of those
    answers contradict their retrieved passages (the share a sampling run should report)."""

    traces: int
    answers: int
    contradicting: int


@dataclass(frozen=True)
class DemoResult:
    """What ``seed_demo`` did: the demo project, a fresh key pair for it, the simulation it
    sent (None when the project already had traces), the demo dashboard user with its freshly
    set password, and the sampling run it started over every answer (None when not seeded)."""

    project_name: str
    public_key: str
    secret_key: str
    simulation: Simulation | None
    user_email: str
    user_password: str
    sampling_run_id: str | None = None

    @property
    def traces_sent(self) -> int:
        """Traces sent by this call (0 when the project was seeded before)."""
        return self.simulation.traces if self.simulation else 0


def _stored_traces(base_url: str, public_key: str, secret_key: str) -> int:
    """How many traces the project has stored, asked through the metrics API."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/metrics?start=0",
        headers={"Authorization": f"Bearer {public_key}:{secret_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        rows = json.load(response)["data"]
    return int(rows[0]["traces"]) if rows else 0


def _wait_until_stored(base_url: str, keys: tuple[str, str], traces: int, timeout: float) -> None:
    """Block until the ingest writer has flushed ``traces`` traces (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    while _stored_traces(base_url, *keys) < traces and time.monotonic() < deadline:
        time.sleep(0.2)


def _demo_user_password(session: Session, project_id: str) -> str:
    """Create the demo user (owner of the demo project) or give it a new random password;
    returns the password, which is stored only hashed."""
    password = random_token(12)
    user = session.scalar(select(User).where(User.email == normalize_email(DEMO_USER_EMAIL)))
    if user is None:
        user = create_user(session, DEMO_USER_EMAIL, password, "Demo user")
    else:
        user.password_hash = hash_password(password)
    if session.get(Membership, (user.id, project_id)) is None:
        add_member(session, user.id, project_id, Role.OWNER)
    return password


def _issue_demo_access(settings: Settings) -> tuple[str, str, str]:
    """The demo project's new key pair and the demo user's password."""
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    with sessions.begin() as session:
        project = api_keys.get_project_by_name(session, DEMO_PROJECT)
        if project is None:
            project = api_keys.create_project(session, DEMO_PROJECT)
        issued = api_keys.create_api_key(session, project.id, note="haloscope up --demo")
        password = _demo_user_password(session, project.id)
    return issued.public_key, issued.secret_key, password


def run_simulation(
    *, traces_per_day: int = 40, days: int = DAYS, seed: int = 7, end: datetime | None = None
) -> Simulation:
    """Drive the instrumented app over ``days`` of simulated traffic."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    start = end - timedelta(days=days)
    clock = SimulatedClock(int(start.timestamp() * 1_000_000))
    app = SupportAssistant(clock, rng)
    users = [f"user-{i:03d}" for i in range(60)]
    sdk.set_clock(clock)
    sent = 0
    try:
        for day in range(days):
            release = RELEASES[0] if day < days * 0.6 else RELEASES[1]
            day_start = start + timedelta(days=day)
            volume = max(1, int(traces_per_day * rng.uniform(0.7, 1.3)))
            for offset in sorted(rng.uniform(7, 23) for _ in range(volume)):
                clock.now_us = int((day_start + timedelta(hours=offset)).timestamp() * 1_000_000)
                user = rng.choice(users)
                session_id = f"sess-{user}-{day}-{int(offset)}"
                question = rng.choice(QUESTIONS)
                # Failures are part of the demo: the SDK records them on the spans.
                with contextlib.suppress(Exception):
                    app.answer(question.text, user, session_id, release)
                sent += 1
    finally:
        sdk.set_clock(None)
    return Simulation(sent, app.answers, app.contradicting)


def demo_rule(session: Session, project_id: str) -> SamplingRule:
    """The demo's sampling rule: every LLM answer of the two simulated weeks, judged by the
    default evaluators (created once)."""
    rule = find_rule(session, project_id, DEMO_RULE)
    if rule is None:
        spec = RuleSpec(
            name=DEMO_RULE,
            filters={"kinds": ["llm"]},
            sample_rate=1.0,
            window_hours=(DAYS + 1) * 24,
            max_items_per_run=2000,
        )
        rule = create_rule(session, project_id, spec)
    return rule


def seed_demo(settings: Settings, *, base_url: str, start_run: bool = True) -> DemoResult:
    """Create the demo project, key and user, and send demo traces unless it has some; then
    (``start_run``) start a sampling run of the demo rule over every answer just sent."""
    public_key, secret_key, password = _issue_demo_access(settings)
    if _stored_traces(base_url, public_key, secret_key):
        return DemoResult(DEMO_PROJECT, public_key, secret_key, None, DEMO_USER_EMAIL, password)
    sdk.init(host=base_url, public_key=public_key, secret_key=secret_key)
    simulation = run_simulation()
    sdk.flush(timeout=60)
    _wait_until_stored(base_url, (public_key, secret_key), simulation.traces, timeout=30)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    with sessions.begin() as session:
        project = api_keys.get_project_by_name(session, DEMO_PROJECT)
        assert project is not None  # created by _issue_demo_access
        rule = demo_rule(session, project.id)
    run_id = None
    if start_run:
        from haloscope.platform.jobs import create_celery_app
        from haloscope.platform.jobs.tasks import start_sampling_run

        run_id = start_sampling_run(create_celery_app(settings), sessions, rule, "demo")
    return DemoResult(
        DEMO_PROJECT, public_key, secret_key, simulation, DEMO_USER_EMAIL, password, run_id
    )
