"""The OpenAI-compatible backend against a real HTTP server on loopback (our engine behind it)."""

from __future__ import annotations

import math

import pytest
from haloscope.evaluators import EvalInput, Resources
from haloscope.evaluators.custom_judge import CustomJudge, parse_judge_spec
from haloscope.inference import JudgePrompt, SamplingParams, UnsupportedSignalError, load_engine

from tests.inference.openai_server import EngineServer

RUBRIC = "You judge answers. Reply Yes if the answer is supported by the knowledge, else No."
ITEMS = [
    "Knowledge: Paris is the capital of France.\nAnswer: Paris.\nSupported?",
    "Knowledge: The Nile flows through Egypt.\nAnswer: The Nile is in Brazil.\nSupported?",
    "Knowledge: Water boils at 100 C at sea level.\nAnswer: 100 C.\nSupported?",
]


@pytest.mark.parametrize("mode", ["chat", "completions"])
def test_scores_and_generations_match_the_engine_behind_the_server(smollm, mode) -> None:
    local = [smollm.chat_prompt(RUBRIC, item) for item in ITEMS]
    with EngineServer(smollm) as server:
        remote = load_engine("openai", model="smollm2", base_url=server.base_url, mode=mode)
        prompts = [remote.chat_prompt(RUBRIC, item) for item in ITEMS] if mode == "chat" else local
        scores = remote.score_choices(prompts, ["Yes", "No"])
        generated = remote.generate(prompts, SamplingParams(max_tokens=6))
        remote.close()
    expected = smollm.score_choices(local, ["Yes", "No"])
    for got, want in zip(scores.scores, expected.scores, strict=True):
        assert got.error is None
        # The remote side also credits variants such as " Yes" found among the top tokens.
        assert got.probs["Yes"] == pytest.approx(want.probs["Yes"], abs=1e-2)
        assert got.choice_mass >= want.choice_mass - 1e-4
    local_text = smollm.generate(local, SamplingParams(max_tokens=6))
    assert [g.text for g in generated.generations] == [g.text for g in local_text.generations]
    assert all(len(g.logprobs) > 0 for g in generated.generations)
    assert scores.stats.prompt_tokens > 0


def test_retries_concurrency_limit_and_timeouts(smollm) -> None:
    prompts = [smollm.chat_prompt(RUBRIC, item) for item in ITEMS * 2]
    with EngineServer(smollm, fail_first=2, delay_s=0.2) as server:
        remote = load_engine(
            "openai",
            model="m",
            base_url=server.base_url,
            mode="completions",
            concurrency=2,
            max_retries=3,
            backoff_s=0.05,
        )
        result = remote.score_choices(prompts, ["Yes", "No"])
        remote.close()
        assert server.max_in_flight <= 2
        assert server.requests == len(prompts) + 2
    assert all(s.error is None for s in result.scores)
    with EngineServer(smollm, delay_s=1.0) as server:
        impatient = load_engine(
            "openai",
            model="m",
            base_url=server.base_url,
            timeout_s=0.2,
            max_retries=1,
            backoff_s=0.01,
        )
        failed = impatient.score_choices(prompts[:1], ["Yes", "No"])
        impatient.close()
    assert "Timeout" in failed.scores[0].error


def test_continuation_logprobs_from_echoed_prompt_logprobs(smollm) -> None:
    prompts = [
        JudgePrompt("CONTEXT: The Oberoi Group has its head office in Delhi.\n", "ANSWER:\n"),
        JudgePrompt("CONTEXT: The Nile flows through Egypt.\n", "ANSWER:\n"),
    ]
    answers = ["Delhi is the city.", "The Nile is in Brazil."]
    expected = smollm.score_tokens(prompts, answers)
    with EngineServer(smollm) as server:
        remote = load_engine("openai", model="m", base_url=server.base_url, mode="chat")
        result = remote.score_tokens(prompts, answers)
        remote.close()
    for got, want, answer in zip(result.scores, expected.scores, answers, strict=True):
        assert got.error is None
        assert got.tokens == want.tokens and got.offsets == want.offsets
        assert "".join(got.tokens) == answer
        assert got.logprobs == pytest.approx(want.logprobs, abs=2e-3)


def test_continuation_scoring_without_echo_fails_each_item_with_the_reason(smollm) -> None:
    prompt = JudgePrompt("CONTEXT: Paris is in France.\n", "ANSWER:\n")
    with EngineServer(smollm, echo=False) as server:
        remote = load_engine("openai", model="m", base_url=server.base_url, max_retries=0)
        result = remote.score_tokens([prompt, prompt], ["Paris.", "Lyon."])
        remote.close()
    for scores in result.scores:
        assert scores.logprobs == []
        assert "HTTP 400" in scores.error and "echo" in scores.error


def test_hidden_states_are_refused_with_the_backend_that_has_them(smollm) -> None:
    with EngineServer(smollm) as server:
        remote = load_engine("openai", model="m", base_url=server.base_url, max_retries=0)
        prompts = [remote.chat_prompt(RUBRIC, ITEMS[0])]
        with pytest.raises(UnsupportedSignalError, match="openai backend.*torch backend"):
            remote.score_choices(prompts, ["Yes", "No"], hidden_layer=15)
        assert remote.score_choices(prompts, ["Yes", "No"]).scores[0].error is None
        remote.close()


JUDGE = {
    "name": "supported",
    "system": RUBRIC,
    "template": "Knowledge: {{ contexts }}\nAnswer: {{ output }}\nSupported?",
    "choices": ["Yes", "No"],
    "positive": "Yes",
}
JUDGED = [
    EvalInput(output="Paris.", contexts=("Paris is the capital of France.",)),
    EvalInput(output="The Nile is in Brazil.", contexts=("The Nile flows through Egypt.",)),
]


def _credited(top: list[dict[str, object]], choice: str, choices: list[str]) -> float:
    """The probability the server's top tokens put on ``choice`` alone (spelled exactly or
    as its start, and the start of no other choice)."""
    total = 0.0
    for alt in top:
        text = str(alt["token"]).strip()
        owners = [c for c in choices if text and c.startswith(text)]
        if owners == [choice]:
            total += math.exp(float(alt["logprob"]))
    return total


def test_custom_judge_scores_what_the_servers_logprobs_imply(smollm) -> None:
    with EngineServer(smollm) as server:
        remote = load_engine("openai", model="m", base_url=server.base_url, mode="chat")
        judge = CustomJudge(JUDGE, 2, None, Resources(engine=remote))
        results = judge.evaluate(JUDGED)
        remote.close()
    answers = {body["messages"][-1]["content"]: answer for body, answer in server.answered}
    assert len(answers) == len(JUDGED)
    for item, result in zip(JUDGED, results, strict=True):
        assert result.error is None and (result.evaluator, result.version) == (
            "custom:supported",
            "2",
        )
        answer = answers[judge.spec.render(item)]
        top = answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        yes, no = (_credited(top, c, ["Yes", "No"]) for c in ("Yes", "No"))
        assert result.score == pytest.approx(yes / (yes + no), abs=1e-9)
        assert result.metrics["choice_mass"] == pytest.approx(yes + no, abs=1e-9)
        assert result.label == ("Yes" if result.score >= 0.5 else "No")


def test_choices_the_served_model_cannot_tell_apart_fail_every_item_at_first_use(
    smollm,
) -> None:
    # SmolLM2 answers "Yes" here, a token that starts both "Yes" and "Yesterday".
    spec = parse_judge_spec({**JUDGE, "choices": ["Yes", "Yesterday"]}, check_tokens=False)
    with EngineServer(smollm) as server:
        remote = load_engine("openai", model="m", base_url=server.base_url, mode="chat")
        judge = CustomJudge(spec, 1, None, Resources(engine=remote))
        first = judge.evaluate(JUDGED)
        requests = server.requests
        again = judge.evaluate(JUDGED)  # refused from memory: no request is sent
        assert server.requests == requests
        assert (
            remote.score_choices([remote.chat_prompt(RUBRIC, ITEMS[0])], ["Yes", "No"])
            .scores[0]
            .error
            is None
        )
        remote.close()
    for result in first + again:
        assert result.score is None and result.label is None
        assert "['Yes', 'Yesterday'] start with the same token ('Yes')" in result.error
