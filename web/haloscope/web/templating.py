"""The Jinja2 environment of the dashboard and its display filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def format_duration(micros: int | float | None) -> str:
    """A duration in µs as ``850 µs``, ``12.3 ms`` or ``4.56 s``."""
    if micros is None:
        return "–"
    if micros < 1000:
        return f"{micros:.0f} µs"
    if micros < 1_000_000:
        return f"{micros / 1000:.1f} ms"
    return f"{micros / 1_000_000:.2f} s"


def format_timestamp(micros: int | None) -> str:
    """Epoch µs as ``2025-01-31 12:00:00`` (UTC)."""
    if micros is None:
        return "–"
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_cost(value: float | None) -> str:
    """US dollars with enough digits for sub-cent LLM costs."""
    if not value:
        return "$0"
    return f"${value:,.2f}" if value >= 1 else f"${value:.6f}".rstrip("0")


def format_number(value: int | float | None) -> str:
    """Thousands separators; floats with two decimals."""
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def format_percent(value: float | None) -> str:
    """A ratio in [0, 1] as a percentage."""
    return "–" if value is None else f"{value * 100:.1f}%"


def pretty_json(value: Any) -> str:
    """A JSON value indented for reading (strings shown as they are)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


TEMPLATES.env.filters.update(
    duration=format_duration,
    timestamp=format_timestamp,
    cost=format_cost,
    number=format_number,
    percent=format_percent,
    pretty_json=pretty_json,
)
