"""Costs of ingested spans from the price table.

A span that arrives with a cost keeps it. One without (cost 0) that names a model and counts
tokens gets the price in effect at its start time, and the metadata key ``COST_SOURCE_KEY``
says the cost came from the price table, so a later price change can recompute it (see
``pricing.repricing``). Cached input tokens are read from the usage attributes instrumentors
send (they are part of the prompt tokens) and billed at the cached-input price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from haloscope.platform.pricing.table import PriceTable
from haloscope.platform.store.base import SPAN_COLUMNS
from haloscope.platform.store.encoding import SpanRow

COST_SOURCE_KEY = "haloscope.cost_source"
PRICE_TABLE = "price_table"
# Metadata keys holding cached prompt tokens, by precedence (OpenInference, OTel GenAI, SDK).
CACHED_TOKEN_KEYS: tuple[str, ...] = (
    "llm.token_count.prompt_details.cache_read",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "cached_prompt_tokens",
)
_COST = SPAN_COLUMNS.index("cost")
_MODEL = SPAN_COLUMNS.index("model")
_START = SPAN_COLUMNS.index("start_time")
_PROMPT = SPAN_COLUMNS.index("prompt_tokens")
_COMPLETION = SPAN_COLUMNS.index("completion_tokens")
_METADATA = SPAN_COLUMNS.index("metadata")
_CACHED_KEYS = frozenset(CACHED_TOKEN_KEYS)


def time_text_us(text: str) -> int:
    """Epoch microseconds of a span row's ``seconds.micros`` time text (six decimals)."""
    return int(text.replace(".", "", 1))


def cached_tokens(metadata: Mapping[str, Any]) -> int:
    """Cached prompt tokens recorded in a span's metadata (0 when none or unreadable)."""
    for key in CACHED_TOKEN_KEYS:
        value = metadata.get(key)
        if value not in (None, ""):
            try:
                return max(int(float(value)), 0)
            except (TypeError, ValueError):
                return 0
    return 0


def price_rows(rows: Iterable[SpanRow], table: PriceTable) -> list[SpanRow]:
    """``rows`` with a cost from ``table`` on each that has none but a model and tokens."""
    price_at = table.price_at
    priced = []
    append = priced.append
    for row in rows:
        if row[_COST] or not row[_MODEL] or not (row[_PROMPT] or row[_COMPLETION]):
            append(row)
            continue
        price = price_at(row[_MODEL], int(row[_START].replace(".", "", 1)))
        if price is None:
            append(row)
            continue
        metadata = row[_METADATA]
        if metadata:
            cached = 0 if _CACHED_KEYS.isdisjoint(metadata) else cached_tokens(metadata)
            marked = {**metadata, COST_SOURCE_KEY: PRICE_TABLE}
        else:
            cached, marked = 0, {COST_SOURCE_KEY: PRICE_TABLE}
        cost = price.cost(row[_PROMPT], row[_COMPLETION], cached)
        append(
            row[:_COST] + (cost,) + row[_COST + 1 : _METADATA] + (marked,) + row[_METADATA + 1 :]
        )
    return priced
