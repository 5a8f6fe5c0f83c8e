"""The demo app's spans, as the sampler reads them: a question, an answer and passages, and
nothing a real app would not record (no answer key the judge could read)."""

from __future__ import annotations

from collections.abc import Iterator

import haloscope.sdk as sdk
import orjson
import pytest
from haloscope.platform.demo.knowledge import QUESTIONS
from haloscope.platform.demo.seed import run_simulation
from haloscope.platform.jobs.span_inputs import eval_input

from tests.sdk.conftest import PUBLIC_KEY, SECRET_KEY, RecordingIngestServer


@pytest.fixture
def recorded() -> Iterator[RecordingIngestServer]:
    server = RecordingIngestServer()
    sdk.init(server.url, PUBLIC_KEY, SECRET_KEY, flush_interval=0.05)
    try:
        yield server
    finally:
        sdk.shutdown(timeout=2.0)
        server.close()


def test_demo_llm_spans_carry_the_question_and_passages_but_no_answer_key(
    recorded: RecordingIngestServer,
) -> None:
    simulation = run_simulation(traces_per_day=15, days=3, seed=3)
    sdk.flush(timeout=5.0)
    spans = recorded.spans
    by_trace: dict[str, list[str]] = {}
    for span in spans:
        if span["kind"] == "retrieval":
            by_trace.setdefault(span["trace_id"], []).append(orjson.dumps(span["documents"]))
    questions = {q.text: q for q in QUESTIONS}
    answers = wrong = 0
    for span in spans:
        if span["kind"] != "llm" or span["status"] == "error":
            continue
        item = eval_input(
            {"input": orjson.dumps(span["input"]).decode(), "output": orjson.dumps(span["output"])},
            [d.decode() for d in by_trace[span["trace_id"]]],
        )
        question = questions[item.input]  # the evaluator's input is the bare question
        assert item.output in (question.faithful, question.hallucinated)
        assert span["input"]["question"] == item.input
        assert question.hallucinated not in str(span["input"])
        assert item.contexts
        answers += 1
        wrong += item.output == question.hallucinated
    assert (answers, wrong) == (simulation.answers, simulation.contradicting)
    assert answers > 0
