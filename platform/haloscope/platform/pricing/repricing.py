"""Recompute the stored costs that came from the price table after a project's prices change.

The spans considered are the project's spans from ``since_us`` on whose model matches the
changed pattern and whose cost came from the price table or is 0 (a client's own cost is never
touched). Each gets the cost the current table gives it at its start time; the spans whose cost
changes are written again with a newer ``ingested_at`` (the spans table keeps the newest copy of
a span), which also makes the overview rollups recompute the hours they fall in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from haloscope.platform.pricing.project_prices import project_table
from haloscope.platform.pricing.span_costs import (
    CACHED_TOKEN_KEYS,
    COST_SOURCE_KEY,
    PRICE_TABLE,
    cached_tokens,
)
from haloscope.platform.pricing.table import PriceTable, compile_pattern, model_key
from haloscope.platform.store.base import StoreDriver
from sqlalchemy.orm import Session, sessionmaker

CHUNK = 5_000

MODELS_SQL = """
SELECT DISTINCT model FROM spans
WHERE project_id = {project_id:String}
  AND start_time >= fromUnixTimestamp64Micro({since_us:Int64}, 'UTC') AND model != ''
"""

CANDIDATES_SQL = """
SELECT trace_id, span_id, model, toUnixTimestamp64Micro(start_time) AS start_us,
       prompt_tokens, completion_tokens, cost,
       mapFilter((k, v) -> has({cached_keys:Array(String)}, k), metadata) AS usage
FROM spans FINAL
WHERE project_id = {project_id:String}
  AND start_time >= fromUnixTimestamp64Micro({since_us:Int64}, 'UTC')
  AND model IN {models:Array(String)}
  AND prompt_tokens + completion_tokens > 0
  AND (cost = 0 OR metadata[{source_key:String}] = {price_table:String})
"""

REWRITE_SQL = """
INSERT INTO spans
SELECT * REPLACE (
    transform(concat(trace_id, ':', span_id), {keys:Array(String)}, {costs:Array(Float64)},
              cost) AS cost,
    mapUpdate(metadata, map({source_key:String}, {price_table:String})) AS metadata,
    now64(6) AS ingested_at
)
FROM spans FINAL
WHERE project_id = {project_id:String}
  AND start_time >= fromUnixTimestamp64Micro({since_us:Int64}, 'UTC')
  AND concat(trace_id, ':', span_id) IN {keys:Array(String)}
"""


def matching_models(models: Sequence[str], pattern: str) -> list[str]:
    """The model names ``pattern`` matches (as the price table matches them)."""
    regex: re.Pattern[str] = compile_pattern(pattern)
    return [m for m in models if regex.fullmatch(model_key(m))]


def reprice_spans(
    driver: StoreDriver, project_id: str, table: PriceTable, pattern: str, since_us: int
) -> int:
    """Give the project's price-table costs from ``since_us`` on for models matching
    ``pattern`` the value ``table`` gives now; the number of spans whose cost changed."""
    base = {"project_id": project_id, "since_us": since_us}
    models = matching_models([r["model"] for r in driver.query(MODELS_SQL, base)], pattern)
    if not models:
        return 0
    rows = driver.query(
        CANDIDATES_SQL,
        {
            **base,
            "models": models,
            "cached_keys": list(CACHED_TOKEN_KEYS),
            "source_key": COST_SOURCE_KEY,
            "price_table": PRICE_TABLE,
        },
    )
    changed: dict[str, float] = {}
    for row in rows:
        price = table.price_at(row["model"], int(row["start_us"]))
        cost = 0.0
        if price is not None:
            cached = cached_tokens(row["usage"] or {})
            cost = price.cost(int(row["prompt_tokens"]), int(row["completion_tokens"]), cached)
        if abs(cost - float(row["cost"])) > 1e-15:
            changed[f"{row['trace_id']}:{row['span_id']}"] = cost
    keys = list(changed)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        driver.execute(
            REWRITE_SQL,
            {
                **base,
                "keys": chunk,
                "costs": [changed[k] for k in chunk],
                "source_key": COST_SOURCE_KEY,
                "price_table": PRICE_TABLE,
            },
        )
    return len(keys)


def reprice_project(
    driver: StoreDriver,
    sessions: sessionmaker[Session],
    project_id: str,
    pattern: str,
    since_us: int,
) -> int:
    """:func:`reprice_spans` with the project's current price table, read from the metadata
    DB; the number of spans whose cost changed."""
    with sessions() as session:
        table = project_table(session, project_id)
    return reprice_spans(driver, project_id, table, pattern, since_us)
