"""The OpenAI-compatible backend against a real HTTP server on loopback (our engine behind it)."""

from __future__ import annotations

import pytest
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
