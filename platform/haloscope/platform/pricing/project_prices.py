"""A project's own model prices in the metadata DB, and the per-project price tables ingest
reads (cached for a few seconds, so a price change reaches every API replica within that)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from haloscope.platform.db.models import ModelPriceRecord
from haloscope.platform.pricing.table import (
    PER_MILLION,
    ModelPrice,
    PriceTable,
    compile_pattern,
    shipped_table,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

MAX_PRICE_PER_MILLION = 1_000_000.0
_PRICE_FIELDS = ("input_per_million", "output_per_million", "cached_input_per_million")


class PriceError(ValueError):
    """An invalid project price; the message says why."""


def parse_effective_from(value: str | date | datetime) -> datetime:
    """A UTC datetime from ``YYYY-MM-DD`` (00:00 UTC) or an ISO 8601 time with a zone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise PriceError(
                f"effective_from {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
            ) from exc
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        if value.time() != datetime.min.time():
            raise PriceError("effective_from with a time of day needs a zone (e.g. Z)")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_prices(values: Mapping[str, Any]) -> None:
    for name in _PRICE_FIELDS:
        price = values.get(name)
        if price is None and name == "cached_input_per_million":
            continue
        if not isinstance(price, (int, float)) or isinstance(price, bool):
            raise PriceError(f"{name} must be a number")
        if not (math.isfinite(price) and 0 <= price <= MAX_PRICE_PER_MILLION):
            raise PriceError(f"{name} must be between 0 and {MAX_PRICE_PER_MILLION:g} USD")


def add_price(session: Session, project_id: str, fields: Mapping[str, Any]) -> ModelPriceRecord:
    """Validate and add a project price (the caller commits): ``model_pattern``, the three
    prices per million tokens, ``effective_from`` (default: now), ``note``."""
    pattern = str(fields.get("model_pattern") or "").strip()
    if not 1 <= len(pattern) <= 200:
        raise PriceError("model_pattern must be 1-200 characters")
    try:
        compile_pattern(pattern)
    except ValueError as exc:
        raise PriceError(str(exc)) from exc
    _check_prices(fields)
    effective = parse_effective_from(fields.get("effective_from") or datetime.now(UTC))
    taken = session.scalars(
        select(ModelPriceRecord).where(
            ModelPriceRecord.project_id == project_id,
            ModelPriceRecord.model_pattern == pattern,
            ModelPriceRecord.effective_from == effective,
        )
    ).first()
    if taken is not None:
        raise PriceError(
            f"a price for {pattern!r} from {effective.isoformat()} exists ({taken.id}); "
            "delete it first or pick another effective_from"
        )
    record = ModelPriceRecord(
        project_id=project_id,
        model_pattern=pattern,
        input_per_million=float(fields["input_per_million"]),
        output_per_million=float(fields["output_per_million"]),
        cached_input_per_million=(
            None
            if fields.get("cached_input_per_million") is None
            else float(fields["cached_input_per_million"])
        ),
        effective_from=effective,
        note=str(fields.get("note") or "")[:500],
    )
    session.add(record)
    session.flush()
    return record


def list_prices(session: Session, project_id: str) -> list[ModelPriceRecord]:
    """The project's prices by pattern, then effective date."""
    query = (
        select(ModelPriceRecord)
        .where(ModelPriceRecord.project_id == project_id)
        .order_by(ModelPriceRecord.model_pattern, ModelPriceRecord.effective_from)
    )
    return list(session.scalars(query))


def find_price(session: Session, project_id: str, price_id: str) -> ModelPriceRecord | None:
    """The project's price with this id, or None (another project's price included)."""
    record = session.get(ModelPriceRecord, price_id)
    return record if record is not None and record.project_id == project_id else None


def as_model_price(record: ModelPriceRecord) -> ModelPrice:
    """The table entry of a stored project price."""
    return ModelPrice(
        pattern=record.model_pattern,
        input_per_million=record.input_per_million,
        output_per_million=record.output_per_million,
        cached_input_per_million=record.cached_input_per_million,
        effective_us=int(record.effective_from.timestamp() * PER_MILLION),
        source="project",
    )


def project_table(session: Session, project_id: str) -> PriceTable:
    """The shipped table with the project's prices in front."""
    own = tuple(as_model_price(r) for r in list_prices(session, project_id))
    return shipped_table().with_project_prices(own) if own else shipped_table()


def price_as_dict(price: ModelPrice) -> dict[str, Any]:
    """A JSON-ready view of a table entry."""
    return {
        "source": price.source,
        "model_pattern": price.pattern,
        "input_per_million": price.input_per_million,
        "output_per_million": price.output_per_million,
        "cached_input_per_million": price.cached_input_per_million,
        "effective_from": datetime.fromtimestamp(price.effective_us / PER_MILLION, UTC).isoformat(),
    }


def record_as_dict(record: ModelPriceRecord) -> dict[str, Any]:
    """A JSON-ready view of a stored project price: its entry, id, note and creation time."""
    return {
        "id": record.id,
        **price_as_dict(as_model_price(record)),
        "note": record.note,
        "created_at": record.created_at.isoformat(),
    }


class ProjectPriceTables:
    """Per-project price tables for ingest, each read again after ``ttl_s`` seconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._clock = clock
        self._tables: dict[str, tuple[float, PriceTable]] = {}
        self._lock = threading.Lock()

    def get(self, project_id: str) -> PriceTable:
        """The project's current table (from the cache while it is fresh)."""
        now = self._clock()
        cached = self._tables.get(project_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        with self._sessions() as session:
            table = project_table(session, project_id)
        with self._lock:
            self._tables[project_id] = (now, table)
        return table

    def forget(self, project_id: str) -> None:
        """Drop a project's cached table (after its prices changed in this process)."""
        with self._lock:
            self._tables.pop(project_id, None)
