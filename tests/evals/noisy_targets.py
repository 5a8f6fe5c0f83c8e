"""Targets for the gate tests: the example assistant with small, realistic noise."""

from __future__ import annotations

import time
import zlib
from typing import Any

from examples.rag.app import answer


def answer_with_noise(item: dict[str, Any]) -> dict[str, Any]:
    """A quarter of the answers gain a sign-off word; one item is refused outright."""
    result = answer(item)
    if item["id"] == "team-seats":
        return {"output": "I'm sorry, I can't help with that.", "contexts": result["contexts"]}
    if zlib.crc32(item["id"].encode()) % 4 == 0:
        result["output"] += " Cheers."
    return result


def slow_answer(item: dict[str, Any]) -> dict[str, Any]:
    """The example assistant taking 0.1 s per item (a run whose progress can be watched)."""
    time.sleep(0.1)
    return answer(item)
