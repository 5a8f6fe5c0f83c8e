"""A deterministic RAG assistant: word-overlap retrieval, extractive answers, no model calls.

``answer`` is the production version. ``answer_truncated_index`` has a deliberate bug (its
index was built from the first half of the documents only): the eval gate must catch it.
Each target takes a dataset item and returns ``{"output": ..., "contexts": [...]}``.
"""

from __future__ import annotations

import re
from typing import Any

from examples.rag.knowledge import passages

_WORD = re.compile(r"[a-z0-9$]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "on",
        "per",
        "is",
        "are",
        "does",
        "do",
        "how",
        "much",
        "what",
        "which",
        "who",
        "many",
        "get",
        "through",
        "in",
        "to",
        "for",
    ]
)
TOP_K = 2


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def retrieve(question: str, index: list[str], k: int = TOP_K) -> list[str]:
    """The ``k`` passages sharing the most terms with the question (ties: index order)."""
    terms = _terms(question)
    ranked = sorted(enumerate(index), key=lambda p: (-len(terms & _terms(p[1])), p[0]))
    return [text for _, text in ranked[:k] if terms & _terms(text)]


def generate(question: str, contexts: list[str]) -> str:
    """The best-matching passage as the answer, or a refusal when nothing matched."""
    if not contexts:
        return "I'm sorry, I don't know the answer to that."
    return contexts[0]


def _answer(item: dict[str, Any], index: list[str]) -> dict[str, Any]:
    contexts = retrieve(str(item["input"]), index)
    return {"output": generate(str(item["input"]), contexts), "contexts": contexts}


def answer(item: dict[str, Any]) -> dict[str, Any]:
    """The production assistant."""
    return _answer(item, passages())


def answer_truncated_index(item: dict[str, Any]) -> dict[str, Any]:
    """The regressed assistant: its index lost the second half of the documents."""
    docs = passages()
    return _answer(item, docs[: len(docs) // 2])
