"""Deterministic checks: JSON validity and schema, regex, contains, length, refusal, PII.

Pass/fail checks score 1.0 (label ``pass``) or 0.0 (``fail``). Detectors (refusal, PII) score
1.0 when they find what they look for (labels ``refusal``/``answer``, ``pii``/``clean``).
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from haloscope.evaluators.base import Evaluator, Outcome
from haloscope.evaluators.pii import PII_KINDS, find_pii
from haloscope.evaluators.registry import register
from haloscope.evaluators.results import EvalInput, Evidence

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


class OutputCheck(Evaluator):
    """A check computed from the output text alone, item by item."""

    binary_labels = ("fail", "pass")

    @abc.abstractmethod
    def check(self, text: str) -> Outcome:
        """The outcome for one output."""

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        return [self.check(item.output) for item in items]


def _verdict(
    passed: bool, reason: str | None = None, evidence: tuple[Evidence, ...] = ()
) -> Outcome:
    return Outcome(1.0 if passed else 0.0, "pass" if passed else "fail", reason, evidence)


def parse_json_output(text: str, allow_code_fence: bool) -> Any:
    """Parse ``text`` as JSON, optionally unwrapping a Markdown code fence first."""
    if allow_code_fence and (fenced := _FENCE.match(text)):
        text = fenced.group(1)
    return json.loads(text)


@dataclass(frozen=True)
class JsonConfig:
    """``allow_code_fence``: accept JSON wrapped in a Markdown ```json fence."""

    allow_code_fence: bool = True


@register
class JsonValid(OutputCheck):
    """The output parses as JSON."""

    name = "json_valid"
    version = "1"
    description = "Output is valid JSON."
    config_class = JsonConfig

    def check(self, text: str) -> Outcome:
        try:
            parse_json_output(text, self.config.allow_code_fence)
        except json.JSONDecodeError as exc:
            error = Evidence("json_error", exc.msg, start=exc.pos, end=exc.pos + 1)
            return _verdict(False, f"invalid JSON: {exc}", (error,))
        return _verdict(True)


@dataclass(frozen=True)
class JsonSchemaConfig:
    """``schema``: a JSON Schema (draft 2020-12) the parsed output must satisfy."""

    schema: Mapping[str, Any]
    allow_code_fence: bool = True

    def __post_init__(self) -> None:
        from jsonschema import Draft202012Validator, SchemaError

        try:
            Draft202012Validator.check_schema(self.schema)
        except SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from exc


@register
class JsonSchemaCheck(OutputCheck):
    """The output is JSON and satisfies a JSON Schema; evidence lists each violation."""

    name = "json_schema"
    version = "1"
    description = "Output is JSON satisfying a JSON Schema."
    config_class = JsonSchemaConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from jsonschema import Draft202012Validator

        self._validator = Draft202012Validator(self.config.schema)

    def check(self, text: str) -> Outcome:
        try:
            document = parse_json_output(text, self.config.allow_code_fence)
        except json.JSONDecodeError as exc:
            return _verdict(False, f"invalid JSON: {exc}")
        errors = schema_violations(self._validator, document)
        if errors:
            return _verdict(False, f"{len(errors)} schema violation(s): {errors[0].text}", errors)
        return _verdict(True)


def schema_violations(validator: Any, document: Any) -> tuple[Evidence, ...]:
    """Each violation of ``document`` against a jsonschema validator, as evidence."""
    return tuple(
        Evidence("schema_error", error.message, reference=error.json_path)
        for error in sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    )


@dataclass(frozen=True)
class RegexConfig:
    """``pattern`` is searched in the output; ``must_match`` False inverts the check."""

    pattern: str
    must_match: bool = True
    ignore_case: bool = False

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {self.pattern!r}: {exc}") from exc


@register
class RegexCheck(OutputCheck):
    """The output contains (or, with ``must_match`` False, does not contain) a regex match."""

    name = "regex"
    version = "1"
    description = "Output matches (or does not match) a regular expression."
    config_class = RegexConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        flags = re.IGNORECASE if self.config.ignore_case else 0
        self._regex = re.compile(self.config.pattern, flags)

    def check(self, text: str) -> Outcome:
        match = self._regex.search(text)
        evidence: tuple[Evidence, ...] = ()
        if match is not None:
            evidence = (Evidence("match", match.group(), start=match.start(), end=match.end()),)
        passed = (match is not None) == self.config.must_match
        reason = None if passed else ("no match" if match is None else "forbidden match found")
        return _verdict(passed, reason, evidence)


@dataclass(frozen=True)
class ContainsConfig:
    """``mode``: the output must contain ``all`` / ``any`` of ``values``, or ``none`` of them."""

    values: tuple[str, ...]
    mode: Literal["all", "any", "none"] = "all"
    case_sensitive: bool = False

    def __post_init__(self) -> None:
        if not self.values or not all(self.values):
            raise ValueError("values must be a non-empty list of non-empty strings")


@register
class ContainsCheck(OutputCheck):
    """Substring checks: contains all/any of the values, or none of them (not-contains)."""

    name = "contains"
    version = "1"
    description = "Output contains all/any/none of the given strings."
    config_class = ContainsConfig

    def check(self, text: str) -> Outcome:
        fold = (lambda s: s) if self.config.case_sensitive else str.casefold
        haystack = fold(text)
        found = [v for v in self.config.values if fold(v) in haystack]
        evidence = tuple(Evidence("found", v) for v in found)
        missing = [v for v in self.config.values if v not in found]
        if self.config.mode == "all":
            return _verdict(not missing, f"missing: {missing}" if missing else None, evidence)
        if self.config.mode == "any":
            return _verdict(bool(found), None if found else "none of the values found", evidence)
        return _verdict(not found, f"forbidden: {found}" if found else None, evidence)


@dataclass(frozen=True)
class LengthConfig:
    """Inclusive bounds on characters and whitespace-separated words; ``None`` = unbounded."""

    min_chars: int | None = None
    max_chars: int | None = None
    min_words: int | None = None
    max_words: int | None = None

    def __post_init__(self) -> None:
        for low, high in ((self.min_chars, self.max_chars), (self.min_words, self.max_words)):
            if any(v is not None and v < 0 for v in (low, high)):
                raise ValueError("length bounds must be >= 0")
            if low is not None and high is not None and low > high:
                raise ValueError(f"minimum {low} exceeds maximum {high}")


@register
class LengthCheck(OutputCheck):
    """The output's length in characters and words lies within bounds."""

    name = "length"
    version = "1"
    description = "Output length (characters, words) within bounds."
    config_class = LengthConfig
    requires = ()

    def check(self, text: str) -> Outcome:
        c = self.config
        sizes = {"chars": len(text), "words": len(text.split())}
        problems = [
            f"{unit} {sizes[unit]} {op} {bound}"
            for unit, low, high in (
                ("chars", c.min_chars, c.max_chars),
                ("words", c.min_words, c.max_words),
            )
            for op, bound in (("<", low), (">", high))
            if bound is not None and (sizes[unit] < bound if op == "<" else sizes[unit] > bound)
        ]
        outcome = _verdict(not problems, "; ".join(problems) or None)
        return Outcome(outcome.score, outcome.label, outcome.reason, metrics=sizes)


_REFUSAL_PHRASES = (
    r"I(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:no|')t|cannot|am unable|won't)",
    r"I (?:can(?:no|')t|cannot|won't|will not|am (?:not able|unable)) (?:help|assist|provide|"
    r"comply|do that|answer|fulfil+|share|support|create|generate|write)",
    r"\bI(?:'m| am) (?:not able|unable) to (?:help|assist|provide|comply|answer)",
    r"\bas an AI(?: language model)?,? I (?:can(?:no|')t|cannot|do not|don't)",
    r"\bI must (?:decline|refuse)\b",
    r"\b(?:this|that) (?:request )?(?:goes against|violates) (?:my|the) "
    r"(?:guidelines|policies|policy)",
)


@dataclass(frozen=True)
class RefusalConfig:
    """``extra_patterns``: more regular expressions that indicate a refusal."""

    extra_patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pattern in self.extra_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc


def refusal_regex(extra_patterns: Sequence[str] = ()) -> re.Pattern[str]:
    """The compiled refusal detector (built-in phrases plus ``extra_patterns``)."""
    return re.compile("|".join((*_REFUSAL_PHRASES, *extra_patterns)), re.IGNORECASE)


@register
class RefusalDetector(OutputCheck):
    """Detects a model refusing to answer (score 1.0, label ``refusal``)."""

    name = "refusal"
    version = "1"
    description = "Detects refusals ('I'm sorry, but I can't help with that')."
    config_class = RefusalConfig
    binary_labels = ("answer", "refusal")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._regex = refusal_regex(self.config.extra_patterns)

    def check(self, text: str) -> Outcome:
        match = self._regex.search(text)
        if match is None:
            return Outcome(0.0, "answer")
        evidence = Evidence("refusal", match.group(), start=match.start(), end=match.end())
        return Outcome(1.0, "refusal", "refusal phrase found", (evidence,))


@dataclass(frozen=True)
class PiiConfig:
    """``kinds``: which PII patterns to look for."""

    kinds: tuple[str, ...] = field(default=PII_KINDS)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(PII_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of {list(PII_KINDS)}")


@register
class PiiDetector(OutputCheck):
    """Detects e-mails, phone numbers and Luhn-valid card numbers (score 1.0, label ``pii``)."""

    name = "pii"
    version = "1"
    description = "Detects PII: e-mail addresses, phone numbers, card numbers (Luhn-checked)."
    config_class = PiiConfig
    binary_labels = ("clean", "pii")

    def check(self, text: str) -> Outcome:
        found = find_pii(text, self.config.kinds)
        if not found:
            return Outcome(0.0, "clean")
        evidence = tuple(Evidence(m.kind, m.text, start=m.start, end=m.end) for m in found)
        kinds = sorted({m.kind for m in found})
        return Outcome(1.0, "pii", f"found {len(found)} PII span(s): {', '.join(kinds)}", evidence)
