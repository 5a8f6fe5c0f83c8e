"""The score tests' project, its client and a stored trace."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.scores.stored_traces import store_trace
from tests.support.api_fixtures import LiveApi, ProjectKeys


@pytest.fixture
def keys(live_api: LiveApi) -> ProjectKeys:
    return live_api.new_project()


@pytest.fixture
def client(live_api: LiveApi, keys: ProjectKeys) -> httpx.Client:
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as http:
        yield http


@pytest.fixture
def trace(live_api: LiveApi, client: httpx.Client) -> list[dict[str, Any]]:
    """A stored three-span trace of the project."""
    return store_trace(live_api, client)
