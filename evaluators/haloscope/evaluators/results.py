"""Typed inputs and result records shared by every evaluator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """A tool invocation to judge: its name, arguments, declared JSON Schema and returned result."""

    name: str
    arguments: Mapping[str, Any] | str
    schema: Mapping[str, Any] | None = None
    result: str | None = None


@dataclass(frozen=True)
class EvalInput:
    """One item to score. Evaluators read the fields they need and reject items missing them.

    ``input`` is the user question or prompt, ``output`` the model's answer, ``contexts`` the
    retrieved passages in rank order, ``reference`` a ground-truth answer, ``tool`` a tool call,
    ``metadata`` the span's or dataset item's metadata (read by custom judges' templates).
    """

    input: str = ""
    output: str = ""
    contexts: tuple[str, ...] = ()
    reference: str | None = None
    tool: ToolCall | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.contexts, str):
            raise TypeError("contexts must be a sequence of passages, not a single string")
        object.__setattr__(self, "contexts", tuple(self.contexts))


@dataclass(frozen=True)
class Evidence:
    """One piece of support for a result: a claim and its best passage, a regex match, an error.

    ``kind`` says what it is (``claim``, ``email``, ``schema_error``...); ``text`` the item's
    own text; ``reference`` what it was matched against (the best passage); ``label`` a verdict
    on this piece (``supported``); ``start``/``end`` a character span in the scored text.
    """

    kind: str
    text: str
    score: float | None = None
    label: str | None = None
    reference: str | None = None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class EvalResult:
    """The outcome of one evaluator on one item.

    ``score`` is in [0, 1] where the evaluator produces one (for hallucination evaluators it is
    the calibrated probability of hallucination); ``label`` the decision; ``latency_ms`` this
    item's share of its batch's wall time. ``error`` is set (score and label ``None``) when the
    item could not be scored; the rest of the batch is unaffected.
    """

    evaluator: str
    version: str
    score: float | None
    label: str | None
    reason: str | None = None
    evidence: tuple[Evidence, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (for storage and the API)."""
        data = asdict(self)
        data["metrics"] = dict(self.metrics)
        return data
