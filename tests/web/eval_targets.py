"""Deterministic targets and a scorer for the compare-page tests: version 2 of the "app"
changes some answers' words (and breaks every third item), HTML included on purpose."""

from __future__ import annotations

from typing import Any


def _number(item: dict[str, Any]) -> int:
    return int(item["id"].rsplit("-", 1)[1])


def answer_v1(item: dict[str, Any]) -> str:
    """The baseline: echoes the question with its answer."""
    return f"<script>alert({_number(item)})</script> The answer to {item['input']} is {item['expected_output']}."


def answer_v2(item: dict[str, Any]) -> str:
    """The candidate: every third item loses its answer, every fifth gains a word."""
    n = _number(item)
    if n % 3 == 0:
        return f"<script>alert({n})</script> The reply to {item['input']} is unknown."
    if n % 5 == 0:
        return f"<script>alert({n})</script> The answer to {item['input']} is surely {item['expected_output']}."
    return answer_v1(item)


def mentions_answer(item: dict[str, Any], output: str, contexts: list[str]) -> bool:
    """Whether the output states the expected answer."""
    return str(item["expected_output"]) in output
