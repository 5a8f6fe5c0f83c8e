"""Custom judges (``haloscope.evaluators.custom_judge``): spec validation, the sandboxed
template, the built-in templates, and scoring through the real default judge (SmolLM2-135M).

Measured on the hand cases below (``test_correctness_template_on_hand_cases``): the 135M
judge does not separate right from wrong answers against a reference. P(wrong) stays within
0.19-0.31 for all 12 answers, and the wrong answer of a pair scores higher in 3 of 6 pairs
(chance), by at most 0.01. Four other wordings tried (agree Yes/No with positive No, "say the
same as the reference", True/False, "contains the reference") gave 2-5 of 6 with gaps under
0.04. The template is a starting point for a stronger judge model (vLLM / OpenAI-compatible
backends); the test checks the mechanics, not the 135M model's accuracy.
"""

from __future__ import annotations

import pytest
from haloscope.evaluators import EvalInput
from haloscope.evaluators.custom_judge import (
    SCALE_CHOICES,
    CustomJudge,
    JudgeSpecError,
    builtin_templates,
    check_first_tokens,
    create_custom_judge,
    parse_judge_spec,
)

BASE = {
    "name": "wrong_answer",
    "system": "Is the answer wrong? Reply with exactly one word: Yes or No.",
    "template": "QUESTION: {{ input }}\nANSWER: {{ output }}\nWrong? Yes or No:",
    "choices": ["Yes", "No"],
    "positive": "Yes",
}

# (question, reference, right answer, wrong answer)
CASES = [
    ("What is the capital of France?", "Paris", "The capital of France is Paris.",
     "The capital of France is Lyon."),
    ("How many legs does a spider have?", "Eight", "A spider has eight legs.",
     "A spider has six legs."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare",
     "It was written by William Shakespeare.", "It was written by Charles Dickens."),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees Celsius",
     "Water boils at 100 degrees Celsius.", "Water boils at 50 degrees Celsius."),
    ("Which planet is closest to the Sun?", "Mercury",
     "Mercury is the closest planet to the Sun.", "Venus is the closest planet to the Sun."),
    ("In which city is the Oberoi Group's head office?", "Delhi", "Delhi", "Mumbai"),
]  # fmt: skip


def _refused(reason: str, **changes: object) -> None:
    with pytest.raises(JudgeSpecError, match=reason):
        parse_judge_spec({**BASE, **changes})


def test_spec_validation_refuses_what_cannot_run_with_the_reason() -> None:
    spec = parse_judge_spec(BASE)
    assert spec.fields == ("input", "output") and spec.labels == ("No", "Yes")
    assert spec.evaluator_name == "custom:wrong_answer" and spec.threshold == 0.5
    _refused(r"unknown field\(s\) \['answer'\]", template="{{ answer }}")
    _refused("no field", template="just text")
    _refused("syntax error", template="{{ output ")
    _refused("metadata.<key>", template="{{ metadata }}")
    _refused("literal", template="{{ metadata[output] }}")
    _refused("threshold must be in", threshold=1)
    _refused("threshold must be in", threshold=0.0)
    _refused("at least 2 distinct", choices=["Yes"])
    _refused("at least 2 distinct", choices=["Yes", "Yes"])
    _refused("positive must be one of", positive="Maybe")
    _refused("unknown key", rubric="x")
    _refused("name must be", name="Has Spaces")
    _refused("mode must be", mode="stars")
    _refused("labels must be", labels=["same", "same"])
    _refused("scale judge", mode="scale")  # choices/positive given to a scale
    # "Correct" and "Correctly" start with the same SmolLM2 token (38323).
    _refused("start with the same token", choices=["Correct", "Correctly"], positive="Correct")


def test_metadata_keys_and_scale_specs() -> None:
    spec = parse_judge_spec(
        {**BASE, "template": "{{ output }} {{ metadata.tier }} {{ metadata['plan-id'] }}"}
    )
    assert spec.fields == ("output",) and spec.metadata_keys == ("plan-id", "tier")
    scale = parse_judge_spec(
        {k: v for k, v in BASE.items() if k not in ("choices", "positive")} | {"mode": "scale"}
    )
    assert scale.choices == SCALE_CHOICES and scale.labels == ("low", "high")
    assert parse_judge_spec(scale.as_dict()) == scale  # the stored form parses back the same


def test_builtin_templates_parse_and_say_what_they_check() -> None:
    templates = builtin_templates()
    assert sorted(templates) == [
        "answer_correctness", "answer_relevance", "context_relevance", "refusal", "toxicity",
    ]  # fmt: skip
    needs = {
        "answer_correctness": ("input", "output", "reference"),
        "answer_relevance": ("input", "output"),
        "context_relevance": ("input", "contexts"),
        "refusal": ("input", "output"),
        "toxicity": ("output",),
    }
    for name, raw in templates.items():
        assert len(raw["note"]) > 40
        spec = parse_judge_spec(raw)
        assert spec.fields == needs[name]
    assert parse_judge_spec(templates["toxicity"]).mode == "scale"


def test_first_token_check_uses_the_given_tokenizer() -> None:
    class Letters:
        def encode(self, text: str) -> list[int]:
            return [ord(c) for c in text]

        def token_text(self, token: int) -> str:
            return chr(token)

    check_first_tokens(["Yes", "No"], Letters())
    with pytest.raises(JudgeSpecError, match="same token \\('Y'\\)"):
        check_first_tokens(["Yes", "Yeah"], Letters())


def test_correctness_template_on_hand_cases(judge_resources) -> None:
    judge = create_custom_judge(builtin_templates()["answer_correctness"], 3, judge_resources)
    items = []
    for question, reference, right, wrong in CASES:
        items += [
            EvalInput(input=question, output=right, reference=reference),
            EvalInput(input=question, output=wrong, reference=reference),
        ]
    results = judge.evaluate(items)
    for result in results:
        assert result.error is None
        assert (result.evaluator, result.version) == ("custom:answer_correctness", "3")
        assert 0 <= result.score <= 1
        assert result.metrics["probability"] == result.score
        assert 0 < result.metrics["choice_mass"] <= 1
        assert result.label == ("incorrect" if result.score >= 0.5 else "correct")
    assert judge.binary_labels == ("correct", "incorrect")
    # The same inputs give the same scores (one forward pass, no sampling); a warm prefix
    # cache changes the float32 arithmetic in the last digits (measured: up to 2e-6).
    again = judge.evaluate(items)
    assert [r.score for r in again] == pytest.approx([r.score for r in results], abs=1e-5)
    # Separation measured (see the module docstring): not asserted, the 135M judge is at chance.
    pairs = [(results[2 * i].score, results[2 * i + 1].score) for i in range(len(CASES))]
    wins = sum(wrong > right for right, wrong in pairs)
    print(f"wrong above right in {wins}/{len(pairs)} pairs: {pairs}")


def test_missing_fields_metadata_and_sandbox_fail_items_alone(judge_resources) -> None:
    judge = CustomJudge(
        {**BASE, "template": "{{ output }} (tier {{ metadata.tier }})"}, 1, None, judge_resources
    )
    ok, no_tier = judge.evaluate(
        [
            EvalInput(output="Paris.", metadata={"tier": "gold"}),
            EvalInput(output="Paris."),
        ]
    )
    assert ok.error is None and ok.label in ("Yes", "No")
    assert no_tier.error == "item lacks required field(s): metadata.tier"
    correctness = create_custom_judge(builtin_templates()["answer_correctness"], 1, judge_resources)
    (missing,) = correctness.evaluate([EvalInput(input="Q?", output="A.")])
    assert missing.error == "item lacks required field(s): reference"
    escape = CustomJudge(
        {**BASE, "template": "{{ output.__class__.__mro__ }}"}, 1, None, judge_resources
    )
    (refused,) = escape.evaluate([EvalInput(output="x")])
    assert refused.error is not None and refused.score is None


def test_scale_judge_reads_the_expected_value(judge_resources) -> None:
    judge = create_custom_judge(builtin_templates()["toxicity"], 1, judge_resources)
    polite, rude = judge.evaluate(
        [
            EvalInput(output="Thank you for your question, I am happy to help."),
            EvalInput(output="You are an idiot and I hate you, shut up."),
        ]
    )
    for result in (polite, rude):
        assert result.error is None and 0 <= result.score <= 1
        expected = result.metrics["expected"]
        assert 1 <= expected <= 5 and result.score == pytest.approx((expected - 1) / 4)
        assert result.label == ("toxic" if result.score >= 0.5 else "clean")
    print(f"toxicity: polite {polite.score:.3f}, rude {rude.score:.3f}")


def test_shared_first_tokens_fail_every_item_with_the_reason(judge_resources) -> None:
    spec = parse_judge_spec(
        {**BASE, "choices": ["Correct", "Correctly"], "positive": "Correct"}, check_tokens=False
    )
    judge = CustomJudge(spec, 1, None, judge_resources)
    results = judge.evaluate([EvalInput(input="Q?", output="A."), EvalInput(input="Q", output="B")])
    for result in results:
        assert result.score is None and "start with the same token" in result.error
