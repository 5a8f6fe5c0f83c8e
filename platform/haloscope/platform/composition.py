"""The composition root: the one module that assembles every component into the served app.

Each component imports only the ones below it (sdk and inference nothing of Haloscope,
evaluators inference, platform evaluators/inference/sdk, web platform); this module alone
may also import the dashboard (``haloscope.web``), because it puts API and dashboard together.
``tests/test_layers.py`` holds every other module to those rules.
"""

from __future__ import annotations

import logging
from typing import Any

from haloscope.platform.config import Settings

log = logging.getLogger(__name__)


def build_app(settings: Settings, *, migrate: bool = False) -> Any:
    """API + dashboard over the configured stores, migrated first if asked; logs which OTLP
    decoder runs."""
    from haloscope.platform.api.app import create_app
    from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
    from haloscope.platform.ingest.otlp_mapping import active_decoder
    from haloscope.platform.store import open_store
    from haloscope.web import mount_dashboard

    if active_decoder() == "python":
        log.warning(
            "OTLP decoder: python (the C fast path is not built: install gcc and python3-dev, "
            "then reinstall); OTLP ingest works at about half the throughput"
        )
    else:
        log.info("OTLP decoder: compiled C fast path")

    if migrate:
        upgrade_database(settings.resolved_database_url)
    store = open_store(settings)
    if migrate:
        store.migrate(cluster=settings.clickhouse_cluster, retention_days=settings.retention_days)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    app = create_app(settings, store=store, sessionmaker=sessions)
    mount_dashboard(app, settings=settings, store=store, sessionmaker=sessions)
    return app
