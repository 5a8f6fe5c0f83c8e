"""Model price table and cost computation (USD per one million tokens).

Prices are the providers' public list prices for standard (non-batch, non-cached)
usage; register your own with :func:`register_model_price` when you pay something
else. Lookup is case-insensitive and tolerant: a provider prefix (``openai/``), a
date or ``-latest`` suffix (``gpt-4o-2024-08-06``, ``claude-3-5-sonnet-20241022``)
and longer variants of a known name fall back to the longest known prefix.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import NamedTuple


class ModelPrice(NamedTuple):
    """USD per one million input (prompt) and output (completion) tokens."""

    input_per_million: float
    output_per_million: float


_DEFAULT_PRICES: dict[str, ModelPrice] = {
    # OpenAI
    "gpt-4o": ModelPrice(2.50, 10.00),
    "gpt-4o-mini": ModelPrice(0.15, 0.60),
    "gpt-4.1": ModelPrice(2.00, 8.00),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60),
    "gpt-4.1-nano": ModelPrice(0.10, 0.40),
    "gpt-4-turbo": ModelPrice(10.00, 30.00),
    "gpt-3.5-turbo": ModelPrice(0.50, 1.50),
    "gpt-5": ModelPrice(1.25, 10.00),
    "gpt-5-mini": ModelPrice(0.25, 2.00),
    "gpt-5-nano": ModelPrice(0.05, 0.40),
    "o1": ModelPrice(15.00, 60.00),
    "o3": ModelPrice(2.00, 8.00),
    "o3-mini": ModelPrice(1.10, 4.40),
    "o3-pro": ModelPrice(20.00, 80.00),
    "o4-mini": ModelPrice(1.10, 4.40),
    "text-embedding-3-small": ModelPrice(0.02, 0.0),
    "text-embedding-3-large": ModelPrice(0.13, 0.0),
    # Anthropic
    "claude-3-haiku": ModelPrice(0.25, 1.25),
    "claude-3-opus": ModelPrice(15.00, 75.00),
    "claude-3-5-haiku": ModelPrice(0.80, 4.00),
    "claude-3-5-sonnet": ModelPrice(3.00, 15.00),
    "claude-3-7-sonnet": ModelPrice(3.00, 15.00),
    "claude-sonnet-4": ModelPrice(3.00, 15.00),
    "claude-sonnet-4-5": ModelPrice(3.00, 15.00),
    "claude-haiku-4-5": ModelPrice(1.00, 5.00),
    "claude-opus-4": ModelPrice(15.00, 75.00),
    "claude-opus-4-1": ModelPrice(15.00, 75.00),
    # Open-weight models at typical hosted prices
    "llama-3.1-8b-instruct": ModelPrice(0.18, 0.18),
    "llama-3.3-70b-instruct": ModelPrice(0.88, 0.88),
    "mistral-small": ModelPrice(0.20, 0.60),
    "mixtral-8x7b-instruct": ModelPrice(0.60, 0.60),
    "deepseek-chat": ModelPrice(0.27, 1.10),
    "deepseek-reasoner": ModelPrice(0.55, 2.19),
    "qwen2.5-72b-instruct": ModelPrice(0.90, 0.90),
}

_SUFFIX = re.compile(r"(-latest|-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})$")

_prices: dict[str, ModelPrice] = dict(_DEFAULT_PRICES)
_resolved: dict[str, ModelPrice | None] = {}
_lock = threading.Lock()


def _normalise(model: str) -> str:
    name = model.strip().lower()
    return name.rsplit("/", 1)[-1]


def register_model_price(model: str, input_per_million: float, output_per_million: float) -> None:
    """Add or replace the price of ``model`` (USD per one million tokens)."""
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model must be a non-empty string")
    if input_per_million < 0 or output_per_million < 0:
        raise ValueError("prices must be non-negative")
    with _lock:
        _prices[_normalise(model)] = ModelPrice(float(input_per_million), float(output_per_million))
        _resolved.clear()


def _resolve(name: str) -> ModelPrice | None:
    while True:
        if name in _prices:
            return _prices[name]
        stripped = _SUFFIX.sub("", name)
        if stripped == name:
            break
        name = stripped
    best = max(
        (known for known in _prices if name.startswith(known) and name[len(known)] in "-:.@"),
        key=len,
        default=None,
    )
    return _prices[best] if best is not None else None


def get_model_price(model: str) -> ModelPrice | None:
    """The price that applies to ``model``, or ``None`` when it is unknown."""
    name = _normalise(model)
    try:
        return _resolved[name]
    except KeyError:
        pass
    with _lock:
        price = _resolve(name)
        _resolved[name] = price
    return price


def compute_cost(model: str, usage: Mapping[str, int]) -> float | None:
    """USD cost of ``usage`` (prompt/completion tokens) on ``model``; ``None`` if unpriced."""
    price = get_model_price(model)
    if price is None:
        return None
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    return (prompt * price.input_per_million + completion * price.output_per_million) / 1e6
