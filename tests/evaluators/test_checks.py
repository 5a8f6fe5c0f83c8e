"""Deterministic checks on hand-made outputs whose verdict is obvious."""

from __future__ import annotations

import pytest
from haloscope.evaluators import ConfigError, EvalInput, create_evaluator
from haloscope.evaluators.pii import find_pii, luhn_valid


def run(name: str, output: str, **config):
    return create_evaluator(name, config=config).evaluate_one(EvalInput(output=output))


def test_json_validity():
    assert run("json_valid", '{"a": [1, 2]}').label == "pass"
    assert run("json_valid", '```json\n{"a": 1}\n```').label == "pass"
    assert run("json_valid", '```json\n{"a": 1}\n```', allow_code_fence=False).label == "fail"
    bad = run("json_valid", '{"a": 1,}')
    assert (bad.score, bad.label) == (0.0, "fail")
    assert bad.evidence[0].kind == "json_error" and bad.evidence[0].start == 8


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
}


def test_json_schema_pass_and_each_violation_as_evidence():
    assert run("json_schema", '{"city": "Oslo", "days": 3}', schema=SCHEMA).label == "pass"
    result = run("json_schema", '{"days": 0}', schema=SCHEMA)
    assert result.label == "fail"
    assert {e.reference for e in result.evidence} == {"$", "$.days"}
    assert run("json_schema", "not json", schema=SCHEMA).reason.startswith("invalid JSON")


def test_invalid_schema_and_regex_are_config_errors():
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        create_evaluator("json_schema", config={"schema": {"type": "nonsense"}})
    with pytest.raises(ConfigError, match="invalid regular expression"):
        create_evaluator("regex", config={"pattern": "(unclosed"})


def test_regex_and_not_regex():
    hit = run("regex", "Order #123 shipped", pattern=r"#\d+")
    assert hit.label == "pass" and hit.evidence[0].text == "#123"
    assert run("regex", "no order", pattern=r"#\d+").label == "fail"
    assert run("regex", "Order #123", pattern=r"#\d+", must_match=False).label == "fail"


def test_contains_modes():
    text = "Refunds take 5 business days via Stripe."
    assert run("contains", text, values=["refunds", "stripe"]).label == "pass"
    assert run("contains", text, values=["refunds", "paypal"]).label == "fail"
    assert run("contains", text, values=["paypal", "stripe"], mode="any").label == "pass"
    assert run("contains", text, values=["paypal"], mode="none").label == "pass"
    assert run("contains", text, values=["Stripe"], mode="none").label == "fail"
    assert run("contains", text, values=["stripe"], case_sensitive=True).label == "fail"


def test_length_bounds():
    assert run("length", "one two three", min_words=2, max_words=3).label == "pass"
    too_long = run("length", "one two three four", max_words=3)
    assert too_long.label == "fail" and "words 4 > 3" in too_long.reason
    assert run("length", "", min_chars=1).label == "fail"
    with pytest.raises(ConfigError, match="exceeds"):
        create_evaluator("length", config={"min_chars": 10, "max_chars": 5})


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that request.",
        "I cannot provide instructions for that.",
        "As an AI language model, I cannot browse the internet.",
    ],
)
def test_refusals_detected(text):
    assert run("refusal", text).label == "refusal"


def test_answers_are_not_refusals():
    assert run("refusal", "Sorry for the delay! The capital of France is Paris.").label == "answer"
    assert run("refusal", "You cannot help but admire the view.").label == "answer"


def test_luhn():
    assert luhn_valid("4111 1111 1111 1111")
    assert luhn_valid("5500-0000-0000-0004")
    assert not luhn_valid("4111 1111 1111 1112")
    assert not luhn_valid("7")


def test_pii_kinds_and_spans():
    text = (
        "Mail jane.doe@example.co.uk or call +44 20 7946 0958 / (415) 555-0132; "
        "card 4111 1111 1111 1111, order 4111 1111 1111 1112, on 2024-01-15."
    )
    found = find_pii(text)
    assert [(m.kind, m.text) for m in found] == [
        ("email", "jane.doe@example.co.uk"),
        ("phone", "+44 20 7946 0958"),
        ("phone", "(415) 555-0132"),
        ("card", "4111 1111 1111 1111"),
    ]
    assert all(text[m.start : m.end] == m.text for m in found)
    result = run("pii", text, kinds=["card"])
    assert result.label == "pii" and [e.kind for e in result.evidence] == ["card"]
    assert run("pii", "Version 2.4.1 shipped on 2024-01-15 to 300 users.").label == "clean"
