"""Model price lookup and the cost of LLM spans."""

from __future__ import annotations

import haloscope.sdk as sdk
import pytest
from haloscope.sdk import observe, register_model_price, update_current_span
from haloscope.sdk.pricing import compute_cost, get_model_price


@pytest.mark.parametrize(
    ("model", "known"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("GPT-4o-mini", "gpt-4o-mini"),
        ("openai/gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("gpt-4o-audio-preview", "gpt-4o"),
    ],
)
def test_variants_resolve_to_the_base_model(model, known):
    assert get_model_price(model) == get_model_price(known) is not None


def test_unknown_model_has_no_price():
    assert get_model_price("my-own-model") is None
    assert compute_cost("my-own-model", {"prompt_tokens": 10}) is None


def test_cost_uses_input_and_output_prices():
    price = get_model_price("gpt-4o")
    usage = {"prompt_tokens": 1_000, "completion_tokens": 2_000}
    expected = (1_000 * price.input_per_million + 2_000 * price.output_per_million) / 1e6
    assert compute_cost("gpt-4o-2024-11-20", usage) == pytest.approx(expected)


def test_registration_validates_input():
    with pytest.raises(ValueError):
        register_model_price("", 1, 1)
    with pytest.raises(ValueError):
        register_model_price("x", -1, 1)


def test_llm_span_cost_from_table_and_custom_price(client, ingest_server):
    register_model_price("acme-llm", 2.0, 6.0)

    @observe(as_type="llm")
    def call(model: str, cost: float | None = None) -> None:
        fields = {"model": model, "usage": {"input_tokens": 500, "output_tokens": 250}}
        if cost is not None:
            fields["cost"] = cost
        update_current_span(**fields)

    call("acme-llm-v2")
    call("gpt-4o-mini")
    call("gpt-4o-mini", cost=1.5)
    call("unpriced-model")
    sdk.flush(5)
    costs = [(s["model"], s.get("cost")) for s in ingest_server.spans]
    mini = get_model_price("gpt-4o-mini")
    assert costs[0] == ("acme-llm-v2", pytest.approx((500 * 2.0 + 250 * 6.0) / 1e6))
    assert costs[1][1] == pytest.approx((500 * mini[0] + 250 * mini[1]) / 1e6)
    assert costs[2][1] == 1.5
    assert costs[3] == ("unpriced-model", None)
    assert ingest_server.spans[0]["usage"] == {
        "prompt_tokens": 500,
        "completion_tokens": 250,
        "total_tokens": 750,
    }
