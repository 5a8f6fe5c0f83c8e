"""Versioned judge rubrics: the shared instruction (system turn) and the per-item template.

A rubric's text never changes once released: a new wording is a new version, so scores and
calibrations stay comparable within a version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rubric:
    """A judge rubric. ``choices`` are the verdict words scored by the engine; ``positive`` the
    one whose probability the evaluator reports (hallucinated, supported...)."""

    name: str
    version: str
    system: str
    item_template: str
    choices: tuple[str, ...] = ("Yes", "No")
    positive: str = "Yes"

    def render(self, **fields: Any) -> str:
        """The per-item text, with ``fields`` substituted into the template."""
        return self.item_template.format(**fields)


_VERDICT = "Reply with exactly one word: Yes or No."

RAG_HALLUCINATION_V1 = Rubric(
    name="hallucination.rag",
    version="1",
    system=(
        "You are a meticulous fact-checking judge. You read a CONTEXT, a QUESTION and an "
        "ANSWER. The answer is hallucinated if it states anything that the context does not "
        "support, or that contradicts the context. An answer fully backed by the context is "
        f"not hallucinated. Is the answer hallucinated? {_VERDICT}"
    ),
    item_template="CONTEXT:\n{context}\n\nQUESTION: {question}\n\nANSWER: {answer}\n\n"
    "Is the answer hallucinated? Yes or No:",
)

QA_HALLUCINATION_V1 = Rubric(
    name="hallucination.qa",
    version="1",
    system=(
        "You are a meticulous fact-checking judge. You read a QUESTION and an ANSWER. The "
        "answer is hallucinated if it contains false or unverifiable facts, invents names, "
        "numbers or events, or does not answer the question. Is the answer hallucinated? "
        f"{_VERDICT}"
    ),
    item_template="QUESTION: {question}\n\nANSWER: {answer}\n\nIs the answer hallucinated? "
    "Yes or No:",
)

TOOL_HALLUCINATION_V1 = Rubric(
    name="hallucination.tool",
    version="1",
    system=(
        "You are a meticulous judge of tool use. You read a tool's JSON SCHEMA, the ARGUMENTS "
        "a model called it with, the tool's RESULT and the model's ANSWER. The call is "
        "hallucinated if its arguments invent values the request did not give or do not fit "
        "the schema, or if the answer misstates the tool's result. Is the tool call or its "
        f"use hallucinated? {_VERDICT}"
    ),
    item_template="REQUEST: {question}\n\nTOOL: {tool}\nSCHEMA: {schema}\nARGUMENTS: "
    "{arguments}\nRESULT: {result}\n\nANSWER: {answer}\n\nIs it hallucinated? Yes or No:",
)

CLAIM_SUPPORT_V1 = Rubric(
    name="claim_support",
    version="1",
    system=(
        "You check claims against evidence. You read a CONTEXT and a CLAIM. Answer Yes if the "
        "context states or directly implies the claim, No if the context contradicts it or "
        f"does not mention it. {_VERDICT}"
    ),
    item_template="CONTEXT:\n{context}\n\nCLAIM: {claim}\n\nIs the claim supported? Yes or No:",
)

CLAIM_DECOMPOSITION_V1 = Rubric(
    name="claim_decomposition",
    version="1",
    system=(
        "Rewrite the ANSWER to the QUESTION as a list of short, self-contained factual "
        "statements, one per line, each understandable without the others. Output only the "
        "statements."
    ),
    item_template="QUESTION: {question}\nANSWER: {answer}\n\nStatements:\n",
    choices=(),
    positive="",
)

REASON_SUFFIX = "\n\nIn one short sentence, say why."
