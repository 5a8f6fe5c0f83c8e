"""Judge-based evaluators through the real torch engine and the packaged SmolLM2-135M.

The engine is a hard requirement: if it cannot load, these tests fail (no skip).
"""

from __future__ import annotations

import pytest
from haloscope.evaluators import EvalInput, ToolCall, create_evaluator
from haloscope.evaluators.calibration import load_calibration

KNOWLEDGE = ("The Oberoi Group is a hotel company with its head office in Delhi.",)
QUESTION = "The Oberoi family is part of a hotel company that has a head office in what city?"

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
    "required": ["city"],
    "additionalProperties": False,
}


def test_rag_judge_probabilities_labels_and_reasons(judge_resources):
    judge = create_evaluator(
        "hallucination.rag", "1", config={"explain": True}, resources=judge_resources
    )
    results = judge.evaluate(
        [
            EvalInput(input=QUESTION, output="Delhi", contexts=KNOWLEDGE),
            EvalInput(input=QUESTION, output="It is based in Mumbai.", contexts=KNOWLEDGE),
            EvalInput(input=QUESTION, output="Mumbai"),  # no contexts: rejected before the judge
        ]
    )
    for result in results[:2]:
        assert result.error is None
        assert 0 <= result.score <= 1 and 0 <= result.metrics["raw_probability"] <= 1
        assert result.label == ("hallucinated" if result.score >= judge.threshold else "faithful")
        assert result.reason  # generated explanation
        assert (result.evaluator, result.version) == ("hallucination.rag", "1")
    assert results[2].error == "item lacks required field(s): contexts"


def test_stored_calibration_is_applied(judge_resources):
    stored = load_calibration("hallucination.rag", "1")
    assert stored is not None, "run evaluators/training/calibrate_judge.py to produce it"
    calibrated = create_evaluator("hallucination.rag", "1", resources=judge_resources)
    assert calibrated.threshold == stored.threshold
    (result,) = calibrated.evaluate([EvalInput(input=QUESTION, output="Delhi", contexts=KNOWLEDGE)])
    raw = result.metrics["raw_probability"]
    assert result.score == pytest.approx(float(stored.probability(raw)))


def test_tool_schema_violations_are_decided_without_the_judge(judge_resources):
    judge = create_evaluator("hallucination.tool", resources=judge_resources)
    bad_args, not_json, consistent = judge.evaluate(
        [
            EvalInput(
                input="Weather in Oslo?",
                tool=ToolCall("get_weather", {"city": "Oslo", "unit": "K"}, WEATHER_SCHEMA, "3 C"),
            ),
            EvalInput(input="Weather in Oslo?", tool=ToolCall("get_weather", "{city: Oslo}")),
            EvalInput(
                input="Weather in Oslo?",
                output="It is 3 degrees Celsius in Oslo.",
                tool=ToolCall("get_weather", '{"city": "Oslo"}', WEATHER_SCHEMA, '{"temp_c": 3}'),
            ),
        ]
    )
    assert (bad_args.score, bad_args.label) == (1.0, "hallucinated")
    assert bad_args.evidence[0].reference == "$.unit"
    assert not_json.label == "hallucinated" and "not valid JSON" in not_json.reason
    assert consistent.error is None and "raw_probability" in consistent.metrics


def test_faithfulness_with_judge_entailment_and_llm_claims(judge_resources):
    faithfulness = create_evaluator(
        "faithfulness",
        config={"support": "both", "claims": "llm", "max_claim_tokens": 24},
        resources=judge_resources,
    )
    (result,) = faithfulness.evaluate(
        [EvalInput(input=QUESTION, output="The head office is in Delhi.", contexts=KNOWLEDGE)]
    )
    assert result.error is None and result.evidence
    assert all(e.kind == "claim" and 0 <= e.score <= 1 for e in result.evidence)
    assert result.metrics["claims"] == len(result.evidence)
