"""Fixtures of the drop-in tests: the canned OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integrations.canned_openai import CannedOpenAI


@pytest.fixture(scope="module")
def canned_openai() -> Iterator[CannedOpenAI]:
    server = CannedOpenAI()
    yield server
    server.close()
