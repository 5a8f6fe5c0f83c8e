"""The registry, config validation and the result records."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from haloscope.evaluators import (
    ConfigError,
    EvalInput,
    Evaluator,
    Outcome,
    UnknownEvaluatorError,
    create_evaluator,
    evaluator_class,
    list_evaluators,
    quality,
    register,
)
from haloscope.evaluators.quality import QualityCard, SliceCard, SliceFigures
from haloscope.evaluators.registry import default_version


def test_every_required_evaluator_is_registered_with_a_schema():
    names = {spec.name for spec in list_evaluators()}
    assert {
        "hallucination.rag",
        "hallucination.qa",
        "hallucination.tool",
        "faithfulness",
        "answer_relevancy",
        "context_relevance",
        "context_precision",
        "context_recall",
        "json_valid",
        "json_schema",
        "regex",
        "contains",
        "length",
        "refusal",
        "pii",
    } <= names
    spec = next(s for s in list_evaluators() if s.name == "contains")
    assert spec.config_schema["required"] == ["values"]
    assert spec.config_schema["properties"]["mode"]["enum"] == ["all", "any", "none"]


@dataclass(frozen=True)
class _Prefix:
    prefix: str = "a"


@register
class _StartsWithV2(Evaluator):
    name = "test.starts_with"
    version = "2"
    description = "test"
    config_class = _Prefix

    def score_batch(self, items):
        return [Outcome(float(i.output.startswith(self.config.prefix)), None) for i in items]


@register
class _StartsWithV10(_StartsWithV2):
    version = "10"


def test_versions_resolve_numerically_and_unknowns_are_clear():
    assert evaluator_class("test.starts_with") is _StartsWithV10
    assert evaluator_class("test.starts_with", "2") is _StartsWithV2
    with pytest.raises(UnknownEvaluatorError, match="available: 2, 10"):
        evaluator_class("test.starts_with", "3")
    with pytest.raises(UnknownEvaluatorError, match="unknown evaluator 'nope'"):
        create_evaluator("nope")
    with pytest.raises(ValueError, match="already registered"):
        register(type("Clash", (_StartsWithV2,), {}))


def _card(version: str, aurocs: dict[str, float]) -> QualityCard:
    def figures(auroc: float) -> SliceFigures:
        return SliceFigures(0.9, auroc, 0.8, 0.85, 0.5)

    slices = {name: SliceCard("d.jsonl", "0" * 64, 10, figures(a)) for name, a in aurocs.items()}
    return QualityCard("test.starts_with", version, slices)


def test_a_version_measured_unreliable_is_never_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "CARD_DIR", tmp_path)
    _card("10", {"qa": 0.95, "dialogue": 0.59}).save()
    _card("2", {"qa": 0.8, "dialogue": 0.7}).save()
    assert default_version("test.starts_with") == "2"
    assert evaluator_class("test.starts_with") is _StartsWithV2
    assert create_evaluator("test.starts_with", config={"prefix": "a"}).version == "2"
    assert evaluator_class("test.starts_with", "10") is _StartsWithV10  # still there by name
    specs = {s.version: s for s in list_evaluators() if s.name == "test.starts_with"}
    assert specs["10"].unreliable and not specs["10"].default
    assert specs["2"].default and not specs["2"].unreliable
    assert specs["2"].quality == QualityCard.from_dict(
        json.loads((tmp_path / "test.starts_with-2.json").read_text())
    )
    _card("2", {"qa": 0.5}).save()  # every version unreliable: the newest stays the default
    assert default_version("test.starts_with") == "10"


def test_config_errors_name_the_evaluator_and_key():
    with pytest.raises(ConfigError, match=r"contains@1: unknown config key\(s\) valuez"):
        create_evaluator("contains", config={"valuez": ["a"]})
    with pytest.raises(ConfigError, match=r"config 'mode': 'some' is not one of"):
        create_evaluator("contains", config={"values": ["a"], "mode": "some"})
    with pytest.raises(ConfigError, match="expected int or null, got str"):
        create_evaluator("length", config={"max_chars": "10"})
    with pytest.raises(ConfigError, match="missing 1 required"):
        create_evaluator("contains", config={})
    assert (
        create_evaluator("faithfulness", config={"support_threshold": 1}).config.support_threshold
        == 1.0
    )


def test_batch_results_carry_identity_latency_and_per_item_errors():
    evaluator = create_evaluator("test.starts_with", "2", config={"prefix": "x"})
    results = evaluator.evaluate(
        [EvalInput(output="xyz"), EvalInput(output=""), EvalInput(output="abc")]
    )
    assert [r.score for r in results] == [1.0, None, 0.0]
    assert results[1].error == "item lacks required field(s): output"
    assert all((r.evaluator, r.version) == ("test.starts_with", "2") for r in results)
    assert all(r.latency_ms >= 0 for r in results)
    assert json.loads(json.dumps(results[0].as_dict()))["evaluator"] == "test.starts_with"


def test_contexts_must_be_a_sequence_of_passages():
    with pytest.raises(TypeError, match="not a single string"):
        EvalInput(output="a", contexts="one passage")
