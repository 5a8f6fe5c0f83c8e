"""Trace store: ClickHouse through one small driver interface (chDB embedded or a server)."""

from __future__ import annotations

from haloscope.platform.config import Settings
from haloscope.platform.store.base import StoreDriver, StoreError
from haloscope.platform.store.drivers import open_driver
from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.traces import TracePage, TraceStore


def open_store(settings: Settings) -> TraceStore:
    """The TraceStore on the driver chosen by ``settings.store`` (not migrated)."""
    return TraceStore(open_driver(settings))


__all__ = [
    "StoreDriver",
    "StoreError",
    "TraceFilter",
    "TracePage",
    "TraceStore",
    "open_driver",
    "open_store",
]
