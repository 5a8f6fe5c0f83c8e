"""The objects a running API shares between requests, kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from haloscope.platform.auth.api_keys import ApiKeyVerifier
from haloscope.platform.config import Settings
from haloscope.platform.ingest.conversion import RequestConverter
from haloscope.platform.ingest.writer import SpanWriter
from haloscope.platform.pricing.project_prices import ProjectPriceTables
from haloscope.platform.store import TraceStore


@dataclass(frozen=True)
class ApiContext:
    """Settings, the trace store, the span writer, the ingest request converter, the API-key
    verifier and the projects' price tables of one app."""

    settings: Settings
    store: TraceStore
    writer: SpanWriter
    converter: RequestConverter
    verifier: ApiKeyVerifier
    prices: ProjectPriceTables


def api_context(request: Request) -> ApiContext:
    """FastAPI dependency: the context of the app serving ``request``."""
    return request.app.state.haloscope
