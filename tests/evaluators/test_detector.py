"""The default hallucination detector (``hallucination.rag@2``) through the real torch engine,
the packaged SmolLM2 and its shipped verdict head, on answers whose verdict is known."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from haloscope.evaluators import EvalInput, Resources, create_evaluator
from haloscope.evaluators.hallucination import render_item
from haloscope.evaluators.hallucination_detector import (
    EXTRA_FEATURES,
    head_features,
    judge_states,
)
from haloscope.evaluators.verdict_head import head_path, load_head
from haloscope.inference import load_engine

from tests.inference.openai_server import EngineServer

PASSAGES = (
    "The Eiffel Tower was completed in 1889 in Paris for the World's Fair.",
    "Mount Everest is 8,849 metres tall, the highest mountain above sea level.",
)
FAITHFUL = [
    ("When was the Eiffel Tower completed?", "The Eiffel Tower was completed in 1889 in Paris."),
    ("How tall is Everest?", "Mount Everest is 8,849 metres tall."),
    ("Where is the Eiffel Tower?", "It is in Paris."),
]
WRONG = [
    ("How tall is Everest?", "Everest is 9,100 metres tall."),
    ("When was the Eiffel Tower completed?", "The Eiffel Tower was completed in 1925 in Rome."),
    ("Where is the Eiffel Tower?", "The Eiffel Tower stands in London, next to Big Ben."),
]


@pytest.fixture(scope="module")
def detector(judge_resources: Resources):
    return create_evaluator("hallucination.rag", resources=judge_resources)


def _items(cases: list[tuple[str, str]]) -> list[EvalInput]:
    return [EvalInput(input=q, output=a, contexts=PASSAGES) for q, a in cases]


def test_the_default_version_is_the_head_detector(detector) -> None:
    assert detector.version == "2"
    assert detector.head.meta["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_faithful_answers_pass_and_contradicting_ones_are_flagged(detector) -> None:
    faithful = detector.evaluate(_items(FAITHFUL))
    wrong = detector.evaluate(_items(WRONG))
    assert [r.label for r in faithful] == ["faithful"] * len(FAITHFUL)
    assert [r.label for r in wrong] == ["hallucinated"] * len(WRONG)
    assert max(r.score for r in faithful) < min(r.score for r in wrong)
    for result in faithful + wrong:
        assert result.error is None and result.metrics["head"] == 1.0
        assert result.metrics["threshold"] == detector.head.threshold
    assert len({round(r.score, 6) for r in faithful + wrong}) == len(faithful + wrong)


def test_evidence_names_the_unsupported_claim_and_the_passage_it_contradicts(detector) -> None:
    (result,) = detector.evaluate(
        [
            EvalInput(
                input="Tell me about the tower and the mountain.",
                output="The Eiffel Tower was completed in 1889 in Paris. "
                "Mount Everest is 5,200 metres tall.",
                contexts=PASSAGES,
            )
        ]
    )
    assert result.label == "hallucinated"
    tower, mountain = result.evidence
    assert (tower.label, mountain.label) == ("supported", "unsupported")
    assert tower.reference == PASSAGES[0] and mountain.reference == PASSAGES[1]
    assert mountain.score > tower.score
    assert "Mount Everest is 5,200 metres tall." in result.reason
    assert result.metrics["claims"] == 2


def test_items_without_contexts_fail_alone(detector) -> None:
    results = detector.evaluate(
        [EvalInput(input="Q", output="An answer."), _items(FAITHFUL[:1])[0]]
    )
    assert results[0].error == "item lacks required field(s): contexts"
    assert results[1].label == "faithful"


def test_the_head_reads_the_states_and_features_it_was_trained_on(judge_resources) -> None:
    head = load_head("hallucination.rag", "2")
    assert head_path("hallucination.rag", "2").exists()
    checks = [
        EvalInput(input="How tall?", output="It is 8,849 m.", contexts=(PASSAGES[1],)),
        EvalInput(input="How tall?", output="It is 9,100 m.", contexts=(PASSAGES[1],)),
    ]
    texts = [render_item(c, c.output) for c in checks]
    states, errors = judge_states(judge_resources.engine, texts, head.layer)
    features = head_features(states, checks)
    assert errors == [None, None] and features.shape == (2, head.weights.shape[0])
    assert head.extra_features == EXTRA_FEATURES == ("unsupported_number",)
    assert features[:, -1].tolist() == [0.0, 1.0]  # 9,100 is not in the passage
    assert head.meta["data_sha256"] and head.meta["model_sha256"] and head.meta["seed"] == 0


def test_a_backend_without_hidden_states_falls_back_to_the_judge_verdict(judge_resources) -> None:
    with EngineServer(judge_resources.engine) as server:
        remote = load_engine(
            "openai", model="smollm2", base_url=server.base_url, mode="completions"
        )
        detector = create_evaluator("hallucination.rag", resources=Resources(engine=remote))
        results = detector.evaluate(_items(FAITHFUL[:1] + WRONG[:1]))
        remote.close()
    for result in results:
        assert result.error is None and result.metrics["head"] == 0.0
        assert result.metrics["threshold"] == 0.5
        assert "no trained head" in result.reason


CONCURRENT_JUDGING = """
import json, threading
from haloscope.evaluators import EvalInput, Resources, create_evaluator
passages = ("The Oberoi Group is a hotel company with its head office in Delhi.",)
items = [EvalInput(input="Where is the head office?", output=a, contexts=passages)
         for a in ("Delhi", "It is in Mumbai.", "The head office is in Delhi.") * 4]
resources = Resources()  # nothing loaded yet: every thread races to load the models
results, errors = [], []
def judge(name):
    try:
        results.extend(create_evaluator(name, resources=resources).evaluate(items))
    except Exception as exc:  # a failure must reach the test, not vanish in a thread
        errors.append(repr(exc))
threads = [threading.Thread(target=judge, args=(n,)) for n in
           ("hallucination.rag", "faithfulness", "hallucination.rag", "faithfulness")]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"results": len(results), "failed": [r.error for r in results if r.error],
                  "errors": errors}))
"""


def test_concurrent_judge_batches_in_a_fresh_process_fail_no_item() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CONCURRENT_JUDGING],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"results": 48, "failed": [], "errors": []}
