"""Storing a trace through the ingest API, for the score tests."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson

from tests.api.spans import rag_trace
from tests.support.api_fixtures import LiveApi


def store_trace(live_api: LiveApi, client: httpx.Client) -> list[dict[str, Any]]:
    """Ingest a new three-span RAG trace with ``client``'s key and wait until it is stored."""
    spans = rag_trace()
    body = gzip.compress(orjson.dumps({"sdk": {"name": "tests"}, "spans": spans}))
    response = client.post(
        "/api/v1/ingest",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    live_api.flush()
    return spans
