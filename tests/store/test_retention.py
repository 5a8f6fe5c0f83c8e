"""Retention: the ``retention_days`` column, its default following the setting, and the TTL
that deletes expired spans and scores (real chDB, TTL applied by ``OPTIMIZE ... FINAL``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from haloscope.platform.config import Settings
from haloscope.platform.store import StoreDriver, TraceStore, open_driver
from haloscope.platform.store.migrate import (
    RETENTION_TABLES,
    MigrationError,
    apply_retention_default,
    load_migrations,
    migrate,
    migrations_dir,
)

from tests.store.spans import DAY_US, span_row

PROJECT = "retention-project"
RETENTION_VERSION = 4  # 0004_retention.sql


@pytest.fixture
def fresh_chdb_driver(chdb_settings: Settings) -> Iterator[StoreDriver]:
    """A chDB driver on a database nobody else uses."""
    driver = open_driver(chdb_settings.replace(clickhouse_database=f"r_{uuid.uuid4().hex}"))
    yield driver
    driver.close()


def _days_ago(days: int) -> int:
    return int(time.time() * 1_000_000) - days * DAY_US


def _span(span_id: str, age_days: int) -> dict[str, object]:
    start = _days_ago(age_days)
    return span_row(PROJECT, f"trace-{span_id}", span_id, start_time=start, end_time=start + 1000)


def _score(span_id: str, age_days: int) -> dict[str, object]:
    return {
        "project_id": PROJECT,
        "trace_id": f"trace-{span_id}",
        "span_id": span_id,
        "timestamp": _days_ago(age_days),
        "name": "hallucination",
        "value": 0.5,
    }


def _insert_span_with_retention(
    driver: StoreDriver, span_id: str, age_days: int, retention_days: int
) -> None:
    driver.execute(
        "INSERT INTO spans (project_id, trace_id, span_id, name, kind, start_time, end_time, "
        "retention_days) VALUES ({project:String}, {trace:String}, {span:String}, 'span', "
        "'span', fromUnixTimestamp64Micro({start:Int64}), fromUnixTimestamp64Micro({start:Int64}),"
        " {days:UInt16})",
        {
            "project": PROJECT,
            "trace": f"trace-{span_id}",
            "span": span_id,
            "start": _days_ago(age_days),
            "days": retention_days,
        },
    )


def _column_defaults(driver: StoreDriver) -> dict[str, str]:
    rows = driver.query(
        "SELECT table, default_expression FROM system.columns "
        "WHERE database = currentDatabase() AND name = 'retention_days'"
    )
    return {r["table"]: r["default_expression"] for r in rows}


def _apply_ttl(driver: StoreDriver) -> None:
    for table in RETENTION_TABLES:
        driver.execute(f"OPTIMIZE TABLE {table} FINAL")


def _ids(driver: StoreDriver, table: str) -> set[str]:
    return {r["span_id"] for r in driver.query(f"SELECT span_id FROM {table} FINAL")}


def test_stored_rows_expire_after_upgrade_and_rows_within_retention_stay(
    fresh_chdb_driver: StoreDriver, tmp_path: Path
) -> None:
    driver = fresh_chdb_driver
    for migration in load_migrations(migrations_dir()):
        if migration.version < RETENTION_VERSION:
            (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    migrate(driver, tmp_path)
    store = TraceStore(driver)
    store.insert_spans([_span("old", 40), _span("recent", 10), _span("ancient", 400)])
    store.insert_scores([_score("old", 40), _score("recent", 10)])
    assert _ids(driver, "spans") == {"old", "recent", "ancient"}

    migrate(driver, retention_days=30)
    # Rows with their own retention (a per-project value set at ingest) override the default.
    _insert_span_with_retention(driver, "forever", 400, retention_days=0)
    _insert_span_with_retention(driver, "long", 400, retention_days=500)
    _apply_ttl(driver)

    assert _ids(driver, "spans") == {"recent", "forever", "long"}
    assert _ids(driver, "scores") == {"recent"}


def test_zero_retention_keeps_everything(fresh_chdb_driver: StoreDriver) -> None:
    driver = fresh_chdb_driver
    migrate(driver, retention_days=0)
    store = TraceStore(driver)
    store.insert_spans([_span("ancient", 3650)])
    store.insert_scores([_score("ancient", 3650)])
    _apply_ttl(driver)
    assert _ids(driver, "spans") == {"ancient"}
    assert _ids(driver, "scores") == {"ancient"}


def test_column_default_follows_the_setting(fresh_chdb_driver: StoreDriver) -> None:
    driver = fresh_chdb_driver
    migrate(driver)
    assert _column_defaults(driver) == {"spans": "0", "scores": "0"}
    migrate(driver, retention_days=30)
    assert _column_defaults(driver) == {"spans": "30", "scores": "30"}
    assert apply_retention_default(driver, 30) == []
    assert apply_retention_default(driver, 7) == ["scores", "spans"]
    migrate(driver)  # no retention given: the default is left as it is
    TraceStore(driver).insert_spans([_span("new", 1)])
    stored = driver.query("SELECT retention_days FROM spans WHERE span_id = 'new'")
    assert stored == [{"retention_days": 7}]


@pytest.mark.parametrize("days", [-1, 65536])
def test_out_of_range_retention_is_refused(fresh_chdb_driver: StoreDriver, days: int) -> None:
    with pytest.raises(MigrationError, match=f"retention_days={days}"):
        migrate(fresh_chdb_driver, retention_days=days)
