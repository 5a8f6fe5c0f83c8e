"""Shared models for the evaluator tests: the packaged MiniLM embedder and SmolLM2 engine."""

from __future__ import annotations

import pytest
from haloscope.evaluators import Resources
from haloscope.evaluators.embeddings import Embedder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 from its PyPI package (fails, not skips, when absent)."""
    return Embedder.default(device="cpu")


@pytest.fixture(scope="session")
def judge_resources(embedder: Embedder) -> Resources:
    """The real default judge engine (torch backend, packaged SmolLM2-135M-Instruct)."""
    from haloscope.inference import load_engine

    return Resources(engine=load_engine("torch"), embedder=embedder)
