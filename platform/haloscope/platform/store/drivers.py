"""Choose and open the trace-store driver named by the settings."""

from __future__ import annotations

from haloscope.platform.config import Settings
from haloscope.platform.store.base import StoreDriver


def open_driver(settings: Settings) -> StoreDriver:
    """The ``chdb`` driver on ``settings.chdb_path`` or the ``clickhouse`` driver on
    ``settings.clickhouse_url``, both using ``settings.clickhouse_database``."""
    if settings.store == "chdb":
        from haloscope.platform.store.chdb_driver import ChdbDriver

        return ChdbDriver(settings.chdb_path, settings.clickhouse_database)
    if settings.store == "clickhouse":
        from haloscope.platform.store.clickhouse_driver import ClickHouseDriver

        return ClickHouseDriver(
            settings.clickhouse_url,
            settings.clickhouse_user,
            settings.clickhouse_password,
            settings.clickhouse_database,
        )
    raise ValueError(f"unknown trace store {settings.store!r}: use 'chdb' or 'clickhouse'")
