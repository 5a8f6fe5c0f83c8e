"""Eval runs started from the dashboard, run by the embedded worker: the form queues the run,
the page shows its progress until it completes, and the run is recorded with its items like
one ``haloscope eval run`` records (so it can be compared item by item)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from haloscope.platform.api.app import create_app
from haloscope.platform.db.engine import make_engine, make_sessionmaker
from haloscope.platform.db.models import EvalRunJob
from haloscope.platform.evals import records
from haloscope.platform.evals.datasets import load_items_file
from haloscope.platform.jobs.embedded import EmbeddedJobs
from haloscope.platform.jobs.runtime import get_runtime
from haloscope.platform.store import TraceStore
from haloscope.platform.store.eval_items import EvalItemStore
from haloscope.web import mount_dashboard
from sqlalchemy.orm import Session, sessionmaker

from tests.support.api_fixtures import serve_in_thread
from tests.web.conftest import csrf_token_in, sign_in
from tests.web.seed import create_member

REPO = Path(__file__).resolve().parents[2]
DATASET = REPO / "examples" / "rag" / "dataset.jsonl"
PROGRESS = re.compile(r'data-progress="(\d+)/(\d+)"')


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """Two function targets (one slow enough to watch) and the example config at a
    concurrency of 2, registered for dashboard runs."""
    config = tmp_path / "eval.yaml"
    example = (REPO / "examples" / "rag" / "eval.yaml").read_text()
    config.write_text(example.replace("concurrency: 4", "concurrency: 2"))
    path = tmp_path / "eval-targets.yaml"
    path.write_text(
        "targets:\n"
        "  rag-slow: {function: 'tests.evals.noisy_targets:slow_answer'}\n"
        "  rag-regressed: {function: 'examples.rag.app:answer_truncated_index'}\n"
        "configs:\n"
        "  rag: eval.yaml\n"
    )
    return path


@pytest.fixture
def site(
    embedded: EmbeddedJobs,
    chdb_store: TraceStore,
    metadata_url: str,
    registry: Path,
    tmp_path: Path,
) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """API + dashboard on the embedded worker's broker and metadata DB, with the registry."""
    runtime = get_runtime()
    runtime.settings = runtime.settings.replace(eval_targets=str(registry))
    settings = runtime.settings.replace(ingest_workers=0, rate_limit_per_s=0, auth_cache_ttl_s=0)
    engine = make_engine(metadata_url)
    sessions = make_sessionmaker(engine)
    app = create_app(settings, store=chdb_store, sessionmaker=sessions)
    mount_dashboard(app, settings=settings, store=chdb_store, sessionmaker=sessions)
    with serve_in_thread(app) as base_url:
        yield base_url, sessions
    engine.dispose()


def _start(client: httpx.Client, project_id: str, target: str) -> str:
    page = client.get(f"/projects/{project_id}/datasets")
    assert 'id="run-target"' in page.text and target in page.text
    started = client.post(
        f"/projects/{project_id}/datasets/runs",
        data={"dataset_version": "rag@1", "target": target, "config": "rag", "prompt": "",
              "csrf_token": csrf_token_in(page.text)},
    )  # fmt: skip
    assert started.status_code == 303, started.text
    return started.headers["location"]


def _wait(client: httpx.Client, location: str, timeout_s: float = 180) -> tuple[str, set]:
    """Poll the job page until the run finishes: its final page and the progress values seen."""
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = client.get(location)
        assert page.status_code == 200
        seen.update((int(a), int(b)) for a, b in PROGRESS.findall(page.text))
        if 'data-job-status="completed"' in page.text or 'data-job-status="failed"' in page.text:
            return page.text, seen
        assert page.headers["refresh"] == "2"
        time.sleep(0.05)
    raise AssertionError(f"the run did not finish in {timeout_s} s")


def test_a_dashboard_run_completes_on_the_worker_with_progress(
    site: tuple[str, sessionmaker[Session]],
) -> None:
    base_url, sessions = site
    email, (project,) = create_member(sessions, ["dashboard-runs"])
    records.add_dataset_version(
        sessions, project.project_id, "rag", load_items_file(DATASET), "test"
    )
    with httpx.Client(base_url=base_url, timeout=60) as client:
        assert sign_in(client, email).status_code == 303
        location = _start(client, project.project_id, "rag-slow")
        final, seen = _wait(client, location)
        assert 'data-job-status="completed"' in final, final
        assert ("40/40") in final and "refresh" not in client.get(location).headers
        assert any(0 < done < 40 for done, _ in seen), f"no progress between: {sorted(seen)}"
        with sessions() as db:
            (job,) = db.query(EvalRunJob).filter_by(project_id=project.project_id).all()
            run = records.get_run(db, project.project_id, job.run_id)
        assert run["item_count"] == 40 and run["target"] == (
            "python:tests.evals.noisy_targets:slow_answer"
        )
        assert run["summary"]["correct"]["value"] == 1.0
        items = EvalItemStore(get_runtime().store.driver)
        assert items.count(project.project_id, job.run_id) == 40

        regressed = _start(client, project.project_id, "rag-regressed")
        final, _ = _wait(client, regressed)
        assert 'data-job-status="completed"' in final
        compare_form = re.search(r'name="run" value="([^"]+)"', final)
        assert compare_form is not None
        compared = client.get(
            f"/projects/{project.project_id}/datasets/compare",
            params=[("run", job.run_id), ("run", compare_form.group(1)), ("regressed", "1"),
                    ("metric", "correct")],
        )  # fmt: skip
        assert compared.status_code == 200
        assert compared.text.count('data-regressed="true"') == 17
        listed = client.get(f"/projects/{project.project_id}/datasets").text
        assert listed.count('data-job-status="completed"') == 2
