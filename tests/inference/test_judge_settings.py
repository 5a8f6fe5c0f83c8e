"""The judge backend chosen in settings is the engine jobs evaluate with."""

from __future__ import annotations

import pytest
from haloscope.inference.engine import TorchJudgeEngine
from haloscope.inference.openai_backend import OpenAIJudgeEngine
from haloscope.platform.config import ConfigError, load_settings
from haloscope.platform.jobs.runtime import judge_resources

from tests.inference.openai_server import EngineServer

RUBRIC = "You judge answers. Reply Yes if the answer is supported by the knowledge, else No."
ITEM = "Knowledge: Paris is the capital of France.\nAnswer: Paris.\nSupported?"


def test_openai_backend_from_settings_judges_through_the_endpoint(smollm) -> None:
    with EngineServer(smollm) as server:
        settings = load_settings(
            env={
                "HALOSCOPE_JUDGE_BACKEND": "openai",
                "HALOSCOPE_JUDGE_MODEL": "smollm2",
                "HALOSCOPE_JUDGE_BASE_URL": server.base_url,
            }
        )
        engine = judge_resources(settings).engine
        assert isinstance(engine, OpenAIJudgeEngine)
        result = engine.score_choices([engine.chat_prompt(RUBRIC, ITEM)], ["Yes", "No"])
        engine.close()
        assert server.requests == 1
    assert result.scores[0].error is None
    assert sum(result.scores[0].probs.values()) == pytest.approx(1.0)


def test_default_is_the_embedded_torch_engine_on_an_available_device() -> None:
    engine = judge_resources(load_settings(env={})).engine
    assert isinstance(engine, TorchJudgeEngine)
    assert engine.config.device in {"cpu", "cuda"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HALOSCOPE_JUDGE_BACKEND": "llamacpp"}, "use 'torch', 'vllm' or 'openai'"),
        ({"HALOSCOPE_JUDGE_BACKEND": "openai"}, "HALOSCOPE_JUDGE_BASE_URL"),
    ],
)
def test_bad_judge_settings_name_the_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)
