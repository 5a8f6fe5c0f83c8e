"""Model prices: the price table a project's spans are costed with (shipped prices and the
project's own), adding and deleting project prices, and recomputing stored costs after a change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from haloscope.platform.api.context import ApiContext
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.job_dependencies import Context, Project, Sessions, StrictBody
from haloscope.platform.api.query_params import parse_timestamp
from haloscope.platform.pricing import project_prices
from haloscope.platform.pricing.project_prices import PriceError
from haloscope.platform.pricing.repricing import reprice_project
from haloscope.platform.pricing.table import PER_MILLION
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

router = APIRouter(prefix="/api/v1")


class PriceBody(StrictBody):
    """A project price: USD per one million tokens for the models ``model_pattern`` matches
    (a regular expression, matched in full, case-insensitively)."""

    model_pattern: str = Field(min_length=1, max_length=200)
    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None = None
    effective_from: str | None = None
    note: str = Field("", max_length=500)


class RepriceBody(StrictBody):
    """Which stored costs to recompute: models matching ``model_pattern`` from ``since``."""

    model_pattern: str = Field(min_length=1, max_length=200)
    since: str


@router.get("/model-prices")
def list_model_prices(
    project_id: Project, sessions: Sessions, model: str | None = None, at: str | None = None
) -> dict[str, Any]:
    """The project's prices and the shipped ones; with ``model``, the price that applies to it
    at ``at`` (default now) under ``price``."""
    with sessions() as session:
        records = project_prices.list_prices(session, project_id)
        table = project_prices.project_table(session, project_id)
    answer: dict[str, Any] = {
        "project": [project_prices.record_as_dict(r) for r in records],
        "shipped": [project_prices.price_as_dict(p) for p in table.prices if p.source == "shipped"],
    }
    if model is not None:
        at_us = parse_timestamp("at", at) or int(datetime.now(UTC).timestamp() * PER_MILLION)
        price = table.price_at(model, at_us)
        answer["price"] = None if price is None else project_prices.price_as_dict(price)
    return answer


@router.post("/model-prices", status_code=201)
def add_model_price(
    body: PriceBody, project_id: Project, sessions: Sessions, ctx: Context
) -> dict[str, Any]:
    """Add a project price; the project's stored spans it now prices (costs from the price
    table, or none) from ``effective_from`` on are recomputed, counted in ``repriced``."""
    with sessions() as session:
        try:
            record = project_prices.add_price(session, project_id, body.model_dump())
        except PriceError as exc:
            raise ApiError(409 if "exists" in str(exc) else 400, str(exc)) from exc
        session.commit()
        view = project_prices.record_as_dict(record)
    return {**view, "repriced": _reprice(ctx, sessions, project_id, view)}


@router.delete("/model-prices/{price_id}")
def delete_model_price(
    price_id: str, project_id: Project, sessions: Sessions, ctx: Context
) -> dict[str, Any]:
    """Delete a project price; the spans it priced get the price that applies without it."""
    with sessions() as session:
        record = project_prices.find_price(session, project_id, price_id)
        if record is None:
            raise ApiError(404, f"model price {price_id!r} not found")
        view = project_prices.record_as_dict(record)
        session.delete(record)
        session.commit()
    return {"deleted": price_id, "repriced": _reprice(ctx, sessions, project_id, view)}


@router.post("/model-prices/reprice")
def reprice(
    body: RepriceBody, project_id: Project, sessions: Sessions, ctx: Context
) -> dict[str, Any]:
    """Recompute the price-table costs of models matching ``model_pattern`` from ``since``."""
    view = {"model_pattern": body.model_pattern, "effective_from": body.since}
    return {"repriced": _reprice(ctx, sessions, project_id, view)}


def _reprice(
    ctx: ApiContext, sessions: sessionmaker[Session], project_id: str, price: dict[str, Any]
) -> int:
    ctx.prices.forget(project_id)
    try:
        since = project_prices.parse_effective_from(price["effective_from"])
        since_us = int(since.timestamp() * PER_MILLION)
        return reprice_project(
            ctx.store.driver, sessions, project_id, price["model_pattern"], since_us
        )
    except (PriceError, ValueError) as exc:
        raise ApiError(400, str(exc)) from exc
