"""The price table: which price a model gets at a moment, and span costs at ingest."""

from __future__ import annotations

import pytest
from haloscope.platform.pricing.span_costs import COST_SOURCE_KEY, PRICE_TABLE, price_rows
from haloscope.platform.pricing.table import ModelPrice, day_start_us, shipped_table
from haloscope.platform.store.encoding import row_dict, span_row


def _project_price(pattern: str, inp: float, out: float, day: str) -> ModelPrice:
    return ModelPrice(pattern, inp, out, None, day_start_us(day), "project")


def _llm_row(model: str, day: str, prompt: int, completion: int, **extra: object) -> tuple:
    start = day_start_us(day) + 3_600_000_000
    return span_row(
        {
            "project_id": "p",
            "trace_id": "a" * 32,
            "span_id": "b" * 16,
            "name": "chat",
            "kind": "llm",
            "start_time": start,
            "end_time": start + 1000,
            "model": model,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            **extra,
        }
    )


def test_shipped_prices_match_names_with_provider_prefix_and_date_suffix() -> None:
    table = shipped_table()
    at = day_start_us("2026-01-01")
    for model in ("gpt-4o-mini", "openai/gpt-4o-mini", "GPT-4o-mini-2024-07-18"):
        price = table.price_at(model, at)
        assert price is not None and (price.input_per_million, price.output_per_million) == (
            0.15,
            0.60,
        )
    # gpt-4o's pattern does not swallow its longer sibling, nor an unknown model.
    assert table.price_at("gpt-4o-2024-08-06", at).input_per_million == 2.50
    assert table.price_at("gpt-4o-mini-realtime", at) is None
    assert table.price_at("acme-llm", at) is None


def test_prices_are_versioned_by_effective_date() -> None:
    table = shipped_table()
    # o3's list price was cut from 10/40 to 2/8 USD per million tokens on 2025-06-10.
    before = table.price_at("o3", day_start_us("2025-06-09"))
    after = table.price_at("o3-2025-04-16", day_start_us("2025-06-10"))
    assert (before.input_per_million, before.output_per_million) == (10.0, 40.0)
    assert (after.input_per_million, after.output_per_million) == (2.0, 8.0)
    assert table.price_at("o3", day_start_us("2025-01-01")) is None  # before its release


def test_project_prices_come_before_shipped_ones_from_their_date() -> None:
    table = shipped_table().with_project_prices(
        (_project_price("gpt-4o-mini.*", 0.10, 0.20, "2026-03-01"),)
    )
    assert table.price_at("gpt-4o-mini", day_start_us("2026-02-28")).input_per_million == 0.15
    assert table.price_at("gpt-4o-mini", day_start_us("2026-03-01")).input_per_million == 0.10


def test_cost_bills_cached_prompt_tokens_at_the_cached_price() -> None:
    price = shipped_table().price_at("gpt-4o-mini", day_start_us("2026-01-01"))
    assert price.cost(1_000_000, 0) == pytest.approx(0.15)
    assert price.cost(1_000_000, 1_000_000, cached_tokens=400_000) == pytest.approx(
        0.6 * 0.15 + 0.4 * 0.075 + 0.60
    )
    no_cached = ModelPrice("x", 1.0, 2.0, None, 0, "project")
    assert no_cached.cost(1_000_000, 0, cached_tokens=500_000) == pytest.approx(1.0)


def test_price_rows_prices_only_spans_without_a_cost() -> None:
    table = shipped_table()
    rows = [
        _llm_row("gpt-4o-mini", "2026-01-01", 1000, 500),
        _llm_row("gpt-4o-mini", "2026-01-01", 1000, 500, cost=0.5),  # the client's own cost
        _llm_row("acme-llm", "2026-01-01", 1000, 500),  # no price
        _llm_row("gpt-4o-mini", "2026-01-01", 0, 0),  # no tokens
        _llm_row(
            "gpt-4o-mini",
            "2026-01-01",
            1000,
            0,
            metadata={"llm.token_count.prompt_details.cache_read": "1000"},
        ),
    ]
    priced = [row_dict(r) for r in price_rows(rows, table)]
    assert priced[0]["cost"] == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    assert priced[0]["metadata"] == {COST_SOURCE_KEY: PRICE_TABLE}
    assert priced[1]["cost"] == 0.5 and COST_SOURCE_KEY not in priced[1]["metadata"]
    assert priced[2]["cost"] == 0 and priced[3]["cost"] == 0
    assert priced[4]["cost"] == pytest.approx(1000 * 0.075 / 1e6)


def test_table_survives_pickling_for_ingest_workers() -> None:
    import pickle

    table = shipped_table().with_project_prices(
        (_project_price("acme-.*", 1.0, 2.0, "2026-01-01"),)
    )
    table.price_at("acme-llm", day_start_us("2026-02-01"))  # fills the cache
    copy = pickle.loads(pickle.dumps(table))
    assert copy.price_at("acme-llm", day_start_us("2026-02-01")).output_per_million == 2.0
