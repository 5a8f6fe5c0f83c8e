"""Datasets and eval runs in the metadata DB, always scoped to one project."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haloscope.platform.db.models import Dataset, DatasetVersion, EvalRun
from haloscope.platform.evals.datasets import DatasetItem, check_dataset_name
from haloscope.platform.evals.jsonutil import content_hash
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

VERSION_RETRIES = 5


class NotFoundError(LookupError):
    """No such dataset, version or run in the project."""


class ConflictError(ValueError):
    """The record already exists (e.g. a run id recorded twice)."""


def version_json(dataset: Dataset, version: DatasetVersion, with_items: bool) -> dict[str, Any]:
    """A dataset version as an API object."""
    body = {
        "dataset": dataset.name,
        "version": version.version,
        "item_count": version.item_count,
        "content_hash": version.content_hash,
        "source": version.source,
        "created_at": version.created_at.isoformat(),
    }
    if with_items:
        body["items"] = version.items
    return body


def add_dataset_version(
    sessions: sessionmaker[Session],
    project_id: str,
    name: str,
    items: Sequence[DatasetItem],
    source: str,
) -> dict[str, Any]:
    """Insert ``items`` as the next version of dataset ``name`` (created on first import).

    Concurrent imports are serialised by the unique (dataset, version) constraint: the loser
    retries with the next number, so no version is ever overwritten.
    """
    check_dataset_name(name)
    payload = [item.as_dict() for item in items]
    for _ in range(VERSION_RETRIES):
        try:
            with sessions.begin() as session:
                dataset = _dataset(session, project_id, name) or _create_dataset(
                    session, project_id, name
                )
                latest = session.scalar(
                    select(func.max(DatasetVersion.version)).where(
                        DatasetVersion.dataset_id == dataset.id
                    )
                )
                version = DatasetVersion(
                    dataset_id=dataset.id,
                    version=(latest or 0) + 1,
                    item_count=len(payload),
                    content_hash=content_hash(payload),
                    source=source[:200],
                    items=payload,
                )
                session.add(version)
                session.flush()
                return version_json(dataset, version, with_items=False)
        except IntegrityError:
            continue
    raise ConflictError(f"dataset {name!r} is being imported concurrently; retry")


def _dataset(session: Session, project_id: str, name: str) -> Dataset | None:
    return session.scalar(
        select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name)
    )


def _create_dataset(session: Session, project_id: str, name: str) -> Dataset:
    dataset = Dataset(project_id=project_id, name=name)
    session.add(dataset)
    session.flush()
    return dataset


def get_dataset_version(
    session: Session, project_id: str, name: str, version: int | None
) -> dict[str, Any]:
    """A version (None: the latest) of the project's dataset ``name``, with its items."""
    dataset = _dataset(session, project_id, name)
    if dataset is None:
        raise NotFoundError(f"dataset {name!r} not found")
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
    if version is None:
        query = query.order_by(DatasetVersion.version.desc()).limit(1)
    else:
        query = query.where(DatasetVersion.version == version)
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(f"dataset {name!r} has no version {version}")
    return version_json(dataset, row, with_items=True)


def list_datasets(session: Session, project_id: str) -> list[dict[str, Any]]:
    """The project's datasets with their latest version number."""
    rows = session.execute(
        select(Dataset.name, func.max(DatasetVersion.version), Dataset.created_at)
        .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
        .where(Dataset.project_id == project_id)
        .group_by(Dataset.id, Dataset.name, Dataset.created_at)
        .order_by(Dataset.name)
    ).all()
    return [
        {"name": name, "latest_version": latest, "created_at": created.isoformat()}
        for name, latest, created in rows
    ]


def run_json(run: EvalRun) -> dict[str, Any]:
    """An eval run as an API object."""
    return {
        "run_id": run.run_id,
        "project_id": run.project_id,
        "dataset": run.dataset,
        "dataset_version": run.dataset_version,
        "target": run.target,
        "git_commit": run.git_commit,
        "git_branch": run.git_branch,
        "item_count": run.item_count,
        "summary": run.summary,
        "verdict": run.verdict,
        "gate": run.gate,
        "created_at": run.created_at.isoformat(),
    }


def record_run(
    sessions: sessionmaker[Session], project_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Store a run summary; a run id already recorded in the project is a conflict."""
    try:
        with sessions.begin() as session:
            run = EvalRun(project_id=project_id, **body)
            session.add(run)
            session.flush()
            return run_json(run)
    except IntegrityError as exc:
        raise ConflictError(f"eval run {body['run_id']!r} is already recorded") from exc


def _run(session: Session, project_id: str, run_id: str) -> EvalRun:
    run = session.scalar(
        select(EvalRun).where(EvalRun.project_id == project_id, EvalRun.run_id == run_id)
    )
    if run is None:
        raise NotFoundError(f"eval run {run_id!r} not found")
    return run


def record_gate(
    sessions: sessionmaker[Session], project_id: str, run_id: str, gate: dict[str, Any]
) -> dict[str, Any]:
    """Attach (or replace) the gate report and verdict of a recorded run."""
    with sessions.begin() as session:
        run = _run(session, project_id, run_id)
        run.gate = gate
        run.verdict = str(gate.get("verdict", ""))[:16]
        return run_json(run)


def get_run(session: Session, project_id: str, run_id: str) -> dict[str, Any]:
    """One recorded run of the project."""
    return run_json(_run(session, project_id, run_id))


def list_runs(session: Session, project_id: str, limit: int) -> list[dict[str, Any]]:
    """The project's most recent runs, newest first."""
    rows = session.scalars(
        select(EvalRun)
        .where(EvalRun.project_id == project_id)
        .order_by(EvalRun.created_at.desc())
        .limit(limit)
    )
    return [run_json(run) for run in rows]
