"""The price table: which price applies to a model at a moment, and what a span's tokens cost.

A price names its models by a regular expression matched in full, case-insensitively, against
the model name with any provider prefix (``openai/``) removed. Prices are versioned: each
holds from its ``effective_from`` until the next price of the same pattern. A project's own
prices come before the shipped ones: the shipped table answers only models the project has no
price for at that moment.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

SHIPPED_PRICES = Path(__file__).with_name("default_prices.json")
PER_MILLION = 1_000_000


@dataclass(frozen=True)
class ModelPrice:
    """USD per one million tokens for the models matching ``pattern``, from ``effective_us``
    (epoch microseconds). ``cached_input_per_million`` None bills cached input at the input
    price."""

    pattern: str
    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None
    effective_us: int
    source: str  # "shipped" or "project"

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """USD of one call: cached input tokens (part of the prompt) at the cached price."""
        cached = min(max(cached_tokens, 0), prompt_tokens)
        cached_price = self.cached_input_per_million
        if cached_price is None:
            cached_price = self.input_per_million
        return (
            (prompt_tokens - cached) * self.input_per_million
            + cached * cached_price
            + completion_tokens * self.output_per_million
        ) / PER_MILLION


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled, case-insensitive form of a model pattern; ``ValueError`` says why one is
    not a valid regular expression."""
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        message = f"model_pattern {pattern!r} is not a valid regular expression: {exc}"
        raise ValueError(message) from exc


def model_key(model: str) -> str:
    """The name a pattern is matched against: trimmed, without a provider prefix."""
    return model.strip().rsplit("/", 1)[-1]


@dataclass
class PriceTable:
    """Project prices over the shipped ones; lookups per model name are cached."""

    prices: tuple[ModelPrice, ...]
    _compiled: list[tuple[re.Pattern[str], ModelPrice]] = field(init=False, repr=False)
    _by_model: dict[str, tuple[list[int], list[ModelPrice], list[int], list[ModelPrice]]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._compiled = [(compile_pattern(p.pattern), p) for p in self.prices]

    def __getstate__(self) -> tuple[ModelPrice, ...]:
        return self.prices  # crosses to ingest worker processes without its caches

    def __setstate__(self, prices: tuple[ModelPrice, ...]) -> None:
        self.prices = prices
        self._by_model = {}
        self.__post_init__()

    def price_at(self, model: str, at_us: int) -> ModelPrice | None:
        """The price of ``model`` at ``at_us``, or None when no price covers it."""
        timeline = self._by_model.get(model)
        if timeline is None:
            timeline = self._by_model[model] = self._timeline(model_key(model))
        project_times, project, shipped_times, shipped = timeline
        for times, prices in ((project_times, project), (shipped_times, shipped)):
            index = bisect.bisect_right(times, at_us) - 1
            if index >= 0:
                return prices[index]
        return None

    def _timeline(
        self, key: str
    ) -> tuple[list[int], list[ModelPrice], list[int], list[ModelPrice]]:
        matching = [price for regex, price in self._compiled if regex.fullmatch(key)]
        # At one moment the newest price wins; between prices in effect from the same moment,
        # the longer (more specific) pattern.
        matching.sort(key=lambda p: (p.effective_us, len(p.pattern)))
        project = [p for p in matching if p.source == "project"]
        shipped = [p for p in matching if p.source == "shipped"]
        return (
            [p.effective_us for p in project],
            project,
            [p.effective_us for p in shipped],
            shipped,
        )

    def with_project_prices(self, prices: tuple[ModelPrice, ...]) -> PriceTable:
        """This table with a project's prices added in front."""
        return PriceTable(prices + self.prices)


def day_start_us(day: date | str) -> int:
    """Epoch microseconds of 00:00 UTC on ``day`` (a date or ``YYYY-MM-DD``)."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(moment.timestamp()) * PER_MILLION


@cache
def shipped_table() -> PriceTable:
    """The price table shipped with Haloscope (``default_prices.json``)."""
    document = json.loads(SHIPPED_PRICES.read_text(encoding="utf-8"))
    prices = tuple(
        ModelPrice(
            pattern=entry["pattern"],
            input_per_million=float(entry["input_per_million"]),
            output_per_million=float(entry["output_per_million"]),
            cached_input_per_million=entry.get("cached_input_per_million"),
            effective_us=day_start_us(entry["effective_from"]),
            source="shipped",
        )
        for entry in document["prices"]
    )
    return PriceTable(prices)
