"""The daily retention job: delete what is older than each project's own retention."""

from __future__ import annotations

from haloscope.platform.db.models import Project
from haloscope.platform.store import TraceStore
from haloscope.platform.store.project_retention import (
    delete_project_rows_before,
    retention_cutoff_us,
)
from sqlalchemy import select
from sqlalchemy.orm import Session


def apply_project_retention(
    session: Session, store: TraceStore, now_us: int, cluster: str = ""
) -> dict[str, int]:
    """Delete the rows of every project with its own ``retention_days`` that are older than
    its cutoff; returns each such project's cutoff (µs). Idempotent."""
    projects = session.scalars(select(Project).where(Project.retention_days.is_not(None)))
    cutoffs: dict[str, int] = {}
    for project in projects:
        assert project.retention_days is not None
        cutoff = retention_cutoff_us(now_us, project.retention_days)
        delete_project_rows_before(store.driver, project.id, cutoff, cluster)
        cutoffs[project.id] = cutoff
    return cutoffs
