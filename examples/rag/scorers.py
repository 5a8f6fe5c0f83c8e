"""Custom scorers for the example gate config: ``(item, output, contexts) -> score``."""

from __future__ import annotations

import re
from typing import Any

_WORD = re.compile(r"[a-z0-9$]+")


def mentions_expected(item: dict[str, Any], output: str, contexts: list[str]) -> bool:
    """Whether the answer states the expected fact (case-insensitive substring)."""
    return str(item["expected_output"]).lower() in output.lower()


def grounded_words(item: dict[str, Any], output: str, contexts: list[str]) -> float:
    """Share of the answer's words that appear in the retrieved passages."""
    words = _WORD.findall(output.lower())
    if not words:
        return 0.0
    vocabulary = set(_WORD.findall(" ".join(contexts).lower()))
    return sum(word in vocabulary for word in words) / len(words)
