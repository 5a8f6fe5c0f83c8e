"""Datasets and eval runs: immutable dataset versions (imported or built from traces) and
runs recorded by ``haloscope eval run``/``gate``; all scoped to the key pair's project."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.evals import records
from haloscope.platform.evals.datasets import items_from_dicts
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.trace_items import item_from_trace
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

router = APIRouter(prefix="/api/v1")

MAX_ITEMS = 100_000
MAX_TRACES = 1_000
Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]


def metadata_sessions(request: Request) -> sessionmaker[Session]:
    """FastAPI dependency: the metadata DB session factory of the app."""
    return request.app.state.metadata_sessions


Sessions = Annotated[sessionmaker[Session], Depends(metadata_sessions)]


class DatasetImport(BaseModel):
    """A new dataset version: its items and where they came from."""

    items: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ITEMS)
    source: str = ""


class TraceSelection(BaseModel):
    """Production traces to turn into dataset items."""

    trace_ids: list[str] = Field(min_length=1, max_length=MAX_TRACES)


class MetricSummary(BaseModel):
    """One metric of a run, as ``haloscope eval run`` summarises it (extra fields are kept)."""

    model_config = ConfigDict(extra="allow")

    value: float = Field(allow_inf_nan=False)
    aggregate: str = Field("mean", max_length=50)
    ci_low: float | None = Field(None, allow_inf_nan=False)
    ci_high: float | None = Field(None, allow_inf_nan=False)
    n: int = Field(0, ge=0)
    errors: int = Field(0, ge=0)


class RunRecordBody(BaseModel):
    """A run's identity and per-metric summary (its items stay in the run file)."""

    run_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    dataset: str = Field("", max_length=200)
    dataset_version: str = Field("", max_length=64)
    target: str = Field("", max_length=500)
    git_commit: str = Field("", max_length=64)
    git_branch: str = Field("", max_length=200)
    item_count: int = Field(0, ge=0)
    summary: dict[str, MetricSummary]


def _create_version(
    sessions: sessionmaker[Session], project_id: str, name: str, items: Any, source: str
) -> dict[str, Any]:
    try:
        return records.add_dataset_version(sessions, project_id, name, items, source)
    except EvalUsageError as exc:
        raise ApiError(400, str(exc)) from exc
    except records.ConflictError as exc:
        raise ApiError(409, str(exc)) from exc


@router.post("/datasets/{name}/versions", status_code=201)
def import_dataset_version(
    name: str, body: DatasetImport, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Import items as the next immutable version of dataset ``name``."""
    try:
        items = items_from_dicts(body.items, "items")
    except EvalUsageError as exc:
        raise ApiError(400, str(exc)) from exc
    return _create_version(sessions, project_id, name, items, body.source or "api")


@router.post("/datasets/{name}/versions/from-traces", status_code=201)
def dataset_version_from_traces(
    name: str, body: TraceSelection, project_id: Project, ctx: Context, sessions: Sessions
) -> dict[str, Any]:
    """A new version of ``name`` with one item per trace (input, output, retrieved passages)."""
    items = []
    for trace_id in dict.fromkeys(t.lower() for t in body.trace_ids):
        spans = ctx.store.get_trace(project_id, trace_id)
        if not spans:
            raise ApiError(404, f"trace {trace_id} not found")
        items.append(item_from_trace(trace_id, spans))
    return _create_version(sessions, project_id, name, items, f"traces:{len(items)}")


@router.get("/datasets")
def list_datasets(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's datasets and their latest versions."""
    with sessions() as session:
        return {"data": records.list_datasets(session, project_id)}


@router.get("/datasets/{name}/versions/{version}")
def get_dataset_version(
    name: str, version: str, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """A dataset version with its items; ``latest`` for the newest."""
    if version != "latest" and not version.isdigit():
        raise ApiError(400, "version must be a positive integer or 'latest'")
    with sessions() as session:
        try:
            number = None if version == "latest" else int(version)
            return records.get_dataset_version(session, project_id, name, number)
        except records.NotFoundError as exc:
            raise ApiError(404, str(exc)) from exc


@router.post("/eval-runs", status_code=201)
def record_eval_run(body: RunRecordBody, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """Record an eval run's summary."""
    try:
        return records.record_run(sessions, project_id, body.model_dump())
    except records.ConflictError as exc:
        raise ApiError(409, str(exc)) from exc


@router.put("/eval-runs/{run_id}/gate")
def record_eval_gate(
    run_id: str, gate: dict[str, Any], project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Attach the gate report (with its ``verdict``) to a recorded run."""
    if gate.get("verdict") not in ("pass", "fail"):
        raise ApiError(400, "the gate report needs a 'verdict' of 'pass' or 'fail'")
    try:
        return records.record_gate(sessions, project_id, run_id, gate)
    except records.NotFoundError as exc:
        raise ApiError(404, str(exc)) from exc


@router.get("/eval-runs")
def list_eval_runs(
    project_id: Project, sessions: Sessions, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """The project's recent eval runs, newest first."""
    with sessions() as session:
        return {"data": records.list_runs(session, project_id, limit)}


@router.get("/eval-runs/{run_id}")
def get_eval_run(run_id: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One recorded eval run with its verdict."""
    with sessions() as session:
        try:
            return records.get_run(session, project_id, run_id)
        except records.NotFoundError as exc:
            raise ApiError(404, str(exc)) from exc
